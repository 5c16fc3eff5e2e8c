"""Where the SOAP services are: their paths, the one route check, and the page a GET of them gets.

    /Remote/Services86/Appointment.svc          the default tenant's Appointment service
    /Cust1/Remote/Services86/SoPrincipal.svc    tenant Cust1's SoPrincipal service
    ...Appointment.svc?wsdl                     its WSDL (GET)

A POST to such a path is a call (:mod:`emulator.soap.endpoint`, straight from the WSGI environ);
any other method is the small app :func:`mount` (WSDL on GET, 405 otherwise). Both ask
:func:`service_at` which tenant and service a path names, and get a 404 for the same paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request, Response

from emulator.settings import TENANT_NAME
from emulator.soap.documents import build_wsdl
from emulator.soap.operations import SERVICES
from emulator.web import Mount, text_response

SERVICE_ROOT = "/Remote/Services86/"

CALL_PATH = re.compile(r"(?:/(?!_emulator/)([^/]+))?" + re.escape(SERVICE_ROOT) + r"([^/]+)/?")
"""A path :func:`mount`'s rules match, as a pattern for the POSTs: (tenant or ``None``, file name).
Under ``/_emulator/`` is the admin API's, not a tenant's."""


def service_at(tenant: str | None, file_name: str, default_tenant: str) -> tuple[str, str]:
    """The tenant and service a SOAP path names (``Appointment.svc`` → ``Appointment``); else 404."""
    tenant = default_tenant if tenant is None else tenant
    if not TENANT_NAME.fullmatch(tenant):
        raise NotFound(f"{tenant!r} is not a valid tenant name (letters, digits, _ and -).")
    service = file_name.removesuffix(".svc")
    if service not in SERVICES or not file_name.endswith(".svc"):
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
