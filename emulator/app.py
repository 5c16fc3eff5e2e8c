"""The WSGI application: the SOAP calls, and the small apps for everything else (WSDL, admin, dashboard).

    from emulator.app import create_app
    from emulator.settings import Settings

    app = create_app(Settings(database_url="sqlite:///crm.db"))
    # app is a WSGI callable; app.runtime holds the settings, database and clock.

Every POST to a SOAP path (``[/{tenant}]/Remote/Services86/<service>.svc``) takes one way,
:func:`emulator.soap.endpoint.serve`, straight from the WSGI environ: no werkzeug request or
response on it; every POST to a REST call (``[/{tenant}]/api/v1/Agents/<agent>/<operation>``)
likewise takes :func:`emulator.rest.endpoint.serve`. Every other request goes to :class:`Site`,
werkzeug's request and routing over the small apps the factory mounts (each a
:class:`~emulator.web.Mount` with its own rules, as flask mounts blueprints): the index, the SOAP
paths' GET (WSDL), the REST twin's discovery pages, the admin API, the dashboard.
:meth:`EmulatorApp.__call__` is the one error handler of both: an HTTP error as plain text,
anything unexpected as a 500 whose details only the log has.

Nothing is built at import time: every call to :func:`create_app` makes an independent emulator.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from emulator import __version__, admin, guard, ui, web
from emulator.clock import Clock, utcnow
from emulator.rest import endpoint as rest_endpoint
from emulator.rest import paths as rest_paths
from emulator.runtime import Runtime
from emulator.settings import Settings
from emulator.soap import endpoint, paths
from emulator.soap.operations import SERVICES
from emulator.storage.database import Database
from emulator.storage.fixtures import load_fixtures
from emulator.web import Mount

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("emulator")

_INTERNAL_ERROR = "Internal error in the emulator; see its log."
_ADMIN_PATH = re.compile(r"(?:/[^/]+)?/_emulator(?:/|$)")
"""The admin API's and the dashboard's paths, which answer only under allowed host names."""


class Site:
    """werkzeug's request and routing over mounted small apps; the views' HTTP errors propagate."""

    def __init__(self, mounts: Sequence[Mount], max_body_bytes: int) -> None:
        self.urls = Map([rule for mount in mounts for rule in mount.rules()], strict_slashes=False)
        self.views = {mount.name: mount.view for mount in mounts}
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        name, args = self.urls.bind_to_environ(environ).match()
        response = self.views[name](request, args)
        return response(environ, start_response)


class EmulatorApp:
    """The WSGI callable of one emulator instance."""

    def __init__(self, runtime: Runtime, site: Site) -> None:
        self.runtime = runtime
        self.site = site
        self.hosts = guard.HostRules.of(runtime.settings.allowed_hosts)
        self._local_database = runtime.database.engine.dialect.name == "sqlite"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            refusal = guard.check(
                self.hosts,
                method=environ.get("REQUEST_METHOD", "GET"),
                host=environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
                origin=environ.get("HTTP_ORIGIN"),
                fetch_site=environ.get("HTTP_SEC_FETCH_SITE"),
                admin=_ADMIN_PATH.match(environ.get("PATH_INFO", "")) is not None,
            )
            if refusal is not None:
                return web.send(web.text(refusal.status, refusal.message), environ, start_response)
            path = environ.get("PATH_INFO", "")
            call = paths.CALL_PATH.fullmatch(path)
            if call is not None:
                if environ.get("REQUEST_METHOD") == "POST":
                    return endpoint.serve(self.runtime, environ, start_response, call.group(1), call.group(2))
                environ["PATH_INFO"] = paths.routed_path(call)  # the WSDL's GET, in any case
            elif environ.get("REQUEST_METHOD") == "POST":
                rest_call = rest_paths.CALL_PATH.fullmatch(path)
                if rest_call is not None:
                    return rest_endpoint.serve(self.runtime, environ, start_response, *rest_call.groups())
            return self.site(environ, start_response)
        except HTTPException as exc:
            answer = web.text(exc.code or 500, exc.description or exc.name)
        except Exception:  # never a stack trace to a client; the log has it
            log.exception(
                "unexpected error serving %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
            )
            answer = web.text(500, _INTERNAL_ERROR)
        return web.send(answer, environ, start_response)

    def is_call(self, environ: WSGIEnvironment) -> bool:
        """Whether the request is a SOAP or REST call on a SQLite database, which may run on a
        server's event loop (:mod:`emulator.blocking`). Admin, dashboard and WSDL requests are
        not, nor are calls on PostgreSQL, whose every statement waits for the network."""
        if environ.get("REQUEST_METHOD") != "POST" or not self._local_database:
            return False
        path = environ.get("PATH_INFO", "")
        return paths.CALL_PATH.fullmatch(path) is not None or rest_paths.CALL_PATH.fullmatch(path) is not None


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
    mounts = [
        index(),
        paths.mount(settings.default_tenant),
        rest_paths.mount(settings.default_tenant),
        admin.mount(runtime),
        ui.mount(),
    ]
    return EmulatorApp(runtime, Site(mounts, settings.max_body_bytes))
