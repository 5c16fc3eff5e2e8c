"""What the HTTP side shares: :class:`Reply`, the one response type of a call, and :class:`Mount`.

    reply = Reply(200, "text/xml; charset=utf-8", b"<s:Envelope>...</s:Envelope>")
    return send(reply, environ, start_response)   # no werkzeug Response on the way

A codec (:mod:`superoffice_emulator.soap.endpoint`, :mod:`superoffice_emulator.rest.endpoint`) encodes
an outcome into a :class:`Reply`; :func:`injected` is the part of an injected transport fault that
looks the same on every wire. The pages are small werkzeug apps, each a :class:`Mount`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.exceptions import NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from superoffice_emulator.calls.pipeline import Injected
from superoffice_emulator.domain.values import is_tenant_name, tenant_name_error

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


@dataclass(frozen=True)
class Reply:
    """An HTTP response: status, content type and body bytes."""

    status: int
    content_type: str
    body: bytes
    drop_connection: bool = False
    """Close the connection without answering (an injected fault)."""
    headers: tuple[tuple[str, str], ...] = ()
    """More response headers (REST's ``WWW-Authenticate`` on a 401)."""


def text(status: int, message: str) -> Reply:
    """A plain-text reply (one line ending in a newline)."""
    body = message if message.endswith("\n") else message + "\n"
    return Reply(status, "text/plain; charset=utf-8", body.encode())


def injected(fault: Injected, malformed: Reply) -> Reply:
    """The reply of an injected transport fault; ``malformed`` is the wire's broken reply."""
    if fault.kind == "drop":
        return Reply(0, "", b"", drop_connection=True)
    if fault.http_status is not None:
        return text(fault.http_status, f"Injected HTTP {fault.http_status}.")
    return malformed


ReplyParts = tuple[int, list[tuple[str, str]], bytes, bool]
"""A reply as a server sends it: status, headers, body, and False when it breaks off instead:
the connection is dropped (or, where it cannot be, the announced body cut short)."""

_BROKEN_OFF_HEADERS = (("Content-Type", "text/xml"), ("Content-Length", "1000"))
"""The head of an answer whose body never comes (an injected ``drop``, where the socket is out of reach)."""


def reply_parts(reply: Reply, method: str) -> ReplyParts:
    """``reply`` as status, headers and body for a request of ``method`` (no body for HEAD)."""
    if reply.drop_connection:
        return 200, list(_BROKEN_OFF_HEADERS), b"", False
    if reply.status == 204:  # No Content: no body, and no headers describing one
        return 204, list(reply.headers), b"", True
    headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body)))]
    if reply.headers:
        headers += reply.headers
    return reply.status, headers, b"" if method == "HEAD" else reply.body, True


def send(reply: Reply, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Answer ``reply`` through ``start_response``, or drop the connection when it says so."""
    status, headers, body, complete = reply_parts(reply, environ.get("REQUEST_METHOD", "GET"))
    if not complete:
        return drop(environ, start_response)
    start_response(f"{status} {HTTP_STATUS_CODES[status]}", headers)
    return [body] if body else []


class Headers(Protocol):
    """A request's headers by lower-case name, as granian's RSGI scope has them."""

    def get(self, key: str, default: Any = None) -> Any: ...


class EnvironHeaders:
    """The request headers of a WSGI environ by lower-case name (``content-type``, ``soapaction``)."""

    __slots__ = ("environ",)

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self.environ = environ

    def get(self, key: str, default: Any = None) -> Any:
        return self.environ.get(environ_key(key), default)


@functools.lru_cache(maxsize=256)
def environ_key(name: str) -> str:
    """The WSGI environ's key of header ``name`` (PEP 3333): ``CONTENT_TYPE``, ``HTTP_SOAPACTION``."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key


def drop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Close the connection: at the socket when the server exposes it, else by a broken body."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return []
    start_response("200 OK", list(_BROKEN_OFF_HEADERS))

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


def tenant_of(args: Mapping[str, str], default: str) -> str:
    """The tenant a mounted path names (``default`` when it names none); a name that is no tenant
    name is :class:`~werkzeug.exceptions.NotFound`, before anything is read or made for it."""
    tenant = args.get("tenant") or default
    if not is_tenant_name(tenant):
        raise NotFound(tenant_name_error(tenant))
    return tenant


def json_response(data: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``data`` as a JSON answer of the small apps (the admin API, the sign-in), never cached."""
    response = Response(json.dumps(data, ensure_ascii=False) + "\n", status, content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def response_of(reply: Reply) -> Response:
    """A :class:`Reply` as a werkzeug response, for the small apps."""
    return Response(reply.body, reply.status, headers=list(reply.headers), content_type=reply.content_type)


def text_response(status: int, message: str) -> Response:
    """:func:`text` as a werkzeug response, for the small apps."""
    return response_of(text(status, message))
