"""SuperOffice Online's front door: SuperID's sign-in, the tenant status, ``User/currentPrincipal``,
the system-user exchange (:mod:`superoffice_emulator.online.system_user`).

:func:`mount` makes the factory's three small apps of it (the views are
:mod:`superoffice_emulator.online.signin`'s, the pages :mod:`superoffice_emulator.online.pages`').
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from superoffice_emulator.server.web import Mount, tenant_of

SYSTEM_USER_PATHS = tuple(
    f"/{login}/{rest}"
    for login in ("Login", "login")
    for rest in (
        "api/PartnerSystemUser/Authenticate",
        "services/PartnerSystemUserService.svc",
        "Services/PartnerSystemUserService.svc",
    )
)
"""The system-user exchange's paths, in the spellings SuperOffice's samples use (IIS ignores case)."""

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

    def system_user_exchange(request: Request, args: Mapping[str, str]) -> Response:
        from superoffice_emulator.online import system_user

        return system_user.view(runtime, request, args)

    return [
        Mount("login", (*views, signin.STATE), login, tenanted=False),
        Mount("principal", (signin.CURRENT_PRINCIPAL,), principal),
        Mount("system_user", SYSTEM_USER_PATHS, system_user_exchange, tenanted=False),
    ]


__all__ = ["mount"]
