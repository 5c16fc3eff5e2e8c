"""The OpenAPI 3.1 document of the admin API, written by hand (served at ``/_emulator/openapi.json``).

A test checks that it names exactly the paths and methods :mod:`superoffice_emulator.admin.api` routes.
"""

from __future__ import annotations

from typing import Any, get_args

from superoffice_emulator.calls.faults import FAULT_KINDS
from superoffice_emulator.calls.journal import Wire
from superoffice_emulator.domain.online import TENANT_STATES
from superoffice_emulator.domain.values import TENANT_NAME
from superoffice_emulator.storage.webhooks import OUTCOMES

_STATUSES = ["Unknown", "NotStarted", "Started", "Completed"]
_KINDS = ["appointment", "sale", "document", "todo"]
_WIRE: dict[str, Any] = {"type": "string", "enum": list(get_args(Wire))}
_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
_NULLABLE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


_BAD = {"400": _error("A parameter or the body is wrong; the message says how to fix it.")}
_AUTH = {"401": _error("The admin token is set and the request did not send it as a Bearer token.")}
_LIMIT = {"type": "integer", "minimum": 1}
_TENANT_NAME = {"type": "string", "pattern": f"^{TENANT_NAME.pattern}$"}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What was wrong and what to do."}},
    },
    "Health": {
        "type": "object",
        "required": ["status", "version", "tenant"],
        "properties": {
            "status": {"enum": ["ok", "unavailable"]},
            "version": {"type": "string"},
            "tenant": {"type": "string"},
            "error": {"type": "string"},
        },
    },
    "Done": {
        "type": "object",
        "description": "The answer of a change: the tenant, and what was done or how many were deleted.",
        "properties": {
            "tenant": {"type": "string"},
            "status": {"type": "string"},
            "deleted": {"type": ["integer", "string"]},
            "loaded": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    },
    "Activity": {
        "type": "object",
        "properties": {
            "identifier": {"type": "string", "examples": ["appointment_id=17"]},
            "kind": {"enum": _KINDS},
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "status": {"enum": _STATUSES},
            "done": _NULLABLE_TIME,
            "associate_id": {"type": "integer", "description": "The owner."},
            "group_id": {"type": "integer"},
            "registered": {"type": "string", "format": "date-time"},
            "updated": _NULLABLE_TIME,
            "updated_associate_id": {"type": "integer"},
            "updatedCount": {"type": "integer"},
        },
    },
    "Rights": {
        "type": "object",
        "description": "Per relation of a record to the user: none, read or update.",
        "properties": {rel: {"enum": ["none", "read", "update"]} for rel in ("own", "group", "other")},
    },
    "User": {
        "type": "object",
        "description": "A user of the tenant, with what a person needs to call as that user: the "
        "published password, the fixed tickets and access tokens. Never a password hash, never the "
        "ticket of a login.",
        "properties": {
            "associate_id": {"type": "integer"},
            "name": {"type": "string", "description": "The login name."},
            "password": {
                **_NULLABLE_STRING,
                "description": "The password when the fixtures publish it (given in plain text, or the "
                "shipped demo data, whose passwords are the user names) and the user still has it; null "
                "when the fixtures hold only its hash.",
            },
            "full_name": {"type": "string"},
            "email": {"type": "string"},
            "group_id": {"type": "integer"},
            "role_id": {"type": "integer"},
            "role": {"type": "string"},
            "user_type": {"type": "string"},
            "tickets": {
                "type": "array",
                "items": {"type": "string", "examples": ["7T:1234abcxyzExample=="]},
                "description": "The fixtures' fixed tickets (they never expire); not the tickets of logins.",
            },
            "access_tokens": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Bearer access tokens (REST, online mode).",
            },
            "denied": {
                "type": "array",
                "items": {"type": "string", "examples": ["appointment_id=99"]},
                "description": "Records Sentry refuses to this user by name, whatever the rights "
                "(GET /denials also lists those refused to everyone).",
            },
            "rights": {"type": "object", "additionalProperties": _ref("Rights")},
        },
    },
    "Denial": {
        "type": "object",
        "description": "A record Sentry refuses to change whatever the rights.",
        "properties": {
            "identifier": {"type": "string", "examples": ["sale_id=13"]},
            "kind": {"enum": _KINDS},
            "id": {"type": "integer"},
            "associate_id": {
                "type": ["integer", "null"],
                "description": "The user it is denied to; null: denied to everyone.",
            },
        },
    },
    "Application": {
        "type": "object",
        "description": "An OpenID Connect client of the sign-in (docs/online.md).",
        "properties": {
            "client_id": {"type": "string"},
            "client_secret": {"type": "string", "description": "Also accepted as the application token."},
            "name": {"type": "string"},
            "redirect_uris": {"type": "array", "items": {"type": "string"}},
            "allowed_origins": {"type": "array", "items": {"type": "string"}},
            "public_key": {
                "type": ["string", "null"],
                "description": "PEM or RSA XML (<RSAKeyValue>); checks system users' signed tokens. "
                "null: none registered.",
            },
            "system_user": {
                "type": "boolean",
                "description": "Whether the application asks for a system user.",
            },
        },
    },
    "Consent": {
        "type": "object",
        "description": "A system-user consent: the application approved in the tenant (docs/online.md).",
        "properties": {
            "client_id": {"type": "string"},
            "system_token": {
                "type": "string",
                "examples": ["Demo Online App-DemoSystemToken"],
                "description": "What the application signs; the id_token's system_token claim.",
            },
            "associate_id": {"type": "integer", "description": "The user the system user acts as."},
            "user": {**_NULLABLE_STRING, "description": "That user's name."},
        },
    },
    "ConsentRequest": {
        "type": "object",
        "required": ["client_id", "user"],
        "additionalProperties": False,
        "properties": {
            "client_id": {"type": "string", "description": "An application with system_user true."},
            "user": {"type": "string", "description": "The user the system user acts as, by name."},
            "system_token": {
                "type": "string",
                "maxLength": 400,
                "description": "Leave it out for a random one, '<application name>-<10 characters>'.",
            },
        },
    },
    "TenantState": {
        "type": "object",
        "properties": {
            "tenant": {"type": "string"},
            "state": {"enum": list(TENANT_STATES)},
            "is_running": {"type": "boolean", "description": "Running or OnlineMaintenance: calls answered."},
        },
    },
    "ApplicationTokens": {
        "type": "object",
        "properties": {
            "tokens": {
                "type": "array",
                "items": {"type": "string"},
                "description": "ApplicationToken (SOAP header) or SO-AppToken (REST header) values.",
            },
            "required": {
                "type": "boolean",
                "description": "Whether calls must send one (online mode); onsite does not check it.",
            },
        },
    },
    "JournalEntry": {
        "type": "object",
        "description": "One call (SOAP or REST) as the emulator received and answered it.",
        "properties": {
            "id": {"type": "integer", "description": "Increasing; poll with since_id."},
            "tenant": {"type": "string"},
            "at": {"type": "string", "format": "date-time", "description": "UTC."},
            "wire": {**_WIRE, "description": "Which wire the call came by."},
            "service": {"type": "string", "examples": ["Appointment"]},
            "operation": {"type": "string", "examples": ["SetActivityStatus"]},
            "user": _NULLABLE_STRING,
            "identifiers": {"type": "array", "items": _NULLABLE_STRING},
            "status": _NULLABLE_STRING,
            "outcome": {
                "type": "string",
                "examples": ["ok", "no change", "failed", "fault", "injected http503"],
            },
            "exception_type": _NULLABLE_STRING,
            "message": _NULLABLE_STRING,
            "duration_ms": {"type": "number"},
            "contract_warnings": {
                "type": "array",
                "items": {"type": "string"},
                "description": "With --contract lenient: each point where NetServer would have refused "
                "the request or read it differently. Empty when there is none.",
            },
            "injected": {
                "type": ["string", "null"],
                "enum": [*FAULT_KINDS, None],
                "description": "The kind of the injected fault that hit this call (POST /faults); null when "
                "none did. An injected sentry or session fault answers exactly as a real refusal does, and "
                "an injected latency lets the call succeed: this field tells them apart.",
            },
            "request_body": {
                **_NULLABLE_STRING,
                "description": "The request's raw body as UTF-8 text (undecodable bytes replaced), at most "
                "--journal-body-bytes bytes of it; a longer one ends in '[cut: N bytes in all]'. Null when "
                "bodies are not kept (--journal-body-bytes 0). Left out with bodies=false.",
            },
            "response_body": {
                **_NULLABLE_STRING,
                "description": "The body the emulator answered, kept as request_body is. Left out with "
                "bodies=false.",
            },
        },
    },
    "FaultRequest": {
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {
            "kind": {
                "enum": list(FAULT_KINDS),
                "description": "sentry/session: the NetServer exception (Succeeded false); latency: a delay, "
                "then the normal answer; http500/http503: that HTTP status; drop: the connection is closed "
                "without an answer; malformed: an answer that is not XML.",
            },
            "count": {
                "type": ["integer", "null"],
                "minimum": 1,
                "default": 1,
                "description": "How many matching calls fail; null: every one until the rule is removed.",
            },
            "identifiers": {
                "type": "array",
                "items": {"type": "string", "examples": ["appointment_id=17"]},
                "description": "Only calls naming one of these; empty or absent: any call.",
            },
            "operation": {
                "type": ["string", "null"],
                "description": "Only calls of this operation, e.g. SetActivityStatus.",
            },
            "latency_ms": {"type": "integer", "minimum": 1, "maximum": 600000, "description": "For latency."},
        },
    },
    "FaultRule": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": list(FAULT_KINDS)},
            "count": {"type": ["integer", "null"], "description": "Calls left to fail; null: until removed."},
            "identifiers": {"type": "array", "items": {"type": "string"}},
            "operation": _NULLABLE_STRING,
            "latency_ms": {"type": "integer"},
        },
    },
    "Tenant": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "created": {"type": "string", "format": "date-time"}},
    },
}

_PATHS: dict[str, Any] = {
    "/": {
        "get": {
            "summary": "List the admin endpoints.",
            "responses": {
                "200": _json({"type": "object"}, "The endpoints and this document's address."),
                **_AUTH,
            },
        }
    },
    "/health": {
        "get": {
            "summary": "Health and version; open even when an admin token is set.",
            "security": [],
            "responses": {
                "200": _json(_ref("Health"), "The emulator and its database are up."),
                "503": _json(_ref("Health"), "The database cannot be reached."),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document.",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1."), **_AUTH},
        }
    },
    "/reset": {
        "post": {
            "summary": "Put the tenant back to the fixture file: data, tickets, journal and faults.",
            "responses": {"200": _json(_ref("Done"), "Reset."), **_AUTH},
        }
    },
    "/fixtures": {
        "post": {
            "summary": "Replace the tenant's data with the fixtures in the body (as in the fixture files).",
            "description": "YAML, or JSON with Content-Type application/json. Validated whole before "
            "anything changes; journal and faults are cleared too. A later reset goes back to the file.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/yaml": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            },
            "responses": {"200": _json(_ref("Done"), "Loaded; counts per section."), **_BAD, **_AUTH},
        }
    },
    "/activities": {
        "get": {
            "summary": "The tenant's activities, by kind then id; the total is in X-Total-Count.",
            "parameters": [
                _query("kind", {"enum": _KINDS}, "Only this kind."),
                _query("status", {"enum": _STATUSES}, "Only this status."),
                _query("owner", {"type": "integer"}, "Only those owned by this associate_id."),
                _query("q", {"type": "string"}, "Only those whose title contains this (any case)."),
                _query("id", {"type": "integer"}, "Only this id."),
                _query("limit", {**_LIMIT, "default": 100}, "Page size; at most 1000."),
                _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Skip this many."),
            ],
            "responses": {
                "200": {
                    **_json({"type": "array", "items": _ref("Activity")}, "One page."),
                    "headers": {
                        "X-Total-Count": {"schema": {"type": "integer"}, "description": "All matches."}
                    },
                },
                **_BAD,
                **_AUTH,
            },
        }
    },
    "/activities/{kind}/{id}": {
        "get": {
            "summary": "One activity.",
            "parameters": [
                _path("kind", {"enum": _KINDS}, "The kind."),
                _path("id", {"type": "integer"}, "The id."),
            ],
            "responses": {
                "200": _json(_ref("Activity"), "The activity."),
                **_BAD,
                **_AUTH,
                "404": _error("No such kind or activity."),
            },
        }
    },
    "/users": {
        "get": {
            "summary": "The tenant's users: role, rights per table, logins, tickets, tokens, denials.",
            "responses": {"200": _json({"type": "array", "items": _ref("User")}, "The users."), **_AUTH},
        }
    },
    "/denials": {
        "get": {
            "summary": "The records Sentry refuses whatever the rights (the fixtures' denials).",
            "responses": {
                "200": _json({"type": "array", "items": _ref("Denial")}, "The denials."),
                **_AUTH,
            },
        }
    },
    "/application_tokens": {
        "get": {
            "summary": "The tenant's application tokens, and whether calls must send one.",
            "responses": {"200": _json(_ref("ApplicationTokens"), "The tokens."), **_AUTH},
        }
    },
    "/applications": {
        "get": {
            "summary": "The applications (OpenID Connect clients) registered in the tenant.",
            "responses": {
                "200": _json({"type": "array", "items": _ref("Application")}, "The apps."),
                **_AUTH,
            },
        }
    },
    "/consents": {
        "get": {
            "summary": "The tenant's system-user consents (applications approved, with their system tokens).",
            "responses": {
                "200": _json({"type": "array", "items": _ref("Consent")}, "The consents."),
                **_AUTH,
            },
        },
        "post": {
            "summary": "Approve an application that asks for a system user in the tenant.",
            "description": "A reset puts the fixtures' consents back.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ConsentRequest")}},
            },
            "responses": {
                "201": {
                    **_json(_ref("Consent"), "Approved."),
                    "headers": {"Location": {"schema": {"type": "string"}, "description": "The consent."}},
                },
                **_BAD,
                **_AUTH,
                "404": _error("No such application or user."),
                "409": _error("The application asks for no system user, or has a consent already."),
            },
        },
    },
    "/consents/{client_id}": {
        "delete": {
            "summary": "Revoke an application's consent: its system token is refused (Revoked) from now on.",
            "description": "Tickets the system user got earlier keep working until they expire.",
            "parameters": [_path("client_id", {"type": "string"}, "The application.")],
            "responses": {
                "200": _json(_ref("Done"), "Revoked."),
                **_AUTH,
                "404": _error("The application has no consent in the tenant."),
            },
        }
    },
    "/state": {
        "get": {
            "summary": "The tenant's state (GET /api/state/{ctx} answers it as SuperOffice does).",
            "responses": {"200": _json(_ref("TenantState"), "The state."), **_AUTH},
        },
        "post": {
            "summary": "Set the tenant's state; one not running refuses calls with SoSessionException.",
            "description": "A reset puts the fixtures' state (tenant_state, Running by default) back.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["state"],
                            "properties": {"state": {"enum": list(TENANT_STATES)}},
                        }
                    }
                },
            },
            "responses": {
                "200": _json(_ref("TenantState"), "The new state."),
                "400": _error("Not a state."),
                **_AUTH,
            },
        },
    },
    "/journal": {
        "get": {
            "summary": "The request journal, newest first; with since_id, the entries after it, oldest first",
            "description": "Only the newest journal_size entries (a setting) are kept and returned.",
            "parameters": [
                _query("operation", {"type": "string"}, "Only this operation."),
                _query("outcome", {"type": "string"}, "Only this outcome, e.g. ok, failed, fault."),
                _query("user", {"type": "string"}, "Only calls by this user name."),
                _query(
                    "since_id", {"type": "integer", "minimum": 0}, "Only entries with a larger id (polling)."
                ),
                _query("wire", _WIRE, "Only calls that came by this wire."),
                _query("limit", {**_LIMIT, "default": 100}, "At most this many; at most journal_size."),
                _query(
                    "bodies",
                    {"enum": ["true", "false"], "default": "true"},
                    "false: leave request_body and response_body out (a lighter list).",
                ),
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("JournalEntry")}, "The entries."),
                **_BAD,
                **_AUTH,
            },
        },
        "delete": {
            "summary": "Clear the tenant's journal.",
            "responses": {"200": _json(_ref("Done"), "How many were deleted."), **_AUTH},
        },
    },
    "/faults": {
        "get": {
            "summary": "The tenant's active fault rules, in the order they apply.",
            "responses": {"200": _json({"type": "array", "items": _ref("FaultRule")}, "The rules."), **_AUTH},
        },
        "post": {
            "summary": "Make the next matching SOAP calls fail on purpose.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("FaultRequest")}},
            },
            "responses": {
                "201": {
                    **_json(_ref("FaultRule"), "Added."),
                    "headers": {"Location": {"schema": {"type": "string"}, "description": "The rule."}},
                },
                **_BAD,
                **_AUTH,
            },
        },
        "delete": {
            "summary": "Remove every fault rule of the tenant.",
            "responses": {"200": _json(_ref("Done"), "How many were removed."), **_AUTH},
        },
    },
    "/faults/{id}": {
        "delete": {
            "summary": "Remove one fault rule.",
            "parameters": [_path("id", {"type": "integer"}, "The rule's id.")],
            "responses": {
                "200": _json(_ref("Done"), "Removed."),
                **_BAD,
                **_AUTH,
                "404": _error("No active rule with that id."),
            },
        }
    },
    "/webhooks": {
        "get": {
            "summary": "The tenant's webhooks: name, events, target, state, errors in a row (no secret).",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "webhooks": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "webhook_id": {"type": "integer"},
                                        "name": {"type": "string"},
                                        "events": {"type": "array", "items": {"type": "string"}},
                                        "target": {"type": "string"},
                                        "state": {
                                            "type": "string",
                                            "enum": ["Unknown", "Active", "Stopped", "TooManyErrors"],
                                        },
                                        "errors": {"type": "integer"},
                                        "signed": {"type": "boolean"},
                                        "application": {
                                            "type": ["string", "null"],
                                            "description": "The application that registered it (its "
                                            "client_id, or its plain application token); null: none.",
                                        },
                                        "registered": {"type": ["string", "null"]},
                                        "updated": {"type": ["string", "null"]},
                                    },
                                },
                            }
                        },
                    },
                    "The webhooks, in the order of their ids.",
                ),
                **_AUTH,
            },
        }
    },
    "/webhooks/events": {
        "get": {
            "summary": "The tenant's events in the outbox, newest first (finished ones are trimmed).",
            "parameters": [
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "At most this many."),
                _query(
                    "outcome",
                    {"type": "string", "enum": list(OUTCOMES)},
                    "Only events with this outcome (pending: not finished yet).",
                ),
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "events": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "event_id": {"type": "string"},
                                        "event": {"type": "string"},
                                        "webhook_id": {"type": "integer"},
                                        "tries": {"type": "integer"},
                                        "outcome": {
                                            "type": "string",
                                            "enum": list(OUTCOMES),
                                        },
                                        "created": {"type": "string"},
                                        "due": {"type": "string"},
                                    },
                                },
                            }
                        },
                    },
                    "The events: pending until delivered, failed (after the last try) or dropped.",
                ),
                **_BAD,
                **_AUTH,
            },
        }
    },
    "/webhooks/deliveries": {
        "get": {
            "summary": "Every try to post a webhook event of the tenant, newest first.",
            "parameters": [
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "At most this many.")
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "deliveries": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "event_id": {"type": "string"},
                                        "event": {"type": "string"},
                                        "webhook_id": {"type": "integer"},
                                        "target": {"type": "string"},
                                        "attempt": {"type": "integer"},
                                        "status": {"type": ["integer", "null"]},
                                        "error": {"type": ["string", "null"]},
                                        "at": {"type": "string"},
                                        "duration_ms": {"type": "number"},
                                    },
                                },
                            }
                        },
                    },
                    "The tries: event, target, attempt, HTTP status (null: no answer), time.",
                ),
                **_AUTH,
            },
        }
    },
    "/tenants": {
        "get": {
            "summary": "Every tenant (the same list under any prefix).",
            "responses": {"200": _json({"type": "array", "items": _ref("Tenant")}, "The tenants."), **_AUTH},
        }
    },
    "/tenants/{name}": {
        "parameters": [_path("name", _TENANT_NAME, "The tenant, as in /{name}/Remote/Services86/...")],
        "post": {
            "summary": "Create the tenant from the fixture file (if it does not exist yet).",
            "responses": {
                "201": _json(_ref("Tenant"), "Created."),
                "200": _json(_ref("Tenant"), "It existed already; unchanged."),
                **_BAD,
                **_AUTH,
            },
        },
        "delete": {
            "summary": "Delete the tenant's data, journal and faults (a later call creates it afresh).",
            "responses": {
                "200": _json(_ref("Done"), "Deleted."),
                **_BAD,
                **_AUTH,
                "404": _error("No such tenant."),
            },
        },
    },
}


def document(version: str, prefix: str = "/_emulator") -> dict[str, Any]:
    """The OpenAPI document, its server being the admin root the caller came in under."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "superoffice-emulator admin API",
            "version": version,
            "description": "Reset, seed, inspect and break the emulator. Every path also exists per tenant "
            "under /{tenant}/_emulator. Reads are GET; changes are POST or DELETE. Errors are "
            '{"error": "..."}. When the emulator has an admin token, send Authorization: Bearer <token>.',
        },
        "servers": [
            {"url": prefix},
            {
                "url": "/{tenant}/_emulator",
                "variables": {"tenant": {"default": "default", "description": "A tenant name."}},
            },
        ],
        "security": [{}, {"bearer": []}],  # the token is optional: only when the emulator has one
        "paths": _PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
