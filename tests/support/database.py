"""The test's own database: a SQLite file, or a PostgreSQL database standing in for it.

The database is a SQLite file unless ``EMULATOR_TEST_POSTGRES_URL`` names a PostgreSQL server
(``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, a user allowed to create databases):
then :func:`database_url` makes a database of its own there for each test's file, and
``read_row``, ``query`` and ``snapshot`` read that database. ``tests/conftest.py`` drops them.
"""

from __future__ import annotations

import os
import uuid
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from superoffice_emulator.storage.database import postgres_url
from superoffice_emulator.storage.sqlite import driver as sqlite3  # the library the app in this process uses

POSTGRES_URL: str | None = os.environ.get("EMULATOR_TEST_POSTGRES_URL") or None
"""The PostgreSQL server the suite runs against (an administrative database on it), or None."""

_postgres_databases: dict[Path, str] = {}
"""A test's ``db_path`` (or other file) → the URL of the PostgreSQL database standing in for it."""
_admin_engine: Engine | None = None


def _admin() -> Engine:
    """An AUTOCOMMIT engine on ``EMULATOR_TEST_POSTGRES_URL`` (CREATE/DROP DATABASE need it)."""
    global _admin_engine
    if _admin_engine is None:
        assert POSTGRES_URL is not None
        _admin_engine = create_engine(postgres_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    return _admin_engine


def _create_postgres_database(path: Path) -> str:
    """Create an empty database on the PostgreSQL server for ``path``; its URL."""
    name = f"emulator_test_{uuid.uuid4().hex[:16]}"
    with _admin().connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = postgres_url(POSTGRES_URL or "").set(database=name).render_as_string(hide_password=False)
    _postgres_databases[path] = url
    return url


def drop_database(path: Path) -> None:
    """Drop the PostgreSQL database standing in for ``path``, if :func:`database_url` made one."""
    url = _postgres_databases.pop(path, None)
    if url is None:
        return
    name = make_url(url).database
    with _admin().connect() as connection:  # FORCE: whatever a test left connected goes too
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(path: Path) -> str:
    """The database URL for a test's own database file ``path``, instead of ``f"sqlite:///{path}"``.

    ``sqlite:///<path>``; or, with ``EMULATOR_TEST_POSTGRES_URL``, a PostgreSQL database standing
    in for that file: created empty on the first call for ``path``, the same one on every later
    call (like the file), read by ``read_row(path, ...)``, ``snapshot(path)`` and ``query(path,
    ...)``, and dropped after the test when ``path`` is in the test's ``tmp_path``, else (a
    ``tmp_path_factory`` path of a wider fixture) when the session ends.
    """
    if POSTGRES_URL is None:
        return f"sqlite:///{path}"
    path = Path(path)
    return _postgres_databases.get(path) or _create_postgres_database(path)


def _as_sqlite(value: Any) -> Any:
    """A value as Python's sqlite3 reads it from the emulator's SQLite file (SQLAlchemy's storage
    format), so a test asserts the same thing on both backends."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def _read(db_path: Path, sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of ``sql`` on the test's database, through a connection of its own."""
    url = _postgres_databases.get(Path(db_path))
    if url is None:
        with closing(sqlite3.connect(db_path)) as lite, lite:
            cursor = lite.execute(sql, params)
            rows = cursor.fetchall()
            names = [d[0] for d in cursor.description or ()]
        lite.close()
        return names, rows
    reader = create_engine(url, poolclass=NullPool)  # not the app's engine, nor its pool
    try:
        with reader.connect() as connection:
            result = connection.execute(text(sql), params)
            return list(result.keys()), [tuple(_as_sqlite(v) for v in row) for row in result]
    finally:
        reader.dispose()


def query(db_path: Path, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``:name`` parameters), read straight from the test's database (not
    through the emulator): the SQLite file, or the PostgreSQL database standing in for it."""
    return _read(db_path, sql, params)[1]


def query_dicts(db_path: Path, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Like :func:`query`, each row a dict by column name."""
    names, rows = _read(db_path, sql, params)
    return [dict(zip(names, row, strict=True)) for row in rows]


def read_row(db_path: Path, kind: str, activity_id: int, tenant: str = "default") -> dict[str, Any]:
    """One activity row, read straight from the test's database (not through the emulator)."""
    names, rows = _read(
        db_path,
        f"SELECT * FROM {kind} WHERE tenant = :tenant AND {kind}_id = :id",
        {"tenant": tenant, "id": activity_id},
    )
    where = _postgres_databases.get(Path(db_path), str(db_path))
    assert rows, f"{kind}_id={activity_id} is not in {where}"
    return dict(zip(names, rows[0], strict=True))


def snapshot(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every activity row of the test's database, to prove that nothing changed."""
    return {
        kind: query(db_path, f"SELECT * FROM {kind} ORDER BY tenant, {kind}_id")
        for kind in ("appointment", "sale", "document", "todo")
    }


def drop_databases_under(folder: Path) -> None:
    """Drop the PostgreSQL databases :func:`database_url` made for files below ``folder``."""
    for path in [p for p in _postgres_databases if p.is_relative_to(folder)]:
        drop_database(path)


def drop_all() -> None:
    """Drop every PostgreSQL database :func:`database_url` made, and close the server's engine."""
    global _admin_engine
    for path in list(_postgres_databases):
        drop_database(path)
    if _admin_engine is not None:
        _admin_engine.dispose()
        _admin_engine = None
