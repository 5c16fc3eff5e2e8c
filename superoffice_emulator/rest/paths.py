"""Where the REST twin is: its paths, the one route check, and the discovery pages.

    /api/v1/Agents/Appointment/SetActivityStatus          the default tenant's call (POST)
    /Cust1/api/v1/Agents/Appointment/SetActivityStatus    tenant Cust1's, as Online addresses it
    /api, /api/v1                                         the version block, the endpoints (GET)
    /api/v1/openapi.json                                  the OpenAPI 3.1 document of the REST twin

A POST to a call path is served straight from the WSGI environ (:mod:`superoffice_emulator.rest.endpoint`);
every other request on these paths is the small app :func:`mount`. Both ask :func:`agent_at`
which tenant and operation a path names, and get a 404 for the same paths. The path's
``api/v1/Agents`` part and the agent and operation names match in any case, as IIS has it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Request, Response

from superoffice_emulator import __version__
from superoffice_emulator.domain.values import is_tenant_name, tenant_name_error
from superoffice_emulator.rest import openapi, replies
from superoffice_emulator.rest.operations import AGENTS, ENDPOINTS, Reader
from superoffice_emulator.server.web import Mount

API_ROOT = "/api"
VERSION = "v1"
AGENTS_ROOT = f"{API_ROOT}/{VERSION}/Agents/"
OPENAPI = f"{API_ROOT}/{VERSION}/openapi.json"

CALL_PATH = re.compile(r"(?:/(?!_emulator/)([^/]+))?/api/v1/agents/([^/]+)/([^/]+)/?", re.IGNORECASE)
"""A REST call's path, as a pattern for the POSTs: (tenant or ``None``, agent, operation)."""

_AGENTS_LOWER = {
    agent.lower(): (agent, {name.lower(): (name, reader) for name, reader in operations.items()})
    for agent, operations in AGENTS.items()
}


def endpoint_paths() -> list[str]:
    """The call paths the emulator serves, without a tenant."""
    return [f"{AGENTS_ROOT}{agent}/{name}" for agent, name in ENDPOINTS]


def _tenant(name: str) -> str:
    if not is_tenant_name(name):
        raise NotFound(tenant_name_error(name))
    return name


def agent_at(
    tenant: str | None, agent: str, operation: str, default_tenant: str
) -> tuple[str, str, str, Reader]:
    """Tenant, agent, operation and reader a call path names (in any case); else ``NotFound``."""
    tenant = _tenant(default_tenant if tenant is None else tenant)
    served = _AGENTS_LOWER.get(agent.lower())
    found = None if served is None else served[1].get(operation.lower())
    if served is None or found is None:
        raise NotFound(
            f"No such endpoint Agents/{agent}/{operation}. The emulator serves: POST "
            + ", POST ".join(endpoint_paths())
            + f" (with or without a tenant first); GET {API_ROOT}/{VERSION} lists them."
        )
    return tenant, served[0], found[0], found[1]


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value, indent=2) + "\n", status, content_type=replies.JSON)


def _base(request: Request, tenant: str | None) -> str:
    return request.host_url.rstrip("/") + ("" if tenant is None else f"/{tenant}")


def version_block(base: str) -> dict[str, Any]:
    """``GET /api``: which NetServer this is, and where its API versions are."""
    return {
        "Version": VERSION,
        "NetServerVersion": "Services86",
        "Emulator": f"superoffice-emulator {__version__}",
        "Versions": [{"Version": VERSION, "Url": f"{base}{API_ROOT}/{VERSION}"}],
        "OpenApi": f"{base}{OPENAPI}",
    }


def endpoint_list(base: str) -> dict[str, Any]:
    """``GET /api/v1``: every URL the REST twin serves, with its method."""
    calls = [
        {"Method": "POST", "Url": f"{base}{path}", "Description": openapi.summary(agent, name)}
        for path, (agent, name) in zip(endpoint_paths(), ENDPOINTS, strict=True)
    ]
    return {
        "Version": VERSION,
        "Endpoints": [
            *calls,
            {"Method": "GET", "Url": f"{base}{API_ROOT}", "Description": "The version block."},
            {"Method": "GET", "Url": f"{base}{API_ROOT}/{VERSION}", "Description": "This list."},
            {"Method": "GET", "Url": f"{base}{OPENAPI}", "Description": "The OpenAPI 3.1 document."},
        ],
    }


def mount(default_tenant: str) -> Mount:
    """The small app of the REST paths for everything but a call's POST."""

    def page(request: Request, args: Mapping[str, str]) -> Response:
        try:
            return answer(request, args)
        except NotFound as exc:
            return _problem(404, exc.description or "Not found.")

    def answer(request: Request, args: Mapping[str, str]) -> Response:
        tenant = args.get("tenant")
        if "agent" in args:
            agent_at(tenant, args["agent"], args["operation"], default_tenant)
            return _problem(405, "Use POST for this endpoint, with a JSON body.")
        if tenant is not None:
            _tenant(tenant)
        if request.method != "GET":
            return _problem(405, "Use GET for this page.")
        base = _base(request, tenant)
        if request.path.rstrip("/").endswith("openapi.json"):
            return _json(openapi.document(base, endpoint_paths()))
        if request.path.rstrip("/").lower().endswith(API_ROOT):
            return _json(version_block(base))
        return _json(endpoint_list(base))

    return Mount(
        "rest",
        (API_ROOT, f"{API_ROOT}/{VERSION}", OPENAPI, AGENTS_ROOT + "<agent>/<operation>"),
        page,
    )


def _problem(status: int, message: str) -> Response:
    return Response(replies.error_body(replies.CLIENT_FAULT, message), status, content_type=replies.JSON)
