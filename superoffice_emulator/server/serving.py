"""Serving the emulator over HTTP: granian with N worker processes, or werkzeug in this process.

    from superoffice_emulator.server.serving import serve
    from superoffice_emulator.settings import Settings

    serve(Settings(database_url="sqlite:///crm.db"), "127.0.0.1", 8080, workers=2)  # until SIGINT/SIGTERM

``workers >= 1`` runs granian (a Rust HTTP server) on its RSGI interface, each request body read whole on
the worker's event loop before the app runs (:mod:`superoffice_emulator.server.rsgi`): a client that stops
sending costs its socket only, and is answered 408 after ``settings.request_timeout``. A SOAP or REST call
runs on the event loop itself, every other request (and a call about to block:
:mod:`superoffice_emulator.server.blocking`) on one of a few Python threads. ``workers == 0`` runs
werkzeug's threaded development server in this process (no such protection: for in-process use). granian's
workers run their event loops on uvloop where it is installed (a dependency everywhere but Windows), else
on asyncio's own (:func:`event_loop`).

Each granian worker builds its own emulator (:func:`superoffice_emulator.server.wsgi.make_app`) after it
has started, so no database connection ever crosses a ``fork``. The parent only checks the database and
creates the schema first (:func:`superoffice_emulator.server.preflight.check_database`), then closes its
engine: on a new SQLite file that also switches it to WAL once, instead of every worker racing to do it.
With ``settings.tls`` both serve HTTPS with the certificate of
:mod:`superoffice_emulator.server.certificates`, made or renewed in the parent before anything listens.
Every start-up check runs before the banner (:mod:`superoffice_emulator.server.banner`), so a failure
never follows it. Everything shared lives in the database: with ``workers > 1`` a fault injected through
the admin API fires in whichever worker gets the matching call, ``count`` times in all.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

from superoffice_emulator.server import collector
from superoffice_emulator.server.banner import banner
from superoffice_emulator.server.logs import LOG_LEVELS, LogFormat, configure_logging
from superoffice_emulator.server.preflight import (
    OTHER_ADDRESS,
    StartupError,
    check_database,
    check_port,
    listen,
)
from superoffice_emulator.settings import Settings

if TYPE_CHECKING:
    from granian.constants import Loops

    from superoffice_emulator.app import EmulatorApp
    from superoffice_emulator.server.certificates import ServerFiles
    from superoffice_emulator.server.rsgi import BufferedWsgi
    from superoffice_emulator.storage.fixtures import Fixtures

log = logging.getLogger("emulator")

THREADS = 4
"""Python threads per granian worker that run the requests that do not run on its event loop (see
:mod:`superoffice_emulator.server.rsgi`): admin and dashboard requests, logins, calls with a ``latency``
fault. Processes, not threads, are what scale (the GIL, SQLite's one writer); the threads are there so
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

    ``workers`` granian worker processes (at least 1), each running calls on ``threads`` Python threads,
    or werkzeug in this process for ``0`` (a thread per connection; ``threads`` unused). ``port`` 0
    picks a free port (the banner names it). Raises ``ValueError`` for a negative ``workers``,
    ``threads`` below 1 or an unknown ``log_level``, and
    :class:`~superoffice_emulator.server.preflight.StartupError` (before any "listening" line) when the
    database cannot be opened or the port cannot be bound.
    """
    if workers < 0:
        raise ValueError(f"workers must be 0 (werkzeug, in this process) or more, not {workers}.")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}.")
    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"Unknown log level {log_level!r}; use one of {', '.join(LOG_LEVELS)}.")
    configure_logging(level, log_format)
    with collector.paused():  # until the server is ready (collector.ready)
        fixtures = check_database(settings)
        if workers == 0:
            _serve_werkzeug(settings, host, port)
        else:
            _serve_granian(settings, fixtures, host, port, workers, threads, level, log_format)


def worker_app(settings: Settings, log_level: str, log_format: LogFormat) -> EmulatorApp:
    """The emulator of one worker process: called in the worker, after granian has started it."""
    from superoffice_emulator.server.wsgi import make_app

    configure_logging(log_level, log_format)  # after granian's own logging set-up in the worker
    with collector.paused():
        app = make_app(settings, configure_logs=False)
        collector.ready()
    _warm(app)
    return app


def worker_rsgi_app(settings: Settings, log_level: str, log_format: LogFormat, threads: int) -> BufferedWsgi:
    """:func:`worker_app` behind the RSGI adapter that reads each body first (in the worker)."""
    from superoffice_emulator.server.rsgi import BufferedWsgi

    app = worker_app(settings, log_level, log_format)
    return BufferedWsgi(
        app,
        request_timeout=settings.request_timeout,
        max_body_bytes=settings.max_body_bytes,
        threads=threads,
        reply_to_call=app.reply_to_call,
        calls_on_loop=app.runtime.database.event_loop_safe,
        on_close=app.runtime.database.dispose,
    )


def event_loop() -> Loops:
    """The event loop granian's workers run: uvloop when it can be imported (a dependency on every
    platform but Windows), else asyncio's. Named, never granian's ``auto``, which would take
    another loop first (rloop) should one ever be installed alongside."""
    from granian.constants import Loops

    try:
        import uvloop  # noqa: F401  (granian imports it again in each worker)
    except ImportError:
        return Loops.asyncio
    return Loops.uvloop


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
    from granian.constants import Interfaces, SSLProtocols
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    port = check_port(host, port)  # granian binds in its own code: a clear failure first
    tls = _tls(settings, host)
    server = Granian(
        "superoffice_emulator.server.wsgi:app",  # the name granian shows; the app comes from worker_app below
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        workers=workers,
        loop=event_loop(),
        # an idle keep-alive connection is closed after this, as are headers that stop arriving
        http1_settings=HTTP1Settings(header_read_timeout=max(1, round(settings.request_timeout * 1000))),
        log_level=LogLevels(log_level if log_level in ("debug", "error") else "warning"),
        log_access=log_level == "debug",
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_WITHIN,
        websockets=False,
        ssl_cert=tls.certificate if tls else None,
        ssl_key=tls.key if tls else None,
        ssl_protocol_min=SSLProtocols.tls12,  # granian's default is 1.3: .NET Framework and Java 8 apps
    )
    how = f"granian, {_plural(workers, 'worker')} of {_plural(threads, 'thread')}"
    listening: list[bool] = []

    # when granian has bound its socket, before it forks the workers (they accept a moment later,
    # so a client may have to retry); never from a thread of the parent: the fork would copy it
    # into the workers mid-write, with its locks held, and they would hang on their first log line
    @server.on_startup
    def _listening() -> None:
        listening.append(True)
        _log_listening(settings, fixtures, host, port, how)
        collector.ready()  # the workers are forked with what the parent made frozen

    try:
        server.serve(
            target_loader=functools.partial(worker_rsgi_app, settings, log_level, log_format, threads),
            wrap_loader=False,
        )
    except RuntimeError as exc:
        if listening:
            raise
        raise StartupError(f"Cannot listen on {host}:{port}: {exc}. {OTHER_ADDRESS}") from exc
    log.info("stopped")


def _serve_werkzeug(settings: Settings, host: str, port: int) -> None:
    from superoffice_emulator.app import create_app

    run_werkzeug(create_app(settings), host, port)


def run_werkzeug(app: EmulatorApp, host: str, port: int) -> None:
    """Serve ``app`` with werkzeug's threaded server until SIGINT or SIGTERM (``docker stop``),
    then close the database. :class:`~superoffice_emulator.server.preflight.StartupError` if the port
    cannot be bound."""
    from werkzeug.serving import make_server

    try:
        tls = _tls(app.runtime.settings, host)
        with listen(host, port) as sock:
            server = make_server(
                host, port, app, threaded=True, fd=sock.fileno(), ssl_context=tls.context() if tls else None
            )  # werkzeug dups the socket
    except BaseException:
        app.runtime.database.dispose()
        raise
    runtime = app.runtime
    _log_listening(
        runtime.settings, runtime.database.fixtures, host, server.port, "werkzeug, in this process"
    )
    collector.ready()
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


def _warm(app: EmulatorApp) -> None:
    """A worker's page routes compiled on a thread of their own while it starts answering (calls never
    need them)."""
    threading.Thread(target=app.site.warm, name="routes", daemon=True).start()


def _tls(settings: Settings, host: str) -> ServerFiles | None:
    """The certificate to serve HTTPS with, when ``--tls`` asks for it (made or renewed first)."""
    if not settings.tls:
        return None
    from superoffice_emulator.server.certificates import prepare

    return prepare(settings, host)


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
