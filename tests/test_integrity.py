"""The SQLite file stays whole beside the server's own housekeeping and another process's reader.

SQLite's locks between processes are POSIX locks, which a process loses on *every* descriptor of
the file the moment it closes *any* descriptor of that file. The server looks through its own
descriptors for sockets (the sweep of silent connections, the drop fault); should that ever close a
duplicate of the database's descriptor, another process could write beside a write in progress, or
a reader closing its connection could believe itself the last one, checkpoint and reset the WAL
under the server's feet: acknowledged writes lost, the file corrupt.
"""

from __future__ import annotations

import http.client
import importlib.util
import logging
import random
import sqlite3  # Python's own: the other program beside the server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from werkzeug.test import Client

from superoffice_emulator.app import create_app
from superoffice_emulator.server.preflight import check_database
from superoffice_emulator.settings import Settings
from superoffice_emulator.storage import sqlite
from superoffice_emulator.storage.engine import make_engine
from tests.support.servers import ServerProcess, wait_for
from tests.support.soap import (
    APPOINTMENT,
    LOGIN_HEADERS,
    SOAP11_HEADERS,
    SOPRINCIPAL,
    envelope,
    login_envelope,
)

HOLDER = """
import socket, sqlite3, sys
from superoffice_emulator.server.connections import SilentConnections, shut_down_connection, tcp_sockets

database = sqlite3.connect(sys.argv[1], isolation_level=None)
database.execute("PRAGMA journal_mode=wal")
database.execute("CREATE TABLE IF NOT EXISTS t (x)")
database.execute("BEGIN IMMEDIATE")
database.execute("INSERT INTO t VALUES (1)")
listener = socket.create_server(("127.0.0.1", 0))  # a socket among the files, as in a worker
tcp_sockets()
shut_down_connection("127.0.0.1:1", "127.0.0.1:2")
SilentConnections(timeout=1.0).sweep(0.0)
print("holding", flush=True)
sys.stdin.readline()
"""


def _write_lock_free(database: Path) -> bool:
    with closing(sqlite3.connect(database, timeout=0, isolation_level=None)) as other:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False
        other.execute("ROLLBACK")
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sweep reads /proc/self/fd")
def test_looking_for_sockets_keeps_the_process_s_sqlite_locks(tmp_path: Path) -> None:
    database = tmp_path / "locks.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        assert not _write_lock_free(database), "another process took the write lock of a write in progress"
    finally:
        holder.communicate("done\n", timeout=30)
    assert holder.returncode == 0
    assert _write_lock_free(database)  # the probe itself can see a free lock


def _call(port: int, identifier: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", APPOINTMENT, body=envelope([identifier]), headers=SOAP11_HEADERS)
        response = connection.getresponse()
        assert response.status == 200
        assert b">true</Succeeded>" in response.read()
    finally:
        connection.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    database = tmp_path / "crm.db"
    live = ServerProcess(  # a short request timeout: the sweep of silent connections runs every 0.25 s
        [sys.executable, "-m", "superoffice_emulator", "serve", "--port", "0", "--request-timeout", "1"],
        env={"EMULATOR_DATABASE_URL": f"sqlite:///{database}", "EMULATOR_LOG_FORMAT": "text"},
    )
    try:
        wait_for(live.url("/"))
        yield live, database
    finally:
        live.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sweep reads /proc/self/fd")
def test_a_reader_in_another_process_never_resets_the_server_s_wal(
    server: tuple[ServerProcess, Path],
) -> None:
    live, database = server
    _call(live.port, "appointment_id=17")
    wal = database.with_name(database.name + "-wal")
    assert wal.exists()
    time.sleep(1.5)  # several sweeps of silent connections
    with closing(
        sqlite3.connect(database)
    ) as reader:  # an ordinary read-write connection, as a person's shell
        assert reader.execute("SELECT count(*) FROM emulator_journal").fetchone()[0] >= 1
    # the server's connections are open: the reader was not the last, so it left the WAL alone
    assert wal.exists()
    for activity in ("sale_id=4", "document_id=22", "todo_id=5", "appointment_id=98"):
        _call(live.port, activity)
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        journaled = check.execute("SELECT count(*) FROM emulator_journal").fetchone()[0]
    assert journaled >= 5


@pytest.mark.parametrize(
    ("release", "affected"),
    [
        ((3, 40, 1), True),  # Debian 12's
        ((3, 51, 2), True),
        ((3, 51, 3), False),
        ((3, 53, 4), False),
        ((3, 44, 5), True),
        ((3, 44, 6), False),  # a backport
        ((3, 50, 6), True),
        ((3, 50, 7), False),  # a backport
        ((3, 6, 23), False),  # before WAL mode
    ],
)
def test_which_sqlite_releases_have_the_wal_reset_bug(release: tuple[int, int, int], affected: bool) -> None:
    assert sqlite.has_wal_reset_bug(release) is affected


def test_the_server_opens_its_files_with_the_one_driver(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    try:
        assert engine.dialect.dbapi is sqlite.driver
        with engine.connect() as connection:
            shown = connection.exec_driver_sql("SELECT sqlite_version()").scalar()
        assert shown == sqlite.driver.sqlite_version
    finally:
        engine.dispose()


@pytest.mark.skipif(
    importlib.util.find_spec("pysqlite3") is None, reason="pysqlite3 has no wheel for this platform"
)
def test_where_the_bundled_sqlite_is_installed_the_server_runs_on_it() -> None:
    assert sqlite.driver.__name__ == "pysqlite3.dbapi2"
    assert not sqlite.has_wal_reset_bug()
    assert sqlite.warning() is None


def test_start_up_warns_of_a_sqlite_with_the_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sqlite.driver, "sqlite_version", "3.40.1")
    with caplog.at_level(logging.WARNING, logger="emulator"):
        check_database(Settings(database_url=f"sqlite:///{tmp_path / 'crm.db'}"))
    assert any(
        "3.40.1" in record.getMessage() and record.levelno == logging.WARNING for record in caplog.records
    )


def test_calls_on_many_threads_of_one_process_each_read_their_own_rows(tmp_path: Path) -> None:
    """Logins (a read, then a write) and batches on eight threads at once: every answer is whole.

    A connection goes from one thread to another between transactions; a cursor left to the
    garbage collector could reset a statement the next thread is running (wrong rows, bind errors)."""
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'crm.db'}"))
    failures: list[tuple[int, bytes]] = []

    def client(seed: int) -> None:
        browser = Client(app)
        chooser = random.Random(seed)
        for _ in range(80):
            pick = chooser.random()
            if pick < 0.8:
                password = "demo" if pick < 0.4 else "not the password"
                answer = browser.post(
                    SOPRINCIPAL, data=login_envelope("demo", password), headers=LOGIN_HEADERS
                )
                whole = answer.status_code == 200 and b"SoDbAccessException" not in answer.data
            else:
                body = envelope([f"appointment_id={chooser.randint(1, 50)}"])
                answer = browser.post(APPOINTMENT, data=body, headers=SOAP11_HEADERS)
                whole = answer.status_code == 200 and b">true</Succeeded>" in answer.data
            if not whole:
                failures.append((answer.status_code, answer.data[:400]))

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        app.runtime.database.dispose()
    assert failures == []
