"""Start-up checks: the database and the port, each failure one line that says what to do.

    from superoffice_emulator.server.preflight import StartupError, check_database, listen

    try:
        check_database(settings)                # SQLite file, PostgreSQL server, driver, schema
        sock = listen("127.0.0.1", 8080)        # bound and listening, or a StartupError
    except StartupError as exc:
        print(f"Error: {exc}")                  # e.g. "Cannot listen on 127.0.0.1:8080: ..."

Every check runs before the server says it listens, so a failure never follows a "listening"
line. A :class:`StartupError` carries its cause (``__cause__``) for a debug log; its message
is ours and one line, whatever the driver said.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    from superoffice_emulator.settings import Settings
    from superoffice_emulator.storage.database import Database
    from superoffice_emulator.storage.fixtures import Fixtures

SQLITE_HEADER = b"SQLite format 3\x00"


OTHER_ADDRESS = "Choose another address with --host or another port with --port."


class StartupError(Exception):
    """The emulator cannot start (or a command cannot run); the message says what to do.

    The advice names settings by their options (``--port``); :meth:`advice` names them as the
    user gave them instead (``EMULATOR_PORT``, ``make run PORT=...``).
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # always one line

    def advice(self, spelled: Mapping[str, str]) -> str:
        """The message with each option in ``spelled`` (``{"--port": "EMULATOR_PORT"}``) replaced."""
        return _OPTION.sub(lambda found: spelled.get(found.group(), found.group()), str(self))


_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z]")


# -- the database -------------------------------------------------------------------------------
def shown_url(url: str | URL) -> str:
    """``url`` as it may be shown: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL (relative to the working directory), ``None`` for anything else."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).absolute()


def check_sqlite_file(url: str, *, must_exist: bool) -> None:
    """The SQLite file of ``url`` can be opened (or created): its directory, its kind, its header."""
    path = sqlite_path(url)
    if path is None:
        return
    where = f"Cannot open the database {shown_url(url)}:"
    other = "or name another database with --database-url"
    if not path.exists():
        if must_exist:
            raise StartupError(
                f"There is no database at {path}. Start the server or run init-db to create one, {other}."
            )
        if not path.parent.is_dir():
            raise StartupError(
                f"{where} the directory {path.parent} does not exist."
                f" Create it (mkdir -p {path.parent}) {other}."
            )
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise StartupError(
                f"{where} the directory {path.parent} is not writable. Make it writable {other}."
            )
        return
    if path.is_dir():
        raise StartupError(f"{where} {path} is a directory, not a SQLite file. Name a file in it, {other}.")
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StartupError(
            f"{where} {path} cannot be read ({exc.strerror}). Fix its permissions {other}."
        ) from exc
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
        raise StartupError(
            f"{where} {path} or its directory is read-only (SQLite writes its -wal and -shm files beside"
            f" it). Make both writable {other}."
        )
    if header and header != SQLITE_HEADER:
        raise _damaged(url, path)


def _damaged(url: str, path: Path) -> StartupError:
    return StartupError(
        f"Cannot open the database {shown_url(url)}: {path} is not a SQLite database, or it is damaged."
        " Move it away (the server creates a new one) or name another database with --database-url."
    )


def open_database(url: str, fixtures: Fixtures, *, journal_size: int = 1000, create: bool = True) -> Database:
    """The checked database at ``url``: with its schema created, or (``create=False``) one that exists.

    ``create=False`` never creates a file, a table or a tenant: it is for commands that only
    read or change an existing database. Raises :class:`StartupError`.
    """
    from superoffice_emulator.storage.database import Database
    from superoffice_emulator.storage.schema import tenant

    check_sqlite_file(url, must_exist=not create)
    try:
        database = Database(url, fixtures, journal_size=journal_size)
    except ImportError as exc:
        raise _missing_driver(url, exc) from exc
    try:
        if create:
            database.create_schema()
        elif not _has_table(database, tenant.name):
            raise StartupError(
                f"{shown_url(url)} holds no emulator data (no {tenant.name} table). Start the server or"
                " run init-db to create it, or name another database with --database-url."
            )
        _quick_check(database, url)
    except BaseException as exc:
        database.dispose()
        if isinstance(exc, StartupError):
            raise
        if isinstance(exc, Exception) and _is_database_error(exc):
            raise _database_failure(url, exc) from exc
        raise
    return database


def check_database(settings: Settings) -> Fixtures:
    """Open ``settings``' database once (creating what is missing), check it, close it; its fixtures."""
    from superoffice_emulator.storage.fixtures import load_fixtures

    fixtures = load_fixtures(settings.fixtures)
    open_database(settings.database_url, fixtures, journal_size=settings.journal_size).dispose()
    if sqlite_path(settings.database_url) is not None:
        from superoffice_emulator.storage import sqlite

        if (warning := sqlite.warning()) is not None:
            logging.getLogger("emulator").warning(warning)
    return fixtures


def _has_table(database: Database, name: str) -> bool:
    from sqlalchemy import inspect

    return inspect(database.engine).has_table(name)


def _quick_check(database: Database, url: str) -> None:
    """SQLite's ``PRAGMA quick_check``: a damaged page is found now, not by the first call on it.

    It reads the whole file: about 0.5 s for a million activities, milliseconds for the demo data.
    """
    path = sqlite_path(url)
    if path is None:
        return
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql("PRAGMA quick_check(1)").all()
    if [tuple(row) for row in rows] != [("ok",)]:
        raise _damaged(url, path)


def _is_database_error(exc: Exception) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    from superoffice_emulator.storage.database import StorageError

    return isinstance(exc, SQLAlchemyError | StorageError)


def _database_failure(url: str, exc: Exception) -> StartupError:
    """What a failure to open the database at ``url`` means, by the driver's exception class."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from superoffice_emulator.storage.sqlite import driver

    cause: BaseException = (exc.orig if isinstance(exc, DBAPIError) else None) or exc.__cause__ or exc
    reason = _first_line(cause)
    path = sqlite_path(url)
    if path is not None:
        if isinstance(cause, driver.DatabaseError) and not isinstance(cause, driver.OperationalError):
            return _damaged(url, path)
        return StartupError(
            f"Cannot open the database {shown_url(url)} ({reason}). Check that {path} and its directory"
            " can be read and written, or name another database with --database-url."
        )
    if make_url(url).get_backend_name() == "postgresql" and isinstance(exc, OperationalError):
        return StartupError(
            f"Cannot reach the PostgreSQL database {shown_url(url)} ({reason}). Check that the server runs"
            " and accepts connections there, and the URL's user, password and database name."
        )
    return StartupError(
        f"Cannot use the database {shown_url(url)} ({reason}). Check the URL and the user's rights,"
        " or name another database with --database-url."
    )


def _missing_driver(url: str, exc: ImportError) -> StartupError:
    module = (exc.name or "").partition(".")[0]
    if module == "psycopg":
        return StartupError(
            f"The database {shown_url(url)} needs psycopg 3, which is not installed."
            " Install it: pip install 'superoffice-emulator[postgres]'."
        )
    return StartupError(
        f"The database {shown_url(url)} needs the Python package {module or 'of its driver'}, which is not"
        " installed. Install it, or use postgresql+psycopg://... after"
        " pip install 'superoffice-emulator[postgres]'."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- the port -----------------------------------------------------------------------------------
def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (0: a free port) and listening; :class:`StartupError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP)[0][4]
    except (socket.gaierror, UnicodeError) as exc:
        raise StartupError(
            f"Cannot listen on {host}: the host name does not resolve. Use an address of this machine as"
            " --host, such as 127.0.0.1 (this machine only) or 0.0.0.0 (every network)."
        ) from exc
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: a restart rebinds
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise _bind_failure(host, port, exc) from exc
    return sock


def check_port(host: str, port: int) -> int:
    """The port a server will be able to bind on ``host`` (a free one for 0); :class:`StartupError`."""
    with listen(host, port) as sock:
        return int(sock.getsockname()[1])


def _bind_failure(host: str, port: int, exc: OSError) -> StartupError:
    where = f"Cannot listen on {host}:{port}:"
    if exc.errno == errno.EADDRINUSE:
        return StartupError(
            f"{where} the port is in use by another program. Stop that program, or choose another port"
            " with --port (0 picks a free one)."
        )
    if exc.errno == errno.EACCES:
        return StartupError(
            f"{where} this user may not use that port (ports below 1024 need privileges). Choose a port"
            " above 1023 with --port, such as 8080."
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return StartupError(
            f"{where} {host} is not an address of this machine. Use 127.0.0.1 (this machine only),"
            " 0.0.0.0 (every network) or one of this machine's addresses as --host."
        )
    return StartupError(f"{where} {exc.strerror or exc}. {OTHER_ADDRESS}")
