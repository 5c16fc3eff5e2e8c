"""Serving the emulator over HTTP: granian with N worker processes, or werkzeug in this process.

    from emulator.serving import serve
    from emulator.settings import Settings

    serve(Settings(database_url="sqlite:///crm.db"), "127.0.0.1", 8080, workers=2)  # until SIGINT/SIGTERM

``workers >= 1`` runs granian (a Rust HTTP server; WSGI calls on a few Python threads per worker),
``workers == 0`` werkzeug's threaded development server in this process.

Each granian worker builds its own emulator (:func:`emulator.wsgi.make_app`) after it has started,
so no database connection ever crosses a ``fork``. The parent only checks the database and creates
the schema first (:func:`emulator.preflight.check_database`), then closes its engine: on a new
SQLite file that also switches it to WAL once, instead of every worker racing to do it. Every
start-up check runs before the banner (:mod:`emulator.banner`), so a failure never follows it.
Everything shared lives in the database: with ``workers > 1`` a fault injected through the admin
API fires in whichever worker gets the matching call, ``count`` times in all.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import signal
from types import FrameType
from typing import TYPE_CHECKING

from emulator.banner import banner
from emulator.logs import LOG_LEVELS, LogFormat, configure_logging
from emulator.preflight import StartupError, check_database, check_port, listen
from emulator.settings import Settings

if TYPE_CHECKING:
    from emulator.app import EmulatorApp
    from emulator.storage.fixtures import Fixtures

log = logging.getLogger("emulator")

THREADS = 1
"""Python threads per granian worker that run WSGI calls, by default. Processes, not threads, are
what scale: the GIL runs one thread at a time, and SQLite one writer (a process's threads queue
on :class:`~emulator.storage.database.Database`'s writer lock, not in SQLite's sleeping busy
handler). Measured here on 2026-11-23 (2 CPUs, one worker, 4 connections, medians of 3 runs):
1 thread 3,631 req/s, 2 threads 1,734, 4 threads 1,794; the Python threads and granian's own
contend for the GIL. The price of 1: a call held up by an injected ``latency`` fault holds up
its worker, so a test that injects latency while other calls must go on wants more workers."""


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    log_level: str = "info",
    log_format: LogFormat = "text",
    *,
    threads: int = THREADS,
) -> None:
    """Serve ``settings``' emulator on ``host``:``port`` until SIGINT or SIGTERM.

    ``workers`` granian worker processes (at least 1), each running calls on ``threads`` Python
    threads, or werkzeug in this process for ``0`` (a thread per connection; ``threads`` unused).
    ``port`` 0 picks a free port (the banner names it). Raises ``ValueError`` for a negative
    ``workers``, ``threads`` below 1 or an unknown ``log_level``, and
    :class:`~emulator.preflight.StartupError` (before any "listening" line) when the database
    cannot be opened or the port cannot be bound.
    """
    if workers < 0:
        raise ValueError(f"workers must be 0 (werkzeug, in this process) or more, not {workers}.")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}.")
    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"Unknown log level {log_level!r}; use one of {', '.join(LOG_LEVELS)}.")
    configure_logging(level, log_format)
    fixtures = check_database(settings)
    if workers == 0:
        _serve_werkzeug(settings, host, port)
    else:
        _serve_granian(settings, fixtures, host, port, workers, threads, level, log_format)


def worker_app(settings: Settings, log_level: str, log_format: LogFormat) -> EmulatorApp:
    """The emulator of one worker process: called in the worker, after granian has started it."""
    from emulator.wsgi import make_app

    configure_logging(log_level, log_format)  # after granian's own logging set-up in the worker
    return make_app(settings, configure_logs=False)


def _serve_granian(
    settings: Settings,
    fixtures: Fixtures,
    host: str,
    port: int,
    workers: int,
    threads: int,
    log_level: str,
    log_format: LogFormat,
) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    port = check_port(host, port)  # granian binds in its own code: a clear failure first
    server = Granian(
        "emulator.wsgi:app",  # the name granian shows; the app comes from worker_app below
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        log_level=LogLevels(log_level if log_level in ("debug", "error") else "warning"),
        log_access=log_level == "debug",
        respawn_failed_workers=True,
        websockets=False,
    )
    how = f"granian, {_plural(workers, 'worker')} of {_plural(threads, 'thread')}"
    listening: list[bool] = []

    @server.on_startup
    def _listening() -> None:  # granian has bound its socket; its workers start next
        listening.append(True)
        _log_listening(settings, fixtures, host, port, how)

    try:
        server.serve(
            target_loader=functools.partial(worker_app, settings, log_level, log_format), wrap_loader=False
        )
    except RuntimeError as exc:
        if listening:
            raise
        raise StartupError(
            f"Cannot listen on {host}:{port}: {exc}. Choose another --host or --port."
        ) from exc
    log.info("stopped")


def _serve_werkzeug(settings: Settings, host: str, port: int) -> None:
    from emulator.app import create_app

    run_werkzeug(create_app(settings), host, port)


def run_werkzeug(app: EmulatorApp, host: str, port: int) -> None:
    """Serve ``app`` with werkzeug's threaded server until SIGINT or SIGTERM (``docker stop``),
    then close the database. :class:`~emulator.preflight.StartupError` if the port cannot be bound."""
    from werkzeug.serving import make_server

    try:
        with listen(host, port) as sock:
            server = make_server(host, port, app, threaded=True, fd=sock.fileno())  # werkzeug dups it
    except BaseException:
        app.runtime.database.dispose()
        raise
    runtime = app.runtime
    _log_listening(
        runtime.settings, runtime.database.fixtures, host, server.port, "werkzeug, in this process"
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()  # returns on KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
        app.runtime.database.dispose()
    log.info("stopped")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _log_listening(settings: Settings, fixtures: Fixtures, host: str, port: int, how: str) -> None:
    log.info(banner(settings, fixtures, host, port, how))  # our own text: its lines are kept
    if settings.admin_token is None and not _is_loopback(host):
        log.warning("the admin API is open to every client that reaches %s; set --admin-token", host)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
