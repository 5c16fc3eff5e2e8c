"""Shared fixtures: a fresh database per test, the app in-process, a live server, a movable clock.

The database is a SQLite file (``db_path``) unless ``EMULATOR_TEST_POSTGRES_URL`` names a
PostgreSQL server (``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, a user allowed to
create databases): then every test gets a database of its own there, created empty and dropped
after it, and ``read_row(db_path, ...)`` and ``snapshot(db_path)`` read that database. Tests
that are about the SQLite file itself carry ``@pytest.mark.sqlite_only("why")`` and are skipped.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from werkzeug.test import Client

from emulator.app import EmulatorApp, create_app
from emulator.settings import Settings
from emulator.storage.database import postgres_url
from emulator.testing import LiveServer

DATA = Path(__file__).parent / "data"
APPOINTMENT = "/Remote/Services86/Appointment.svc"
SOPRINCIPAL = "/Remote/Services86/SoPrincipal.svc"
DEMO_TICKET = "7T:1234abcxyzExample=="
SAM_TICKET = "7T:U2FtU2FsZXNyZXBUaWNrZXQ="
RITA_TICKET = "7T:Uml0YVJlYWRvbmx5VGlja2V0"
TOKEN = "1234567-1234-9876"


class FakeClock:
    """A clock the test moves by hand: never sleep to test expiry."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


# -- the database: a SQLite file, or a PostgreSQL database per test --------------------------------
POSTGRES_URL: str | None = os.environ.get("EMULATOR_TEST_POSTGRES_URL") or None
"""The PostgreSQL server the suite runs against (an administrative database on it), or None."""

_postgres_databases: dict[Path, str] = {}
"""A test's ``db_path`` (or other file) → the URL of the PostgreSQL database standing in for it."""
_admin_engine: Engine | None = None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): the test is about the SQLite file itself (it opens it with sqlite3, "
        "checks its PRAGMAs or WAL); skipped when EMULATOR_TEST_POSTGRES_URL is set.",
    )


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES_URL is None:
        return "database: a SQLite file per test (set EMULATOR_TEST_POSTGRES_URL for PostgreSQL)"
    shown = make_url(POSTGRES_URL).render_as_string(hide_password=True)
    return f"database: a fresh PostgreSQL database per test on {shown}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_URL is None:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            why = marker.args[0] if marker.args else marker.kwargs.get("reason", "about the SQLite file")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only ({why}); the suite runs on PostgreSQL"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _admin_engine
    for path in list(_postgres_databases):
        _drop_postgres_database(path)
    if _admin_engine is not None:
        _admin_engine.dispose()
        _admin_engine = None


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


def _drop_postgres_database(path: Path) -> None:
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


@pytest.fixture(autouse=True)
def _drop_the_tests_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """With PostgreSQL: drop the databases :func:`database_url` made for files in the test's tmp_path."""
    if POSTGRES_URL is None or "tmp_path" not in request.fixturenames:
        yield
        return
    tmp_path: Path = request.getfixturevalue("tmp_path")
    yield
    for path in [p for p in _postgres_databases if p.is_relative_to(tmp_path)]:
        _drop_postgres_database(path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "crm.db"


@pytest.fixture
def settings(db_path: Path) -> Iterator[Settings]:
    url = database_url(db_path)
    try:
        yield Settings(database_url=url)
    finally:
        _drop_postgres_database(db_path)  # with PostgreSQL; a SQLite file stays in tmp_path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Iterator[EmulatorApp]:
    application = create_app(settings, clock=clock)
    yield application
    application.runtime.database.dispose()


@pytest.fixture
def client(app: EmulatorApp) -> Client:
    return Client(app)


@pytest.fixture
def live(settings: Settings, clock: FakeClock) -> Iterator[LiveServer]:
    with LiveServer(settings, clock=clock) as server:
        yield server


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


def envelope(
    identifiers: Sequence[str | None] | None,
    status: str | None = "Completed",
    *,
    ticket: str | None = DEMO_TICKET,
    token: str | None = TOKEN,
    version: str = "1.1",
    headers_in_header: bool = True,
) -> bytes:
    """A SetActivityStatus request, written by hand as a client would send it."""
    env = (
        "http://schemas.xmlsoap.org/soap/envelope/"
        if version == "1.1"
        else "http://www.w3.org/2003/05/soap-envelope"
    )
    head = ""
    if token is not None:
        head += f"<t:ApplicationToken>{token}</t:ApplicationToken>"
    if ticket is not None:
        head += f"<t:Credentials><t:Ticket>{ticket}</t:Ticket></t:Credentials>"
    if headers_in_header:
        head = f"<s:Header>{head}</s:Header>"
    array = ""
    if identifiers is not None:
        items = "".join(
            '<a:string xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>'
            if i is None
            else f"<a:string>{i}</a:string>"
            for i in identifiers
        )
        array = f"<t:ActivityIdentifier>{items}</t:ActivityIdentifier>"
    status_xml = "" if status is None else f"<t:ActivityStatus>{status}</t:ActivityStatus>"
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{env}" '
        'xmlns:a="http://schemas.microsoft.com/2003/10/Serialization/Arrays" '
        'xmlns:t="http://www.superoffice.net/ws/crm/NetServer/Services86">'
        f"{head}<s:Body><t:SetActivityStatus>{array}{status_xml}</t:SetActivityStatus></s:Body>"
        "</s:Envelope>"
    ).encode()


SOAP11_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"',
}
SOAP12_HEADERS = {"Content-Type": "application/soap+xml; charset=utf-8"}

S86 = "{http://www.superoffice.net/ws/crm/NetServer/Services86}"


class Answer:
    """A SOAP answer taken apart: ``Succeeded``, ``ExceptionInfo`` fields, Body, Fault."""

    def __init__(self, status: int, body: bytes) -> None:
        from lxml import etree

        self.status = status
        self.root = etree.fromstring(body)
        self.envelope_ns = etree.QName(self.root).namespace
        env = "{" + str(self.envelope_ns) + "}"
        succeeded = self.root.find(f"{env}Header/{S86}Succeeded")
        self.succeeded = None if succeeded is None else succeeded.text == "true"
        info = self.root.find(f"{env}Header/{S86}ExceptionInfo")
        if info is None:
            info = self.root.find(f".//{S86}ExceptionInfo")
        self.info: dict[str, str | None] = {}
        self.parameters: dict[str, str | None] = {}
        if info is not None:
            self.info = {etree.QName(c).localname: c.text for c in info if c.tag != f"{S86}Parameters"}
            for pair in info.iterfind(f"{S86}Parameters/{S86}SoExceptionInfoParametersKeyValuePair"):
                self.parameters[pair.findtext(f"{S86}Key") or ""] = pair.findtext(f"{S86}Value")
        body_element = self.root.find(f"{env}Body")
        assert body_element is not None
        self.body = body_element[0] if len(body_element) else None
        self.fault = self.root.find(f"{env}Body/{env}Fault")

    @property
    def fault_text(self) -> str:
        assert self.fault is not None, "expected a SOAP Fault"
        return " ".join(str(t).strip() for t in self.fault.itertext() if str(t).strip())
