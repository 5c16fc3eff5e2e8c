"""Serving past one process: granian with two workers on one SQLite file, and the WSGI entry point.

The server runs for real, as a subprocess (``superoffice_emulator.server.serving.serve``), and threads
send it overlapping SOAP calls: every call must succeed (SQLite's writers queue, none sees "database is
locked") and the file must hold every change exactly once.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, ClassVar

import pytest

from superoffice_emulator.server import blocking
from superoffice_emulator.server.rsgi import BufferedWsgi
from superoffice_emulator.server.web import Reply
from superoffice_emulator.server.wsgi import make_app, settings_from_env, settings_to_env
from superoffice_emulator.settings import Settings
from superoffice_emulator.storage.sqlite import driver as sqlite3  # the library the app in this process uses
from tests.support.http import http_call
from tests.support.servers import running
from tests.support.settings import every_setting_changed
from tests.support.soap import APPOINTMENT, Answer, envelope

SHARED_ID = 200  # every call also completes this appointment: its updatedCount counts the calls


def test_two_workers_take_concurrent_writers_without_losing_one(tmp_path: Path) -> None:
    db_path, log_path = tmp_path / "crm.db", tmp_path / "server.log"
    tenants = ["default", "team-a"]  # team-a is created by whichever worker sees it first
    threads, calls_per_thread = 8, 10
    jobs = [
        (tenants[t % 2], t * calls_per_thread + i + 1)
        for t in range(threads)
        for i in range(calls_per_thread)
    ]

    with running(db_path, 2, log_path) as server:

        def call(job: tuple[str, int]) -> tuple[int, bytes]:
            tenant, own = job
            prefix = "" if tenant == "default" else f"/{tenant}"
            body = envelope([f"appointment_id={own}", f"appointment_id={SHARED_ID}"], "Completed")
            return http_call(server.url(prefix + APPOINTMENT), body)

        with ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(call, jobs))
        workers = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
        log = server.log()
        assert server.stop() == 0, log

    for (tenant, own), (status, body) in zip(jobs, answers, strict=True):
        assert status == 200, f"{tenant} appointment_id={own}: HTTP {status}: {body[:500]!r}"
        answer = Answer(status, body)
        assert answer.succeeded is True, f"{tenant} appointment_id={own}: {answer.info}"
        assert b"locked" not in body
    assert len(workers) == 2, workers  # granian's worker processes (its own log is quiet at info)
    assert "database is locked" not in log
    assert "Traceback" not in log

    with closing(sqlite3.connect(db_path)) as connection, connection:
        for tenant in tenants:
            own_ids = sorted(own for t, own in jobs if t == tenant)
            marks = ",".join("?" * len(own_ids))
            rows = connection.execute(
                "SELECT appointment_id, status, updatedCount FROM appointment"
                f" WHERE tenant = ? AND appointment_id IN ({marks}) ORDER BY appointment_id",
                (tenant, *own_ids),
            ).fetchall()
            assert rows == [(own, 3, 1) for own in own_ids], tenant
            shared = connection.execute(
                "SELECT status, updatedCount FROM appointment WHERE tenant = ? AND appointment_id = ?",
                (tenant, SHARED_ID),
            ).fetchone()
            assert shared == (3, len(own_ids)), tenant
            journal = connection.execute(
                "SELECT count(*) FROM emulator_journal WHERE tenant = ? AND outcome = 'ok'", (tenant,)
            ).fetchone()
            assert journal == (len(own_ids),), tenant
        tenant_rows = connection.execute("SELECT tenant FROM emulator_tenant ORDER BY tenant").fetchall()
        assert tenant_rows == [(t,) for t in sorted(tenants)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# every request a worker takes notes down whether it runs on a uvloop event loop, then goes on
RECORD_THE_LOOP = """
import asyncio, uvloop
from superoffice_emulator.server.rsgi import BufferedWsgi
answer = BufferedWsgi.__call__
async def noting_the_loop(self, scope, protocol):
    with open({path!r}, "a") as notes:
        notes.write(f"{{isinstance(asyncio.get_running_loop(), uvloop.Loop)}}\\n")
    await answer(self, scope, protocol)
BufferedWsgi.__call__ = noting_the_loop
"""


def test_the_workers_run_their_requests_on_uvloop(tmp_path: Path) -> None:
    pytest.importorskip("uvloop")  # a dependency on every platform but Windows
    notes = tmp_path / "loops.txt"
    with running(
        tmp_path / "crm.db", 1, tmp_path / "server.log", RECORD_THE_LOOP.format(path=str(notes))
    ) as server:
        status, body = http_call(server.url(APPOINTMENT), envelope(["appointment_id=1"], "Started"))
        log = server.log()
        assert server.stop() == 0, log
    assert status == 200 and Answer(status, body).succeeded is True, log
    seen = notes.read_text().split()
    assert seen and set(seen) == {"True"}, seen  # GET / while waiting for it, then the SOAP call


def test_the_loop_is_uvloop_when_it_can_be_imported_else_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    from granian.constants import Loops

    from superoffice_emulator.server.serving import event_loop

    pytest.importorskip("uvloop")
    assert event_loop() is Loops.uvloop
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert event_loop() is Loops.asyncio


def test_workers_zero_serves_with_werkzeug_in_one_process(tmp_path: Path) -> None:
    db_path = tmp_path / "crm.db"
    with running(db_path, 0, tmp_path / "server.log") as server:
        status, body = http_call(server.url(APPOINTMENT), envelope(["appointment_id=1"], "Started"))
        log = server.log()
        assert server.stop() == 0, log
    assert status == 200 and Answer(status, body).succeeded is True
    assert "werkzeug, in this process" in log
    with closing(sqlite3.connect(db_path)) as connection, connection:
        row = connection.execute(
            "SELECT status FROM appointment WHERE tenant = 'default' AND appointment_id = 1"
        ).fetchone()
    assert row == (2,)


@pytest.mark.parametrize(
    ("options", "named"), [({"workers": -1}, "workers"), ({"workers": 2, "threads": 0}, "threads")]
)
def test_serve_refuses_impossible_counts(settings: Settings, options: dict[str, int], named: str) -> None:
    from superoffice_emulator.server.serving import serve

    with pytest.raises(ValueError, match=named):
        serve(settings, **options)


# -- superoffice_emulator.server.wsgi
# --------------------------------------------------------------------------------
def test_settings_round_trip_through_the_environment(tmp_path: Path) -> None:
    settings = every_setting_changed(tmp_path)
    assert settings_from_env(settings_to_env(settings)) == settings


def test_unset_variables_keep_the_defaults() -> None:
    assert settings_from_env({}) == Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EMULATOR_MODE", "cloud"),
        ("EMULATOR_CONTRACT", "strict"),
        ("EMULATOR_STRICT", "maybe"),
        ("EMULATOR_JOURNAL_SIZE", "0"),
        ("EMULATOR_MAX_BODY_BYTES", "lots"),
    ],
)
def test_a_bad_variable_is_named(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        settings_from_env({name: value})


def test_make_app_builds_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("EMULATOR_STRICT", "true")
    app = make_app(configure_logs=False)
    try:
        assert app.runtime.settings.strict is True
        assert app.runtime.settings.database_url.endswith("env.db")
    finally:
        app.runtime.database.dispose()


def test_a_call_about_to_block_on_the_event_loop_runs_again_on_a_thread() -> None:
    """superoffice_emulator.server.rsgi runs a call on the event loop; one that raises WouldBlock there (a
    password to
    verify, a latency fault) runs again, whole, on the adapter's pool, and only that answer is sent."""
    runs: list[tuple[bool, str]] = []

    def calls(method: str, path: str, host: str, headers: Any, read_body: Any) -> Reply:
        try:
            blocking.about_to_block()
        except blocking.WouldBlock:
            runs.append((True, threading.current_thread().name))
            raise
        runs.append((False, threading.current_thread().name))
        return Reply(200, "text/plain", read_body())

    def app(environ: Any, start_response: Any) -> list[bytes]:
        raise AssertionError("a request the calls take never reaches the WSGI app")

    class Headers(dict[str, str]):
        def items(self) -> Any:
            return list(super().items())

    class Scope:
        proto, http_version, scheme, method = "http", "1.1", "http", "POST"
        server, client, path, query_string, authority = "127.0.0.1:1", "127.0.0.1:2", "/x", "", None
        headers: ClassVar[Headers] = Headers({"content-length": "4"})

    sent: list[tuple[int, bytes]] = []

    class Protocol:
        async def __call__(self) -> bytes:
            return b"body"

        def response_bytes(self, status: int, headers: object, body: bytes) -> None:
            sent.append((status, body))

    adapter = BufferedWsgi(
        app, request_timeout=5, max_body_bytes=100, threads=1, reply_to_call=calls, calls_on_loop=True
    )

    async def serve_one() -> None:
        loop = asyncio.get_running_loop()
        adapter.__rsgi_init__(loop)
        try:
            await adapter(Scope(), Protocol())
        finally:
            adapter.__rsgi_del__(loop)

    asyncio.run(serve_one())
    assert [on_loop for on_loop, _ in runs] == [True, False]
    assert runs[0][1] == threading.main_thread().name and runs[1][1] != threading.main_thread().name
    assert sent == [(200, b"body")]
