"""Browser apps on other origins (CORS), as NetServer's WebApi and SuperOffice Online allow them.

A single-page app on ``https://app.example.com`` calls the REST API with its credentials in
headers (``Authorization: Bearer 8A:...``, ``SO-AppToken``). The browser asks first (a preflight:
``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) and lets the page read an
answer only when it names the page's origin::

    OPTIONS /Cust12345/api/v1/Agents/Appointment/SetActivityStatus    Origin: https://app.example.com
    204 No Content    Access-Control-Allow-Origin: https://app.example.com    Vary: Origin ...

Which origins may: ``--cors-origin`` (NetServer's ``CORSOrigin``; ``*`` for any) in both modes,
and in online mode also the ``allowed_origins`` of the tenant's applications, as Online allows the
origins an app registers. Where: the REST API under a tenant or without one (``/{ctx}/api/...``,
``/api/...``: the agents, ``User/currentPrincipal``, ``Webhook``, the discovery pages), the tenant
status (``/api/state/{ctx}``, that tenant's applications) and SuperID's discovery, JWKS, token and
revocation endpoints (every application's origins). Never the admin API, the dashboard, SOAP, the
sign-in page or SuperID's system user exchange (``/login/api/...``).

An origin allowed on a path also passes the cross-site guard there (:mod:`.guard`): its pages are
the user's own app. Any other origin's preflight is refused with no CORS header (the browser then
sends nothing), and the guard refuses its state-changing requests as before. Credentials travel in
headers only: no answer says ``Access-Control-Allow-Credentials``, so no cookie is ever sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from superoffice_emulator.domain.online import origin_allowed, origin_key
from superoffice_emulator.domain.values import is_tenant_name
from superoffice_emulator.server.web import Headers, Reply, text
from superoffice_emulator.storage.queries import registered_origins

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse

    from superoffice_emulator.calls.runtime import Runtime

ALLOWED_METHODS = "GET, HEAD, POST, PUT, DELETE"
ALLOWED_HEADERS = (
    "Authorization, Content-Type, Accept, Accept-Language, SO-AppToken, SO-Language, SO-Culture, SO-TimeZone"
)
"""The request headers a browser app may send: its credentials and what the REST API reads."""
EXPOSED_HEADERS = "WWW-Authenticate"
"""The answer's headers a page may read besides the safelisted ones (a 401's schemes)."""
MAX_AGE_SECONDS = "600"
ADVICE = (
    "A browser app's pages may call the REST API once their origin is allowed: start the emulator "
    "with --cors-origin <origin> (EMULATOR_CORS_ORIGIN), or, in online mode, register the origin in "
    "an application's allowed_origins."
)
"""What a refused page's answer says to do, when that page is the user's own app."""

_SUPERID_PATHS = re.compile(
    r"/login/(?:\.well-known/(?:openid-configuration|jwks)|common/oauth/(?:tokens|revoke))/?"
)
_STATUS_PATH = re.compile(r"/api/state/([^/]+)/?", re.IGNORECASE)
# SuperID's own /login/api/... (the system user exchange: a server's, never a page's) names no tenant
_API_PATH = re.compile(r"(?:/(?!_emulator/|login/)([^/]+))?/api(?:/.*)?", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Scope:
    """Whose registered origins a path answers: a tenant's, or every application's (``None``)."""

    tenant: str | None


def scope_of(path: str, default_tenant: str) -> Scope | None:
    """The scope of a path browser apps may call; ``None`` for every other path."""
    if _SUPERID_PATHS.fullmatch(path):
        return Scope(None)
    status = _STATUS_PATH.fullmatch(path)
    found = status or _API_PATH.fullmatch(path)
    if found is None:
        return None
    tenant = found.group(1) or default_tenant
    return Scope(tenant) if is_tenant_name(tenant) else None


def preflight_headers(origin: str, *, private_network: bool = False) -> tuple[tuple[str, str], ...]:
    """An allowed origin's preflight answer; ``private_network``: the browser asked whether a public
    site's page may reach this machine (Chromium's Private Network Access), and it may."""
    private = (("Access-Control-Allow-Private-Network", "true"),) if private_network else ()
    return (
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", ALLOWED_METHODS),
        ("Access-Control-Allow-Headers", ALLOWED_HEADERS),
        ("Access-Control-Max-Age", MAX_AGE_SECONDS),
        *private,
        ("Vary", "Origin"),
    )


def answer_headers(origin: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
        ("Vary", "Origin"),
    )


class Cors:
    """Which origins may call which paths of one emulator, and the headers that say so."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.configured: tuple[str, ...] = runtime.settings.cors_origins
        self.registered = runtime.settings.mode == "online"
        """Whether the applications' registered origins count (online mode)."""

    def covers(self, path: str) -> bool:
        """Whether browser apps may call ``path`` at all (from an allowed origin)."""
        return scope_of(path, self.runtime.settings.default_tenant) is not None

    def allowed(self, path: str, origin: str | None) -> str | None:
        """``origin`` (as browsers write it: lower case, no trailing slash), when its pages may call
        ``path``; else ``None``."""
        key = None if origin is None else origin_key(origin)
        scope = None if key is None else scope_of(path, self.runtime.settings.default_tenant)
        if key is None or scope is None:
            return None
        if origin_allowed(key, self.configured) or (
            self.registered and origin_allowed(key, self._registered(scope))
        ):
            return key
        return None

    def _registered(self, scope: Scope) -> Iterable[str]:
        # read on each request with an Origin; for SuperID's paths (no tenant) that is every tenant's
        # applications: one small query, cheap next to the token exchange it guards
        return registered_origins(self.runtime.database, scope.tenant)

    def preflight(self, method: str, path: str, headers: Headers, allowed: str | None) -> Reply | None:
        """The answer to a browser's preflight on a path browser apps may call (``allowed``: what
        :meth:`allowed` said of its origin); ``None`` for any other request."""
        origin = headers.get("origin")
        if method != "OPTIONS" or origin is None or headers.get("access-control-request-method") is None:
            return None
        if allowed is not None:
            private = (headers.get("access-control-request-private-network") or "").lower() == "true"
            return Reply(204, "", b"", headers=preflight_headers(allowed, private_network=private))
        if not self.covers(path):
            return None
        return text(403, f"Refused: pages at {origin.strip()[:200]!r} may not call this path. {ADVICE}")


def answered(reply: Reply, origin: str | None) -> Reply:
    """``reply`` with the headers that let a page at ``origin`` read it (as it is for ``None``)."""
    if origin is None:
        return reply
    return replace(reply, headers=reply.headers + answer_headers(origin))


def start_with(start_response: StartResponse, origin: str | None) -> StartResponse:
    """``start_response`` that adds the headers letting a page at ``origin`` read the answer."""
    if origin is None:
        return start_response
    extra = list(answer_headers(origin))

    def start(
        status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
    ) -> Callable[[bytes], object]:
        return start_response(status, headers + extra, exc_info)

    return start
