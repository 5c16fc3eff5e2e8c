"""SuperOffice Online's front door: SuperID's sign-in, the tenant status, ``User/currentPrincipal``.

:func:`mount` makes the factory's two small apps of it (the views are
:mod:`superoffice_emulator.online.signin`'s, the pages :mod:`superoffice_emulator.online.pages`').
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from superoffice_emulator.server.web import Mount, tenant_of

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from superoffice_emulator.calls.runtime import Runtime


def mount(runtime: Runtime) -> list[Mount]:
    """The sign-in and status paths (no tenant prefix), and currentPrincipal (with one, or the default)."""
    from superoffice_emulator.online import signin

    views = {
        signin.DISCOVERY: signin.discovery,
        signin.JWKS: signin.jwks,
        signin.AUTHORIZE: signin.authorize,
        signin.TOKENS: signin.tokens,
        signin.REVOKE: signin.revoke,
        signin.LOGOUT: signin.logout,
    }
    methods = {
        signin.AUTHORIZE: ("GET", "POST"),
        signin.LOGOUT: ("GET", "POST"),
        signin.TOKENS: ("POST",),
        signin.REVOKE: ("POST",),
    }

    def login(request: Request, args: Mapping[str, str]) -> Response:
        from werkzeug.exceptions import MethodNotAllowed

        path = request.path.rstrip("/")
        allowed = methods.get(path, ("GET",))
        if request.method not in allowed and not (request.method == "HEAD" and "GET" in allowed):
            raise MethodNotAllowed(valid_methods=allowed)
        if "ctx" in args:
            return signin.tenant_status(runtime, request, args["ctx"])
        return views[path](runtime, request)

    def principal(request: Request, args: Mapping[str, str]) -> Response:
        return signin.current_principal(runtime, request, tenant_of(args, runtime.settings.default_tenant))

    return [
        Mount("login", (*views, signin.STATE), login, tenanted=False),
        Mount("principal", (signin.CURRENT_PRINCIPAL,), principal),
    ]


__all__ = ["mount"]
