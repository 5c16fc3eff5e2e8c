"""The engine and the connections: SQLite's and PostgreSQL's settings, and the calls' connections.

SQLite (the default) runs in WAL mode with a busy timeout and foreign keys, and every write transaction
starts with ``BEGIN IMMEDIATE`` (see :mod:`superoffice_emulator.storage.transactions`). PostgreSQL
(``postgresql+psycopg://user:password@host/dbname``, psycopg 3) runs in READ COMMITTED with a lock
timeout like SQLite's busy timeout.
"""

from __future__ import annotations

import collections
import logging
import os
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import PoolProxiedConnection

from superoffice_emulator.storage import sqlite
from superoffice_emulator.storage.checkpoints import NO_AUTOCHECKPOINT
from superoffice_emulator.storage.sql import dialect_named

log = logging.getLogger("superoffice_emulator.storage")

READ_ONLY = "emulator_read_only"
"""The execution option of a connection that only reads (SQLite: no ``BEGIN IMMEDIATE``)."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_LOCK_TIMEOUT_MS = SQLITE_BUSY_TIMEOUT_MS
"""How long a PostgreSQL transaction waits for a lock (a tenant's, a row's) before it fails."""


def postgres_url(url: str | URL) -> URL:
    """``url`` with the psycopg 3 driver when it names none (a bare ``postgresql://`` means psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE.

    PostgreSQL gets psycopg 3 (also for a bare ``postgresql://``), READ COMMITTED, a lock timeout
    like SQLite's busy timeout, and a connection check before each use, so a shared server that
    restarted costs one failed ping, not a failed call.
    """
    parsed = make_url(url)
    backend = dialect_named(parsed.get_backend_name()).name
    if backend == "postgresql":
        parsed = postgres_url(parsed)
        connect_args: dict[str, Any] = {}
        if parsed.drivername == "postgresql+psycopg" and "application_name" not in parsed.query:
            connect_args["application_name"] = "superoffice-emulator"
        pg_engine = create_engine(
            parsed, pool_pre_ping=True, isolation_level="READ COMMITTED", connect_args=connect_args
        )

        @event.listens_for(pg_engine, "connect")
        def _on_pg_connect(dbapi_connection: Any, _record: Any) -> None:
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True  # a session setting, outside any transaction
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET lock_timeout = {POSTGRES_LOCK_TIMEOUT_MS}")
            cursor.close()
            dbapi_connection.autocommit = autocommit

        return pg_engine
    engine = create_engine(url, module=sqlite.driver, connect_args={"check_same_thread": False})
    in_memory = parsed.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        # the timeout first: switching to WAL needs a lock another connection may hold
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # a read (READ_ONLY) takes no write lock: a deferred BEGIN, for one consistent snapshot
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def is_sqlite_file(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


class ReusedConnections:
    """SQLite files: the calls' DB-API connections, kept between calls outside the engine's pool,
    which costs more per checkout than the rest of a transaction's set-up.

    These connections come from the engine (so they get its ``connect`` settings), are detached
    from its pool, and are handed out last in, first out; at most ``keep`` wait idle. Only for
    SQLite files: PostgreSQL keeps the pool's check of a connection before each use, and an
    in-memory SQLite database exists once per pool connection.
    """

    def __init__(self, engine: Engine, keep: int = 8, *, checkpoint: bool = False) -> None:
        """``checkpoint``: the connections checkpoint as SQLite does by default (no thread does)."""
        self._engine = engine
        self._keep = keep
        self._checkpoint = checkpoint
        self._idle: collections.deque[PoolProxiedConnection] = collections.deque()

    def take(self) -> PoolProxiedConnection:
        try:
            return self._idle.pop()  # atomic: no lock needed
        except IndexError:
            connection = self._engine.raw_connection()
            connection.detach()
            if not self._checkpoint:
                cursor = connection.cursor()
                cursor.execute(NO_AUTOCHECKPOINT)  # the calls never checkpoint: a thread does
                cursor.close()
            return connection

    def give_back(self, connection: PoolProxiedConnection, *, broken: bool) -> None:
        if broken or len(self._idle) >= self._keep:
            connection.close()
        else:
            self._idle.append(connection)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class DatabaseFileGone(Exception):
    """The SQLite file was deleted or replaced while the emulator had it open."""


class FileWatch:
    """A SQLite file's identity (device and inode), checked before every transaction.

    A file deleted while serving would take writes on the connections still open to it, all lost
    at the next start; a file put in its place is another database. Either makes every
    transaction fail (:class:`DatabaseFileGone`), and the log says which, once.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None
        self._reported = False

    def remember(self) -> None:
        """Take the file's identity as it is now (after the schema was created)."""
        stat = os.stat(self.path)
        self._identity = (stat.st_dev, stat.st_ino)

    def check(self) -> None:
        if self._identity is None:
            return
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._fail(f"the database file {self.path} was deleted while the emulator had it open")
            return
        if (stat.st_dev, stat.st_ino) != self._identity:
            self._fail(
                f"the database file {self.path} was replaced by another file while the emulator had it open"
            )

    def _fail(self, what: str) -> None:
        if not self._reported:
            self._reported = True
            log.error("%s: every call fails until the emulator is restarted", what)
        raise DatabaseFileGone(what)
