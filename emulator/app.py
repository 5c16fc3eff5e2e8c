"""The WSGI application: routes NetServer paths (with or without a tenant prefix) and the admin API.

    from emulator.app import create_app
    from emulator.settings import Settings

    app = create_app(Settings(database_url="sqlite:///crm.db"))
    # app is a WSGI callable; app.runtime holds the settings, database and clock.

Nothing is built at import time: every call to :func:`create_app` makes an independent emulator.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from emulator import __version__, admin, ui
from emulator.bodies import read_body
from emulator.clock import Clock, utcnow
from emulator.domain.values import is_tenant_name, tenant_name_error
from emulator.runtime import Runtime
from emulator.settings import Settings
from emulator.soap.documents import build_wsdl
from emulator.soap.endpoint import HttpHead, soap_call
from emulator.soap.operations import SERVICES
from emulator.soap.replies import Reply
from emulator.storage.database import Database
from emulator.storage.fixtures import load_fixtures

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("emulator")


_SOAP_PATH = re.compile(r"(?:/([^/]+))?/Remote/Services86/([^/]+)\.svc")
"""A SOAP endpoint's path, with the tenant prefix or without, as the routes below match it."""

_INTERNAL_ERROR = "Internal error in the emulator; see its log."

_URLS = Map(
    [
        Rule("/", endpoint="index"),
        Rule("/Remote/Services86/<service>", endpoint="soap"),
        Rule("/<tenant>/Remote/Services86/<service>", endpoint="soap"),
        Rule("/_emulator", endpoint="admin"),
        Rule("/_emulator/<path:rest>", endpoint="admin"),
        Rule("/<tenant>/_emulator", endpoint="admin"),
        Rule("/<tenant>/_emulator/<path:rest>", endpoint="admin"),
        Rule("/_emulator/ui", endpoint="ui"),
        Rule("/_emulator/ui/<path:asset>", endpoint="ui"),
        Rule("/<tenant>/_emulator/ui", endpoint="ui"),
        Rule("/<tenant>/_emulator/ui/<path:asset>", endpoint="ui"),
    ],
    strict_slashes=False,
)


class EmulatorApp:
    """The WSGI callable of one emulator instance."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._urls = _URLS

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            fast = self._plain_soap_post(environ)
            if fast is not None:
                try:
                    return self._soap_post(environ, start_response, *fast)
                except Exception:  # as below: the log has it, the client gets no stack trace
                    log.exception("unexpected error serving POST %s", environ.get("PATH_INFO"))
                    return _text(500, _INTERNAL_ERROR)(environ, start_response)
        request = Request(environ)
        request.max_content_length = self.runtime.settings.max_body_bytes
        try:
            response = self.dispatch(request)
        except HTTPException as exc:
            response = _text(exc.code or 500, exc.description or exc.name)
        except DropConnection:
            return _drop(environ, start_response)
        except Exception:  # never a stack trace to a client; the log has it
            log.exception("unexpected error serving %s %s", request.method, request.path)
            response = _text(500, _INTERNAL_ERROR)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self._urls.bind_to_environ(request.environ)
        endpoint, args = adapter.match()
        if endpoint == "index":
            return _text(
                200,
                f"superoffice-emulator {__version__}: NetServer Services86 at "
                f"/Remote/Services86/{{{','.join(s + '.svc' for s in SERVICES)}}}\n",
            )
        if endpoint == "ui":
            return ui.serve(request, args.get("tenant"), args.get("asset", ""))
        if endpoint == "admin":
            return admin.handle(self.runtime, request, args.get("tenant"), args.get("rest", ""))
        tenant = args.get("tenant", self.runtime.settings.default_tenant)
        if not is_tenant_name(tenant):
            raise NotFound(tenant_name_error(tenant))
        service = args["service"].removesuffix(".svc")
        if service not in SERVICES or not args["service"].endswith(".svc"):
            raise NotFound(
                f"No such service {args['service']!r}. The emulator serves: "
                + ", ".join(f"/Remote/Services86/{s}.svc" for s in SERVICES)
            )
        if request.method == "GET":
            return self.wsdl(request, service)
        if request.method != "POST":
            return _text(405, "Use POST for SOAP calls, GET ?wsdl for the WSDL.")
        return _reply(
            soap_call(self.runtime, tenant, service, HttpHead.of(request.environ), read_body(request))
        )

    def _plain_soap_post(self, environ: WSGIEnvironment) -> tuple[str, str, int] | None:
        """Tenant, service and body length of a SOAP POST with nothing unusual about it, else ``None``.

        Such a POST (an exact service path, a valid tenant, a Content-Length within the limit)
        skips werkzeug's request, routing and response objects; every other request, including
        every one that is answered with an HTTP error, takes the general way through
        :meth:`dispatch`.
        """
        match = _SOAP_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return None
        tenant, service = match.group(1) or self.runtime.settings.default_tenant, match.group(2)
        length = environ.get("CONTENT_LENGTH", "")
        if service not in SERVICES or not is_tenant_name(tenant) or not length.isdigit():
            return None
        if int(length) > self.runtime.settings.max_body_bytes:
            return None
        return tenant, service, int(length)

    def _soap_post(
        self, environ: WSGIEnvironment, start_response: StartResponse, tenant: str, service: str, length: int
    ) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(length)
        if len(body) < length:  # the client stopped sending: never act on part of a request
            message = f"The request body ended after {len(body)} of the {length} bytes of its Content-Length."
            return _text(400, message)(environ, start_response)
        reply = soap_call(self.runtime, tenant, service, HttpHead.of(environ), body)
        if reply.drop_connection:
            return _drop(environ, start_response)
        start_response(
            f"{reply.status} {HTTP_STATUS_CODES[reply.status]}",
            [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body)))],
        )
        return [reply.body]

    def wsdl(self, request: Request, service: str) -> Response:
        if not {"wsdl", "singlewsdl"} & {key.lower() for key in request.args}:
            return _text(200, f"This is the emulated {service}.svc. The WSDL is at {request.base_url}?wsdl\n")
        document = build_wsdl(service, request.base_url)  # type: ignore[arg-type]
        return Response(document, 200, content_type="text/xml; charset=utf-8")


def _text(status: int, text: str) -> Response:
    return Response(
        text if text.endswith("\n") else text + "\n", status, content_type="text/plain; charset=utf-8"
    )


class DropConnection(Exception):
    """Raised to close the client's connection without an answer."""


def _drop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
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


def _reply(reply: Reply) -> Response:
    if reply.drop_connection:
        raise DropConnection()
    return Response(reply.body, reply.status, content_type=reply.content_type)


def create_app(settings: Settings | None = None, *, clock: Clock = utcnow) -> EmulatorApp:
    """Build an emulator for ``settings``: load fixtures, open the database, create the schema."""
    settings = settings or Settings()
    fixtures = load_fixtures(settings.fixtures)
    database = Database(settings.database_url, fixtures, journal_size=settings.journal_size)
    database.create_schema()
    return EmulatorApp(Runtime(settings, database, clock))
