"""What the HTTP side shares: answers in plain WSGI for the calls, and the :class:`Mount` of a small app.

    reply = Reply(200, "text/xml; charset=utf-8", b"<s:Envelope>...</s:Envelope>")
    return send(reply, environ, start_response)   # no werkzeug Response on the way

A codec (:mod:`emulator.soap.endpoint`, the REST twin) encodes an outcome into a :class:`Reply`;
:func:`injected` is the part of an injected transport fault that looks the same on every wire.
The pages (WSDL, admin API, dashboard) are small werkzeug apps, each a :class:`Mount` that
:func:`emulator.app.create_app` puts together.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from emulator.calls import Injected

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, content type and body bytes."""

    status: int
    content_type: str
    body: bytes
    drop_connection: bool = False
    """Close the connection without answering (an injected fault)."""
    headers: tuple[tuple[str, str], ...] = ()
    """More response headers (REST's ``WWW-Authenticate`` on a 401)."""


def text(status: int, message: str) -> Reply:
    """A plain-text answer (one line ending in a newline)."""
    body = message if message.endswith("\n") else message + "\n"
    return Reply(status, "text/plain; charset=utf-8", body.encode())


def injected(fault: Injected, malformed: Reply) -> Reply:
    """The answer of an injected transport fault; ``malformed`` is the wire's broken answer."""
    if fault.kind == "drop":
        return Reply(0, "", b"", drop_connection=True)
    if fault.http_status is not None:
        return text(fault.http_status, f"Injected HTTP {fault.http_status}.")
    return malformed


def send(reply: Reply, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Answer ``reply`` through ``start_response``, or drop the connection when it says so."""
    if reply.drop_connection:
        return drop(environ, start_response)
    if reply.status == 204:  # No Content: no body, and no headers describing one
        start_response("204 No Content", list(reply.headers))
        return []
    start_response(
        f"{reply.status} {HTTP_STATUS_CODES[reply.status]}",
        [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body))), *reply.headers],
    )
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [reply.body]


def drop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Close the connection: at the socket when the server exposes it, else by a broken body."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return []
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", "1000")])

    def broken() -> Iterator[bytes]:
        raise ConnectionAbortedError("injected dropped connection")
        yield b""  # pragma: no cover

    return broken()


View = Callable[[Request, Mapping[str, str]], Response]
"""A small app's answer to a request whose path matched one of its rules (with the rule's values)."""


@dataclass(frozen=True)
class Mount:
    """A small app as the factory mounts it: its name, the paths it owns and its view.

    Each path is served as it stands and, when ``tenanted``, under a tenant prefix too
    (``/_emulator/health`` and ``/{tenant}/_emulator/health``); the view finds the tenant, if
    any, in its values under ``"tenant"``.
    """

    name: str
    paths: tuple[str, ...]
    view: View
    tenanted: bool = True

    def rules(self) -> Iterator[Rule]:
        for path in self.paths:
            yield Rule(path, endpoint=self.name)
            if self.tenanted:
                yield Rule("/<tenant>" + path, endpoint=self.name)


def text_response(status: int, message: str) -> Response:
    """:func:`text` as a werkzeug response, for the small apps."""
    answer = text(status, message)
    return Response(answer.body, status, content_type=answer.content_type)
