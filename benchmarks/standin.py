"""A stand-in app for measuring granian's interfaces themselves (``python -m benchmarks interfaces``).

Each request costs the same fixed work under every interface: a spin of ``BENCH_SPIN_US`` microseconds
of CPU (150 by default, about what the emulator's call costs in-process) and one SQLite ``UPDATE`` with
its commit on ``BENCH_STANDIN_DB`` (a file the section makes; WAL and ``synchronous=NORMAL``, as the
emulator's), then a fixed answer. Served as ``benchmarks.standin:wsgi`` (granian's WSGI interface),
``:rsgi`` (its RSGI interface, the body awaited on the event loop) and ``:buffered`` (the same work as a
call behind the emulator's own RSGI adapter, :class:`superoffice_emulator.server.rsgi.BufferedWsgi`, on
its event loop, as ``serve`` runs a call). What differs between the three is the interface and nothing
else.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from superoffice_emulator.server.web import Reply

SPIN = float(os.environ.get("BENCH_SPIN_US", "150")) / 1e6
ANSWER = b"done\n"
_local = threading.local()


def _work(body: bytes) -> None:
    connection: sqlite3.Connection | None = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = sqlite3.connect(os.environ["BENCH_STANDIN_DB"], isolation_level=None)
        connection.execute("PRAGMA synchronous=NORMAL")  # as the emulator's connections
    until = time.perf_counter() + SPIN
    while time.perf_counter() < until:
        pass
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("UPDATE activity SET status = status + 1 WHERE id = ?", (len(body) % 100,))
    connection.execute("COMMIT")


def make_database(path: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=wal")
        connection.execute("CREATE TABLE IF NOT EXISTS activity (id INTEGER PRIMARY KEY, status INTEGER)")
        connection.executemany("INSERT OR IGNORE INTO activity VALUES (?, 0)", [(i,) for i in range(100)])
    connection.close()


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    _work(environ["wsgi.input"].read(length) if length else b"")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(ANSWER)))])
    return [ANSWER]


async def rsgi(scope: Any, protocol: Any) -> None:
    if scope.proto != "http":
        return
    _work(await protocol())
    protocol.response_bytes(200, [("content-type", "text/plain")], ANSWER)


def call(method: str, path: str, host: str, headers: Any, read_body: Callable[[], bytes]) -> Any:
    """The work as the adapter runs the emulator's calls (no WSGI environ)."""
    _work(read_body())
    return Reply(200, "text/plain", ANSWER)


def __getattr__(name: str) -> Any:
    """``buffered``: :func:`call` behind the emulator's RSGI adapter, made when granian asks for it."""
    if name != "buffered":
        raise AttributeError(name)
    from superoffice_emulator.server.rsgi import BufferedWsgi
    from superoffice_emulator.server.serving import THREADS

    return BufferedWsgi(
        wsgi,
        request_timeout=30,
        max_body_bytes=1 << 20,
        threads=THREADS,
        reply_to_call=call,
        calls_on_loop=True,
    )
