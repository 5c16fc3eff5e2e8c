"""The OpenAPI 3.1 document of the REST twin, written by hand (served at ``/api/v1/openapi.json``).

Separate from the admin API's document (:mod:`superoffice_emulator.admin.openapi`). A test checks that
it names exactly the call paths :mod:`superoffice_emulator.rest.paths` serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from superoffice_emulator import __version__
from superoffice_emulator.domain.activities import ActivityStatus

_SUMMARIES = {
    ("Appointment", "SetActivityStatus"): "Set the completed status of a mix of appointments, sales, "
    "documents and todos: all of them, or none.",
}

_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["ExceptionType", "Message", "FriendlyText", "Source", "Parameters"],
    "description": "The facts of SOAP's SoExceptionInfo; never a stack trace.",
    "properties": {
        "ExceptionType": {
            "type": "string",
            "description": "The .NET exception type, or ClientFault for a request that could not be read.",
            "examples": ["SuperOffice.Exceptions.SoSentryException", "ClientFault"],
        },
        "Message": {"type": "string", "description": "What was wrong and what to do."},
        "FriendlyText": {"type": "string", "description": "For a person."},
        "Source": {"type": "string"},
        "Parameters": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "Property names match in any case (SuperOffice's TypeScript client sends camelCase).",
    "properties": {
        "ActivityIdentifier": {
            "type": ["array", "null"],
            "items": {"type": ["string", "null"]},
            "description": "appointment_id=N, sale_id=N, document_id=N or todo_id=N, mixed freely.",
            "examples": [["appointment_id=666", "sale_id=3"]],
        },
        "ActivityStatus": {
            "description": "By name (any case) or by number; missing means Unknown.",
            "oneOf": [
                {"enum": [s.name for s in ActivityStatus]},
                {"enum": [int(s) for s in ActivityStatus]},
            ],
        },
    },
}


def summary(agent: str, operation: str) -> str:
    return _SUMMARIES.get((agent, operation), f"{agent}.{operation}")


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _call(agent: str, operation: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": f"{agent}_{operation}",
            "tags": [f"{agent}Agent"],
            "summary": summary(agent, operation),
            "description": "Same rules as the SOAP operation of the same name: ticket, application token "
            "(Online), Sentry, strict mode, journal and injected faults.",
            "requestBody": {
                "required": True,
                "content": {
                    media: {"schema": {"$ref": f"#/components/schemas/{operation}Request"}}
                    for media in ("application/json", "text/json")
                },
            },
            "responses": {
                "204": {"description": "Done (or, for a nonexistent id outside strict mode, nothing done)."},
                "400": _error("The body cannot be read, or (strict mode) an id does not exist."),
                "401": _error("No, an unknown or an expired ticket or token; a missing application token."),
                "403": _error("Sentry refuses the change; nothing was changed."),
                "404": _error("No such endpoint."),
                "413": _error("The body is larger than the emulator accepts."),
                "415": _error("The content type is not JSON."),
                "500": _error("The emulator's database failed (SoDbAccessException)."),
            },
        }
    }


def document(base: str, paths: Sequence[str]) -> dict[str, Any]:
    """The document for a client that came in at ``base`` (``http://host:port[/tenant]``)."""
    calls = {path: _call(*path.rsplit("/", 2)[1:]) for path in paths}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "superoffice-emulator REST twin (SuperOffice WebApi Agents)",
            "version": __version__,
            "description": "The NetServer REST endpoints the emulator serves. Every path also exists "
            "under a tenant, /{tenant}/api/..., as Online addresses it. Authenticate with "
            "Authorization: SOTicket <ticket>, Basic (onsite only) or Bearer <access token> (Online only). "
            "Online, send SO-AppToken (the application token or client secret) beside a ticket; beside a "
            "Bearer access token it is not needed (the token names its application), and checked when sent.",
        },
        "servers": [{"url": base}],
        "security": [{"soticket": []}, {"basic": []}, {"bearer": []}],
        "paths": {
            **calls,
            "/api": {"get": {"summary": "The version block.", "responses": {"200": {"description": "It."}}}},
            "/api/v1": {
                "get": {"summary": "The endpoints served.", "responses": {"200": {"description": "Them."}}}
            },
            "/api/v1/openapi.json": {
                "get": {"summary": "This document.", "responses": {"200": {"description": "It."}}}
            },
        },
        "components": {
            "schemas": {"Error": _ERROR, "SetActivityStatusRequest": _REQUEST},
            "securitySchemes": {
                "soticket": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "SOTicket <ticket> (scheme in any case).",
                },
                "basic": {"type": "http", "scheme": "basic", "description": "Onsite installations only."},
                "bearer": {"type": "http", "scheme": "bearer", "description": "Online installations only."},
                "apptoken": {"type": "apiKey", "in": "header", "name": "SO-AppToken"},
            },
        },
    }
