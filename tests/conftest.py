"""Shared fixtures: a fresh database per test, the app in-process, a live server, a movable clock.

The database is a SQLite file (``db_path``) unless ``EMULATOR_TEST_POSTGRES_URL`` names a
PostgreSQL server (``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, a user allowed to
create databases): then every test gets a database of its own there, created empty and dropped
after it, and ``read_row(db_path, ...)`` and ``snapshot(db_path)`` read that database. Tests
that are about the SQLite file itself carry ``@pytest.mark.sqlite_only("why")`` and are skipped.

Only fixtures and hooks live here; what test modules import (envelopes, ``Answer``, the database
readers, servers, the fuzz model) is in ``tests/support/``, and no test module imports another.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from werkzeug.test import Client

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer
from tests.support.clock import FakeClock
from tests.support.database import POSTGRES_URL, database_url, drop_all, drop_database, drop_databases_under


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
    drop_all()


@pytest.fixture(autouse=True, scope="session")
def _cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Parsed fixtures are kept in a folder of the run's, never in the user's cache (servers the tests
    start inherit it)."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(autouse=True)
def _drop_the_tests_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """With PostgreSQL: drop the databases :func:`database_url` made for files in the test's tmp_path."""
    if POSTGRES_URL is None or "tmp_path" not in request.fixturenames:
        yield
        return
    tmp_path: Path = request.getfixturevalue("tmp_path")
    yield
    drop_databases_under(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "crm.db"


@pytest.fixture
def settings(db_path: Path) -> Iterator[Settings]:
    url = database_url(db_path)
    try:
        yield Settings(database_url=url)
    finally:
        drop_database(db_path)  # with PostgreSQL; a SQLite file stays in tmp_path


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
