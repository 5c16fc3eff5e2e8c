"""The WSGI application: the SOAP and REST calls, and the small apps for everything else.

    from superoffice_emulator.app import create_app
    from superoffice_emulator.settings import Settings

    app = create_app(Settings(database_url="sqlite:///crm.db"))
    # app is a WSGI callable; app.runtime holds the settings, database and clock.

A POST to a call's path takes :meth:`EmulatorApp.reply_to_call` (the same under WSGI and RSGI, with no
werkzeug request on the way); every other request goes to :class:`Site`, werkzeug's routing over the
small apps the factory mounts (index, WSDL, REST discovery, admin API, dashboard). ``_failure`` is
the one error handler of both. Nothing is built at import time.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from superoffice_emulator import __version__, admin, online
from superoffice_emulator.admin import dashboard as ui
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.domain.clock import Clock, utcnow
from superoffice_emulator.domain.hosts import SUPEROFFICE_HOSTS
from superoffice_emulator.rest import endpoint as rest_endpoint
from superoffice_emulator.rest import paths as rest_paths
from superoffice_emulator.rest import webhooks as rest_webhooks
from superoffice_emulator.server import cors, guard, web
from superoffice_emulator.server.bodies import read_environ
from superoffice_emulator.server.web import EnvironHeaders, Headers, Mount, Reply
from superoffice_emulator.settings import Settings
from superoffice_emulator.soap import endpoint, paths
from superoffice_emulator.soap.operations import SERVICES
from superoffice_emulator.storage.database import Database
from superoffice_emulator.storage.fixtures import load_fixtures
from superoffice_emulator.webhooks.delivery import FAST, NETSERVER, Deliverer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("emulator")

_INTERNAL_ERROR = "Internal error in the emulator; see its log."
_ADMIN_PATH = re.compile(r"(?:/+[^/]+)?/+_emulator(?:/|$)")
"""The admin API's and the dashboard's paths, which answer only under allowed host names; in any
run of slashes, as the router merges them (``//_emulator/consents`` is the admin API too)."""


class Site:
    """werkzeug's request and routing over mounted small apps; the views' HTTP errors propagate."""

    def __init__(self, mounts: Sequence[Mount], max_body_bytes: int) -> None:
        self.mounts = mounts
        self.views = {mount.name: mount.view for mount in mounts}
        self.max_body_bytes = max_body_bytes

    @functools.cached_property
    def urls(self) -> Map:
        """The mounts' routes, compiled by the first request that needs them: werkzeug compiles each
        rule to Python code, a noticeable part of a start-up, and a call never needs them."""
        return Map([rule for mount in self.mounts for rule in mount.rules()], strict_slashes=False)

    def warm(self) -> None:
        """Compile the routes now: a server does it on a thread of its own once it answers, so that
        its first page (a health check's ``GET /``) does not wait for them."""
        self.urls.update()  # werkzeug sorts the rules and builds its matcher on the first match

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        name, args = self.urls.bind_to_environ(environ).match()
        response = self.views[name](request, args)
        return response(environ, start_response)


class EmulatorApp:
    """The WSGI callable of one emulator instance; :meth:`reply_to_call` answers a call without WSGI."""

    def __init__(self, runtime: Runtime, site: Site) -> None:
        self.runtime = runtime
        self.site = site
        settings = runtime.settings
        # serving HTTPS, it may be reached as SuperOffice's hosts (sod.superoffice.com), which it answers as
        superoffice = SUPEROFFICE_HOSTS if settings.tls else ()
        self.hosts = guard.HostRules.of((*settings.allowed_hosts, *superoffice))
        self.cors = cors.Cors(runtime)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        limit = self.runtime.settings.max_body_bytes
        reply = self.reply_to_call(
            method, path, host, EnvironHeaders(environ), lambda: read_environ(environ, limit)
        )
        if reply is None:
            try:
                return self._page(environ, start_response, method, path, host)
            except Exception as exc:
                reply = _failure(exc, method, path)
        return web.send(reply, environ, start_response)

    def reply_to_call(
        self, method: str, path: str, host: str, headers: Headers, read_body: Callable[[], bytes]
    ) -> Reply | None:
        """The answer to a SOAP or REST call (a POST to a call's path), the same under any server;
        ``None`` for any other request (the WSGI app answers it). ``read_body`` is called once the
        path is known to name a service; an HTTP error it raises is answered, as is any failure."""
        if method != "POST":
            return None
        soap = paths.CALL_PATH.fullmatch(path)
        rest = rest_paths.CALL_PATH.fullmatch(path) if soap is None else None
        if soap is None and rest is None:
            return None
        if rest is not None and rest.group(2).lower() == "webhook":
            return None  # the Webhook agent is a small app's (superoffice_emulator.rest.webhooks)
        app_origin = None
        try:
            app_origin = None if rest is None else self.cors.allowed(path, headers.get("origin"))
            # no call path is admin's
            refusal = self._refusal(method, path, host, headers, admin=False, app_origin=app_origin)
            if refusal is not None:
                return refusal
            if soap is not None:
                return endpoint.reply(self.runtime, headers, read_body, soap.group(1), soap.group(2))
            assert rest is not None
            reply = rest_endpoint.reply(self.runtime, headers, read_body, *rest.groups())
        except Exception as exc:
            reply = _failure(exc, method, path)
        return cors.answered(reply, app_origin)

    def _page(
        self, environ: WSGIEnvironment, start_response: StartResponse, method: str, path: str, host: str
    ) -> Iterable[bytes]:
        """Any request but a call: a refusal, a browser's preflight, or the small apps' answer."""
        admin = _ADMIN_PATH.match(path) is not None
        headers = EnvironHeaders(environ)
        app_origin = None if admin else self.cors.allowed(path, headers.get("origin"))
        refusal = self._refusal(method, path, host, headers, admin=admin, app_origin=app_origin)
        if refusal is None and not admin:
            refusal = self.cors.preflight(method, path, headers, app_origin)
        if refusal is not None:
            return web.send(refusal, environ, start_response)
        call = paths.CALL_PATH.fullmatch(path)
        if call is not None:
            environ["PATH_INFO"] = paths.routed_path(call)  # the WSDL's GET, in any case
        return self.site(environ, cors.start_with(start_response, app_origin))

    def _refusal(
        self, method: str, path: str, host: str, headers: Headers, *, admin: bool, app_origin: str | None
    ) -> Reply | None:
        """The guard's refusal; on a path browser apps may call, it also says how to allow one."""
        refusal = guard.check(
            self.hosts,
            method=method,
            host=host,
            origin=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
            admin=admin,
            app_origin=app_origin is not None,
        )
        if refusal is None:
            return None
        advice = "" if admin or not self.cors.covers(path) else " " + cors.ADVICE
        return web.text(refusal.status, refusal.message + advice)


def _failure(exc: Exception, method: str, path: str) -> Reply:
    """The one error handler of calls and pages: an HTTP error as plain text, anything unexpected
    as a 500 whose details only the log has (never a stack trace to a client)."""
    if isinstance(exc, HTTPException):
        return web.text(exc.code or 500, exc.description or exc.name)
    log.exception("unexpected error serving %s %s", method, path, exc_info=exc)
    return web.text(500, _INTERNAL_ERROR)


def index() -> Mount:
    """``/``: which emulator this is, and where its services are."""
    text = (
        f"superoffice-emulator {__version__}: NetServer Services86 at "
        f"{paths.SERVICE_ROOT}{{{','.join(s + '.svc' for s in SERVICES)}}}; "
        f"REST at {rest_paths.API_ROOT}/{rest_paths.VERSION}\n"
    )

    def view(request: Request, args: Mapping[str, str]) -> Response:
        return web.text_response(200, text)

    return Mount("index", ("/",), view, tenanted=False)


def create_app(settings: Settings | None = None, *, clock: Clock = utcnow) -> EmulatorApp:
    """Build an emulator for ``settings``: load fixtures, open the database, create the schema."""
    settings = settings or Settings()
    fixtures = load_fixtures(settings.fixtures)
    database = Database(
        settings.database_url,
        fixtures,
        journal_size=settings.journal_size,
        journal_body_bytes=settings.journal_body_bytes,
        max_tenants=settings.max_tenants,
    )
    database.create_schema()
    runtime = Runtime(settings, database, clock)
    timing = FAST if settings.webhook_fast_retries else NETSERVER
    deliverer = Deliverer(database, timing=timing, keep=settings.webhook_log_size)
    database.wants_delivery = deliverer.start
    database.on_dispose.append(deliverer.close)
    if database.has_pending_events():  # committed before a restart (or a crash): delivered now
        deliverer.start()
    mounts = [
        index(),
        paths.mount(settings.default_tenant),
        rest_paths.mount(settings.default_tenant),
        *online.mount(runtime),
        rest_webhooks.mount(runtime),
        admin.mount(runtime),
        ui.mount(),
    ]
    return EmulatorApp(runtime, Site(mounts, settings.max_body_bytes))
