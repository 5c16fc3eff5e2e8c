"""Where the SOAP services are: their paths, the one route check, and the page a GET of them gets.

    /Remote/Services86/Appointment.svc          the default tenant's Appointment service
    /Cust1/Remote/Services86/SoPrincipal.svc    tenant Cust1's SoPrincipal service
    ...Appointment.svc?wsdl                     its WSDL (GET)

A POST to such a path is a call (:mod:`superoffice_emulator.soap.endpoint`, straight from the WSGI environ);
any other method is the small app :func:`mount` (WSDL on GET, 405 otherwise). Both ask
:func:`service_at` which tenant and service a path names, and get a 404 for the same paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request, Response

from superoffice_emulator.domain.values import is_tenant_name, tenant_name_error
from superoffice_emulator.server.web import Mount, text_response
from superoffice_emulator.soap.documents import build_wsdl
from superoffice_emulator.soap.operations import SERVICES

SERVICE_ROOT = "/Remote/Services86/"

CALL_PATH = re.compile(r"(?:/(?!_emulator/)([^/]+))?(?i:" + re.escape(SERVICE_ROOT) + r")([^/]+)/?")
"""A path :func:`mount`'s rules match, as a pattern for the POSTs: (tenant or ``None``, file name).
``Remote/Services86`` and the file name in any case, as on IIS; under ``/_emulator/`` is the admin
API's, not a tenant's."""

_SERVICE_FILES = {f"{service}.svc".lower(): service for service in SERVICES}


def routed_path(call: re.Match[str]) -> str:
    """The path of a :data:`CALL_PATH` match as :func:`mount`'s rules spell it (IIS ignores case)."""
    tenant, file_name = call.group(1), call.group(2)
    return ("" if tenant is None else f"/{tenant}") + SERVICE_ROOT + file_name


def service_at(tenant: str | None, file_name: str, default_tenant: str) -> tuple[str, str]:
    """The tenant and service a SOAP path names (``Appointment.svc``, ``appointment.SVC`` →
    ``Appointment``); else 404."""
    tenant = default_tenant if tenant is None else tenant
    if not is_tenant_name(tenant):
        raise NotFound(tenant_name_error(tenant))
    service = _SERVICE_FILES.get(file_name.lower())
    if service is None:
        raise NotFound(
            f"No such service {file_name!r}. The emulator serves: "
            + ", ".join(f"{SERVICE_ROOT}{s}.svc" for s in SERVICES)
        )
    return tenant, service


def mount(default_tenant: str) -> Mount:
    """The small app of the SOAP paths for every method but POST: the WSDL, or how to call."""

    def page(request: Request, args: Mapping[str, str]) -> Response:
        _, service = service_at(args.get("tenant"), args["service"], default_tenant)
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "Use POST for SOAP calls, GET ?wsdl for the WSDL.")
        if not {"wsdl", "singlewsdl"} & {key.lower() for key in request.args}:
            return text_response(
                200, f"This is the emulated {service}.svc. The WSDL is at {request.base_url}?wsdl\n"
            )
        document = build_wsdl(service, request.base_url)  # type: ignore[arg-type]
        return Response(document, 200, content_type="text/xml; charset=utf-8")

    return Mount("soap", (SERVICE_ROOT + "<service>",), page)
