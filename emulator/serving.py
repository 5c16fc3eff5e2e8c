"""Serving the emulator over HTTP: granian with N worker processes, or werkzeug in this process.

    from emulator.serving import serve
    from emulator.settings import Settings

    serve(Settings(database_url="sqlite:///crm.db"), "127.0.0.1", 8080, workers=2)  # until SIGINT/SIGTERM

``workers >= 1`` runs granian (a Rust HTTP server) on its RSGI interface, each request body read
whole on the worker's event loop before the call runs on one of a few Python threads
(:mod:`emulator.rsgi`): a client that stops sending costs its socket only, and is answered 408
after ``settings.request_timeout``. ``workers == 0`` runs werkzeug's threaded development server
in this process (no such protection: for in-process use).

Each granian worker builds its own emulator (:func:`emulator.wsgi.make_app`) after it has started,
so no database connection ever crosses a ``fork``. The parent only creates the schema first, then
closes its engine: on a new SQLite file that also switches it to WAL once, instead of every worker
racing to do it. What an emulator keeps in memory stays in its worker: with ``workers > 1`` a fault
injected through the admin API applies in the worker that received it only.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import signal
import socket
from types import FrameType
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from emulator import __version__
from emulator.logs import LOG_LEVELS, LogFormat, configure_logging
from emulator.settings import Settings

if TYPE_CHECKING:
    from emulator.app import EmulatorApp
    from emulator.rsgi import BufferedWsgi

log = logging.getLogger("emulator")

THREADS = 4
"""Python threads per granian worker that run the emulator's calls, by default (see
:mod:`emulator.rsgi`: granian's event loop reads every body first, then a thread runs the call).
Processes, not threads, are what scale (the GIL, SQLite's one writer); the threads are there so
that an injected ``latency`` fault or a slow login holds up its own call only, up to this many."""


STOP_WITHIN = 10
"""Seconds granian's workers get to finish their calls after SIGTERM before they are killed (as
``docker stop`` waits): a stalled body would otherwise hold its worker up to ``request_timeout``."""


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
    ``port`` 0 picks a free port (the log line names it). Raises ``ValueError`` for a negative
    ``workers``, ``threads`` below 1 or an unknown ``log_level``, and SQLAlchemy's error if the
    database cannot be opened.
    """
    if workers < 0:
        raise ValueError(f"workers must be 0 (werkzeug, in this process) or more, not {workers}.")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}.")
    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"Unknown log level {log_level!r}; use one of {', '.join(LOG_LEVELS)}.")
    configure_logging(level, log_format)
    if workers == 0:
        _serve_werkzeug(settings, host, port)
    else:
        _serve_granian(settings, host, port, workers, threads, level, log_format)


def prepare_database(settings: Settings) -> None:
    """Create the schema (and switch a SQLite file to WAL) once, then close every connection."""
    from emulator.storage.database import Database
    from emulator.storage.fixtures import load_fixtures

    database = Database(settings.database_url, load_fixtures(settings.fixtures))
    try:
        database.create_schema()
    finally:
        database.dispose()


def worker_app(settings: Settings, log_level: str, log_format: LogFormat) -> EmulatorApp:
    """The emulator of one worker process: called in the worker, after granian has started it."""
    from emulator.wsgi import make_app

    configure_logging(log_level, log_format)  # after granian's own logging set-up in the worker
    return make_app(settings, configure_logs=False)


def worker_rsgi_app(settings: Settings, log_level: str, log_format: LogFormat, threads: int) -> BufferedWsgi:
    """:func:`worker_app` behind the RSGI adapter that reads each body first (in the worker)."""
    from emulator.rsgi import BufferedWsgi

    app = worker_app(settings, log_level, log_format)
    return BufferedWsgi(
        app,
        request_timeout=settings.request_timeout,
        max_body_bytes=settings.max_body_bytes,
        threads=threads,
        on_close=app.runtime.database.dispose,
    )


def _serve_granian(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    threads: int,
    log_level: str,
    log_format: LogFormat,
) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    prepare_database(settings)
    port = port or _free_port(host)
    server = Granian(
        "emulator.wsgi:app",  # the name granian shows; the app comes from worker_app below
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        workers=workers,
        # an idle keep-alive connection is closed after this, as are headers that stop arriving
        http1_settings=HTTP1Settings(header_read_timeout=max(1, round(settings.request_timeout * 1000))),
        log_level=LogLevels(log_level),
        log_access=log_level == "debug",
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_WITHIN,
        websockets=False,
    )
    how = f"granian, {_plural(workers, 'worker')} of {_plural(threads, 'thread')}"
    # when granian starts, before it forks the workers (they bind the port a moment later, so a
    # client may have to retry); never from a thread of the parent: the fork would copy it into
    # the workers mid-write, with its locks held, and they would hang on their first log line
    server.on_startup(functools.partial(_log_listening, settings, host, port, how))
    server.serve(
        target_loader=functools.partial(worker_rsgi_app, settings, log_level, log_format, threads),
        wrap_loader=False,
    )
    log.info("stopped")


def _serve_werkzeug(settings: Settings, host: str, port: int) -> None:
    from emulator.app import create_app

    run_werkzeug(create_app(settings), host, port)


def run_werkzeug(app: EmulatorApp, host: str, port: int) -> None:
    """Serve ``app`` with werkzeug's threaded server until SIGINT or SIGTERM (``docker stop``),
    then close the database."""
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    _log_listening(app.runtime.settings, host, server.port, "werkzeug, in this process")
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


def _log_listening(settings: Settings, host: str, port: int, how: str) -> None:
    log.info(
        "superoffice-emulator %s listening on http://%s:%d/ (%s; WSDL: http://%s:%d/Remote/Services86/"
        "Appointment.svc?wsdl, admin API: /_emulator/, database: %s)",
        __version__,
        host,
        port,
        how,
        host,
        port,
        make_url(settings.database_url).render_as_string(hide_password=True),
    )
    if settings.admin_token is None and not _is_loopback(host):
        log.warning("the admin API is open to every client that reaches %s; set --admin-token", host)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _free_port(host: str) -> int:
    """A port that is free now (granian binds in its own code, so it cannot report one it picked)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
