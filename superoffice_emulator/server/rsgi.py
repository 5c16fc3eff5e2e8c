"""The emulator's WSGI app behind granian's RSGI interface, each request body read whole first.

    from superoffice_emulator.server.rsgi import BufferedWsgi

    rsgi_app = BufferedWsgi(create_app(settings), request_timeout=30, max_body_bytes=1 << 20, threads=4)

The body is read on granian's event loop, where a client that stops sending costs only its socket:
one late past ``request_timeout`` is answered 408, one over ``max_body_bytes`` 413, and only a
complete body reaches the app. A SOAP or REST call is answered by ``reply_to_call`` without a WSGI
environ; with ``calls_on_loop`` it runs on the event loop itself, and runs again on the thread pool
when it is about to block (:mod:`superoffice_emulator.server.blocking`). Every other request goes to
the WSGI app on the pool. A reply that breaks off (an injected ``drop``) gets its connection shut
down through :mod:`superoffice_emulator.server.connections`, which also sweeps connections that
never send a request. ``docs/architecture.md`` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from superoffice_emulator.server import blocking, web
from superoffice_emulator.server.connections import SilentConnections, shut_down_connection
from superoffice_emulator.server.web import Reply, ReplyParts, reply_parts

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

log = logging.getLogger("emulator")

INLINE_BODY_BYTES = 64 * 1024
"""Requests with a larger body never run on the event loop (a batch of thousands of ids)."""


class Headers(web.Headers, Protocol):
    """granian's headers: by lower-case name, and all of them for a WSGI environ."""

    def items(self) -> list[tuple[str, str]]: ...


class Scope(Protocol):
    """The part of granian's RSGI HTTP scope the adapter reads."""

    proto: str
    http_version: str
    server: str
    client: str
    scheme: str
    method: str
    path: str
    query_string: str
    authority: str | None

    @property
    def headers(self) -> Headers: ...


class HTTPProtocol(Protocol):
    """The part of granian's RSGI HTTP protocol object the adapter uses."""

    async def __call__(self) -> bytes: ...
    def __aiter__(self) -> Any: ...
    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...
    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Any: ...


class ReplyToCall(Protocol):
    """The reply to a SOAP or REST call, without a WSGI environ (``None``: not a call)."""

    def __call__(
        self, method: str, path: str, host: str, headers: Headers, read_body: Callable[[], bytes]
    ) -> Reply | None: ...


class BodyTooLarge(Exception):
    """The request body is larger than ``max_body_bytes``."""


class BufferedWsgi:
    """An RSGI app that reads each request body whole (within limits), then calls ``app`` on it."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        request_timeout: float,
        max_body_bytes: int,
        threads: int,
        reply_to_call: ReplyToCall | None = None,
        calls_on_loop: bool = False,
        on_close: Callable[[], object] | None = None,
    ) -> None:
        """``reply_to_call`` answers the calls without a WSGI environ
        (:meth:`~superoffice_emulator.app.EmulatorApp.reply_to_call`), on the event loop when
        ``calls_on_loop``; ``threads`` 0 runs every request there; ``on_close`` runs at shutdown."""
        self.app = app
        self.reply_to_call = reply_to_call
        self.calls_on_loop = calls_on_loop
        self.request_timeout = request_timeout
        self.max_body_bytes = max_body_bytes
        self.threads = threads
        self.on_close = on_close
        self.silent = SilentConnections(request_timeout)
        self._pool: ThreadPoolExecutor | None = None
        self._sweep: asyncio.TimerHandle | None = None
        self._reading: dict[asyncio.Task[Any], float] = {}
        """The requests whose body is being read, with the moment (``time.monotonic()``) it is due."""
        self._late: set[asyncio.Task[Any]] = set()
        """Those of them the sweep has cancelled: their body came too late."""
        self.late_interval = min(1.0, max(0.05, request_timeout / 10))
        """How often the reads are checked: a late body is answered 408 within this after the timeout."""
        self._late_sweep: asyncio.TimerHandle | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.threads:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="emulator-call")
        self._sweep = loop.call_later(self.silent.interval, self._sweep_silent, loop)
        self._late_sweep = loop.call_later(self.late_interval, self._sweep_late, loop)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        for sweep in (self._sweep, self._late_sweep):
            if sweep is not None:
                sweep.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self.on_close is not None:
            self.on_close()

    def _sweep_silent(self, loop: asyncio.AbstractEventLoop) -> None:
        """Shut down the connections that have sent nothing within the timeout; again later."""
        try:
            self.silent.sweep(time.monotonic())
        except Exception:  # never the end of the sweeps
            log.exception("the sweep of silent connections failed")
        self._sweep = loop.call_later(self.silent.interval, self._sweep_silent, loop)

    def _sweep_late(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the body reads past their moment (one timer for all, not one per request); again later."""
        now = time.monotonic()
        for task, due in list(self._reading.items()):
            if due <= now and task not in self._late:
                self._late.add(task)
                task.cancel()
        self._late_sweep = loop.call_later(self.late_interval, self._sweep_late, loop)

    async def __call__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        if scope.proto != "http":
            return
        self.silent.spoke(scope.client)
        task = asyncio.current_task()
        assert task is not None
        self._reading[task] = time.monotonic() + self.request_timeout
        try:
            body = await self._read_body(scope, protocol)
        except asyncio.CancelledError:
            if task not in self._late:  # not the sweep's: the server is stopping
                raise
            task.uncancel()
            protocol.response_bytes(
                408,
                _TEXT_CLOSE,
                f"The request body did not arrive within {self.request_timeout:g} s "
                "(request_timeout).\n".encode(),
            )
            return
        except BodyTooLarge:
            message = f"The request body is larger than {self.max_body_bytes} bytes (max_body_bytes).\n"
            protocol.response_bytes(413, _TEXT_CLOSE, message.encode())
            return
        except Exception:  # the client went away, or sent a broken chunked body
            log.debug("request body of %s %s not read", scope.method, scope.path, exc_info=True)
            with contextlib.suppress(Exception):
                protocol.response_bytes(400, _TEXT_CLOSE, b"The request body could not be read.\n")
            return
        finally:
            del self._reading[task]
            self._late.discard(task)  # cancelled as its read failed anyway: not kept
        parts = self._reply_on_loop(scope, body)
        if parts is None:
            parts = await asyncio.get_running_loop().run_in_executor(self._pool, self._reply, scope, body)
        status, headers, content, complete = parts
        if complete:
            protocol.response_bytes(status, headers, content)
        else:
            shut_down_connection(scope.server, scope.client)
            protocol.response_stream(status, headers)  # and end it at once: the body is cut short

    def _reply(self, scope: Scope, body: bytes) -> ReplyParts:
        """The reply of ``reply_to_call`` to a call, else of the WSGI app."""
        if self.reply_to_call is not None:
            reply = self._reply_to_call(scope, body)
            if reply is not None:
                return reply_parts(reply, scope.method)
        return call_wsgi(self.app, wsgi_environ(scope, body))

    def _reply_on_loop(self, scope: Scope, body: bytes) -> ReplyParts | None:
        """The answer of a request run on the event loop, or ``None`` when it must run on the pool:
        a request that is not a call, one with a large body, one about to block."""
        if self._pool is None:
            return self._reply(scope, body)
        if not self.calls_on_loop or self.reply_to_call is None or len(body) > INLINE_BODY_BYTES:
            return None
        try:
            with blocking.on_event_loop():
                reply = self._reply_to_call(scope, body)
        except blocking.WouldBlock:
            return None
        return None if reply is None else reply_parts(reply, scope.method)

    def _reply_to_call(self, scope: Scope, body: bytes) -> Reply | None:
        assert self.reply_to_call is not None
        headers = scope.headers
        host = headers.get("host") or scope.authority or scope.server.rpartition(":")[0]
        return self.reply_to_call(scope.method, wsgi_path(scope), host, headers, lambda: body)

    async def _read_body(self, scope: Scope, protocol: HTTPProtocol) -> bytes:
        length = scope.headers.get("content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.max_body_bytes:
                raise BodyTooLarge()
            return await protocol()
        chunks, size = [], 0
        async for chunk in protocol:
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge()
            chunks.append(chunk)
        return b"".join(chunks)


_TEXT_CLOSE = [("content-type", "text/plain; charset=utf-8"), ("connection", "close")]

_SPECIAL_HEADERS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def wsgi_path(scope: Scope) -> str:
    """The request's path as WSGI spells it (PEP 3333: its bytes as latin-1), for calls too."""
    path = scope.path
    return path if path.isascii() else path.encode("utf-8").decode("latin-1")


def wsgi_environ(scope: Scope, body: bytes) -> WSGIEnvironment:
    """The WSGI environ (PEP 3333) of the request in ``scope`` whose whole body is ``body``."""
    host, _, port = scope.server.rpartition(":")
    client, _, client_port = scope.client.rpartition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": wsgi_path(scope),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": client,
        "REMOTE_PORT": client_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope.headers.items():
        key = _SPECIAL_HEADERS.get(name) or "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    if scope.authority and "HTTP_HOST" not in environ:
        environ["HTTP_HOST"] = scope.authority
    if body or "CONTENT_LENGTH" in environ:
        environ["CONTENT_LENGTH"] = str(len(body))  # the body is whole: also for a chunked one
    return environ


def call_wsgi(app: WSGIApplication, environ: WSGIEnvironment) -> ReplyParts:
    """Run ``app`` on ``environ``: status, headers, body, and False when the body broke off."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None  # the write() callable; the emulator never uses it

    result: Iterable[bytes] = app(environ, start_response)
    complete = True
    try:
        content = b"".join(result)
    except Exception:
        content, complete = b"", False
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    return int(status.split(" ", 1)[0]), headers, content, complete
