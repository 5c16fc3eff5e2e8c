"""The admin API's endpoints: one werkzeug ``Map`` of small handlers over the :class:`Runtime`.

:func:`handle` is the single entry point (``superoffice_emulator.app`` calls it for every path under
``/_emulator`` and ``/{tenant}/_emulator``). It matches the path, checks the admin token, runs the
handler, and is the one place where failures become JSON: ``{"error": "..."}`` with a fitting status,
never a stack trace. Reads are ``GET``; changes are ``POST`` or ``DELETE``.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from superoffice_emulator import __version__
from superoffice_emulator.admin import inputs
from superoffice_emulator.admin.inputs import AdminError, Query
from superoffice_emulator.admin.openapi import document
from superoffice_emulator.calls.faults import FaultRule
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.domain import online, system_users
from superoffice_emulator.domain.activities import ActivityKind, ActivityStatus
from superoffice_emulator.domain.system_users import Consent
from superoffice_emulator.server.web import json_response
from superoffice_emulator.storage import queries
from superoffice_emulator.storage.database import Database, TenantLimitReached
from superoffice_emulator.storage.fixtures import FixtureError, parse_fixtures, published_password
from superoffice_emulator.storage.webhooks import OUTCOMES

log = logging.getLogger("superoffice_emulator.admin")

_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")  # werkzeug's <path:name> → OpenAPI's {name}
_OPENAPI_STYLE = r"{\1}"
_KINDS = {kind.value: kind for kind in ActivityKind}
_STATUSES = {status.name: status for status in ActivityStatus}


@dataclass(frozen=True)
class Context:
    """One admin request: the runtime, the request, the tenant it addresses, the path values."""

    runtime: Runtime
    request: Request
    tenant: str
    prefix: str
    """The admin root this request came in under: ``/_emulator`` or ``/{tenant}/_emulator``."""
    args: Mapping[str, str]

    @property
    def database(self) -> Database:
        return self.runtime.database


Handler = Callable[[Context], Response]


def handle(runtime: Runtime, request: Request, tenant: str | None, rest: str) -> Response:
    """Answer the admin request for ``rest`` (the path after ``_emulator/``) of ``tenant``."""
    prefix = "/_emulator" if tenant is None else f"/{tenant}/_emulator"
    try:
        name = runtime.settings.default_tenant if tenant is None else inputs.tenant_name(tenant)
        endpoint, args = _ROUTES.bind("emulator").match("/" + rest, method=request.method)
        handler = cast(Handler, endpoint)
        if handler is not health:
            _authorize(runtime, request)
        return handler(Context(runtime, request, name, prefix, args))
    except AdminError as exc:
        return _error(exc.status, exc.message, exc.headers, exc.details)
    except TenantLimitReached as exc:
        return _error(409, str(exc))
    except MethodNotAllowed as exc:
        allowed = sorted(set(exc.valid_methods or ()) - {"HEAD", "OPTIONS"})
        return _error(
            405,
            f"{request.method} is not allowed on {prefix}/{rest}; use {' or '.join(allowed)}. "
            "(Reads are GET; changes are POST or DELETE.)",
            {"Allow": ", ".join(allowed)},
        )
    except NotFound:
        return _error(
            404,
            f"There is no admin endpoint {request.method} {prefix}/{rest}. "
            f"GET {prefix}/ lists them; {prefix}/openapi.json describes them.",
        )
    except HTTPException as exc:  # e.g. 413 from reading an oversized body
        return _error(exc.code or 400, exc.description or exc.name)
    except Exception as exc:  # never a stack trace to the client; the log has it
        log.exception("admin request %s /_emulator/%s failed", request.method, rest)
        return _error(500, f"Internal error in the emulator's admin API ({type(exc).__name__}); see its log.")


def _authorize(runtime: Runtime, request: Request) -> None:
    token = runtime.settings.admin_token
    if not token:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise AdminError(
            401,
            "The admin API needs the emulator's admin token: send the header "
            "'Authorization: Bearer <token>' with the token the emulator was started with.",
            {"WWW-Authenticate": 'Bearer realm="superoffice-emulator"'},
        )


def _error(
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    details: Mapping[str, object] | None = None,
) -> Response:
    return json_response({"error": message, **(details or {})}, status, headers)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- service ----------------------------------------------------------------------------------
def index(ctx: Context) -> Response:
    endpoints = sorted(
        f"{method} {ctx.prefix}{_PLACEHOLDER.sub(_OPENAPI_STYLE, rule.rule)}"
        for rule in _ROUTES.iter_rules()
        for method in sorted(rule.methods or ())
        if method not in ("HEAD", "OPTIONS")
    )
    return json_response(
        {"tenant": ctx.tenant, "openapi": f"{ctx.prefix}/openapi.json", "endpoints": endpoints},
    )


def health(ctx: Context) -> Response:
    problem = ctx.database.health()
    if problem is not None:
        log.error("health check: the database does not answer: %s", problem)
        return json_response(
            {
                "status": "unavailable",
                "version": __version__,
                "tenant": ctx.tenant,
                "error": f"The database does not answer ({problem}); see the emulator's log.",
            },
            503,
        )
    return json_response({"status": "ok", "version": __version__, "tenant": ctx.tenant})


def openapi(ctx: Context) -> Response:
    return json_response(document(__version__, ctx.prefix))


# -- data -------------------------------------------------------------------------------------
def reset(ctx: Context) -> Response:
    ctx.database.reset(ctx.tenant)  # its fault rules too
    log.info("admin: tenant %s reset to %s", ctx.tenant, ctx.database.fixtures.source)
    return json_response({"tenant": ctx.tenant, "status": "reset"})


def load_fixtures(ctx: Context) -> Response:
    body = inputs.read_body(ctx.request)
    if not body.strip():
        raise AdminError(
            400,
            "The request body is empty: send fixtures in YAML or JSON, in the format of the "
            "fixture files (sections roles, users, application_tokens, activities, denials).",
        )
    mimetype = ctx.request.mimetype
    json_format = mimetype == "application/json" or mimetype.endswith("+json")
    try:
        fixtures = parse_fixtures(body, "request body", json_format=json_format)
    except FixtureError as exc:
        raise AdminError(400, str(exc), details={"fixture_error": exc.as_dict()}) from None
    ctx.database.reset(ctx.tenant, fixtures)  # its fault rules too
    log.info("admin: tenant %s loaded from posted fixtures", ctx.tenant)
    counts = {
        "roles": len(fixtures.roles),
        "users": len(fixtures.users),
        "application_tokens": len(fixtures.application_tokens),
        "activities": len(fixtures.activities),
        "denials": len(fixtures.denials),
    }
    return json_response({"tenant": ctx.tenant, "status": "loaded", "loaded": counts})


def _activity_json(activity: queries.ActivityView) -> dict[str, Any]:
    return {
        "identifier": activity.identifier,
        "kind": activity.kind.value,
        "id": activity.id,
        "title": activity.title,
        "status": activity.status.name,
        "done": _iso(activity.done),
        "associate_id": activity.associate_id,
        "group_id": activity.group_id,
        "registered": _iso(activity.registered),
        "updated": _iso(activity.updated),
        "updated_associate_id": activity.updated_associate_id,
        "updatedCount": activity.updated_count,
    }


def activities(ctx: Context) -> Response:
    query = Query(ctx.request.args, ("kind", "status", "owner", "q", "id", "limit", "offset"))
    where = queries.ActivityFilter(
        kind=query.choice("kind", _KINDS),
        status=query.choice("status", _STATUSES),
        owner=query.integer("owner"),
        text=query.text("q"),
        id=query.integer("id"),
    )
    limit = query.limit("limit", default=100, most=1000)
    offset = query.integer("offset", minimum=0) or 0
    ctx.database.ensure_tenant(ctx.tenant)
    page, total = queries.list_activities(ctx.database, ctx.tenant, where, limit=limit, offset=offset)
    return json_response([_activity_json(a) for a in page], headers={"X-Total-Count": str(total)})


def activity(ctx: Context) -> Response:
    kind = _KINDS.get(ctx.args["kind"])
    if kind is None:
        raise AdminError(
            404,
            f"There is no activity kind {ctx.args['kind']!r}; use {', '.join(_KINDS)} "
            f"(for example {ctx.prefix}/activities/appointment/17).",
        )
    activity_id = inputs.integer(ctx.args["id"], "The activity id")
    ctx.database.ensure_tenant(ctx.tenant)
    found = queries.get_activity(ctx.database, ctx.tenant, kind, activity_id)
    if found is None:
        raise AdminError(
            404,
            f"{kind.key}={activity_id} does not exist in tenant {ctx.tenant!r}; "
            f"GET {ctx.prefix}/activities?kind={kind.value} lists them.",
        )
    return json_response(_activity_json(found))


def users(ctx: Context) -> Response:
    Query(ctx.request.args, ())
    ctx.database.ensure_tenant(ctx.tenant)
    demo = ctx.runtime.settings.demo_fixtures
    published = {  # by hash: a user whose stored hash is the fixtures' has their published password
        user.password_hash: password
        for user in ctx.database.fixtures.users
        if (password := published_password(user, demo)) is not None
    }
    return json_response(
        [
            {
                "associate_id": user.associate_id,
                "name": user.name,
                "password": user.password,
                "full_name": user.full_name,
                "email": user.email,
                "group_id": user.group_id,
                "role_id": user.role_id,
                "role": user.role_name,
                "user_type": user.user_type,
                "tickets": list(user.tickets),
                "access_tokens": list(user.access_tokens),
                "denied": list(user.denied),
                "rights": {
                    table: {"own": r.own.name, "group": r.group.name, "other": r.other.name}
                    for table, r in sorted(user.rights.items())
                },
            }
            for user in queries.list_users(ctx.database, ctx.tenant, published)
        ]
    )


def denials(ctx: Context) -> Response:
    Query(ctx.request.args, ())
    ctx.database.ensure_tenant(ctx.tenant)
    return json_response(
        [
            {
                "identifier": d.identifier,
                "kind": d.kind.value,
                "id": d.record_id,
                "associate_id": d.associate_id,
            }
            for d in queries.list_denials(ctx.database, ctx.tenant)
        ]
    )


def application_tokens(ctx: Context) -> Response:
    Query(ctx.request.args, ())
    ctx.database.ensure_tenant(ctx.tenant)
    return json_response(
        {
            "tokens": queries.list_application_tokens(ctx.database, ctx.tenant),
            "required": ctx.runtime.settings.mode == "online",
        }
    )


def applications(ctx: Context) -> Response:
    Query(ctx.request.args, ())
    ctx.database.ensure_tenant(ctx.tenant)
    return json_response(
        [
            {
                "client_id": a.client_id,
                "client_secret": a.client_secret,
                "name": a.name,
                "redirect_uris": list(a.redirect_uris),
                "allowed_origins": list(a.allowed_origins),
                "public_key": a.public_key,
                "system_user": a.system_user,
            }
            for a in queries.list_applications(ctx.database, ctx.tenant)
        ]
    )


# -- system users -------------------------------------------------------------------------------
def _consent_json(consent: Consent, user: str | None) -> dict[str, Any]:
    return {
        "client_id": consent.client_id,
        "system_token": consent.system_token,
        "associate_id": consent.associate_id,
        "user": user,
    }


def consents(ctx: Context) -> Response:
    Query(ctx.request.args, ())
    ctx.database.ensure_tenant(ctx.tenant)
    with ctx.database.reading(ctx.tenant) as store:
        found = [(c, store.find_user(c.associate_id)) for c in store.consents()]
    return json_response([_consent_json(c, None if user is None else user.name) for c, user in found])


_CONSENT_EXAMPLE = '{"client_id": "demo-app", "user": "demo"}'


def add_consent(ctx: Context) -> Response:
    body = inputs.json_object(inputs.read_body(ctx.request), _CONSENT_EXAMPLE)
    unknown = sorted(set(body) - {"client_id", "user", "system_token"})
    if unknown:
        raise AdminError(
            400, f"Unknown field {unknown[0]!r}; send client_id, user and, if you like, system_token."
        )
    client_id, name, token = body.get("client_id"), body.get("user"), body.get("system_token")
    if not isinstance(client_id, str) or not isinstance(name, str):
        raise AdminError(400, f"client_id and user must be strings; send e.g. {_CONSENT_EXAMPLE}.")
    if not all(system_users.storable(text) for text in (client_id, name, token or "")):
        raise AdminError(400, "client_id, user and system_token may not hold NUL or unpaired surrogates.")
    if token is not None and (not isinstance(token, str) or not token.strip() or token != token.strip()):
        raise AdminError(
            400, "system_token must be a string without surrounding spaces; leave it out for a random one."
        )
    if token is not None and len(token) > 400:
        raise AdminError(400, "system_token holds at most 400 characters.")
    with ctx.database.transaction(ctx.tenant) as store:
        application = store.find_application(client_id)
        if application is None:
            raise AdminError(
                404, f"There is no application {client_id[:200]!r}; GET {ctx.prefix}/applications lists them."
            )
        if not application.system_user:
            raise AdminError(
                409, f"The application {client_id} does not ask for a system user (system_user)."
            )
        found = store.find_login(name)
        if found is None:
            raise AdminError(404, f"There is no user {name[:100]!r}; GET {ctx.prefix}/users lists them.")
        if store.find_consent(client_id) is not None:
            raise AdminError(409, f"{client_id} has a consent in {ctx.tenant} already; DELETE it first.")
        consent = Consent(
            client_id, token or system_users.new_system_token(application.name), found[0].associate_id
        )
        store.add_consent(consent)
    log.info("admin: tenant %s consent added for %s", ctx.tenant, client_id)
    return json_response(
        _consent_json(consent, found[0].name), 201, {"Location": f"{ctx.prefix}/consents/{client_id}"}
    )


def remove_consent(ctx: Context) -> Response:
    client_id = ctx.args["client_id"]
    with ctx.database.transaction(ctx.tenant, create=False) as store:
        deleted = system_users.storable(client_id) and store.delete_consent(client_id)
    if not deleted:
        raise AdminError(
            404,
            f"There is no consent for {client_id[:200]!r} in {ctx.tenant}; "
            f"GET {ctx.prefix}/consents lists them.",
        )
    log.info("admin: tenant %s consent of %s revoked", ctx.tenant, client_id)
    return json_response({"tenant": ctx.tenant, "deleted": 1})


def _state_json(tenant: str, state: str) -> dict[str, Any]:
    return {"tenant": tenant, "state": state, "is_running": state in online.RUNNING_STATES}


def tenant_state(ctx: Context) -> Response:
    return json_response(_state_json(ctx.tenant, ctx.database.tenant_state(ctx.tenant)))


def set_tenant_state(ctx: Context) -> Response:
    body = inputs.json_object(inputs.read_body(ctx.request), '{"state": "Suspended"}')
    state = body.get("state")
    if not isinstance(state, str) or state not in online.TENANT_STATES:
        raise AdminError(
            400, f"state must be one of {', '.join(online.TENANT_STATES)}, got {str(state)[:40]!r}."
        )
    ctx.database.set_tenant_state(ctx.tenant, state)
    log.info("admin: tenant %s state set to %s", ctx.tenant, state)
    return json_response(_state_json(ctx.tenant, state))


# -- journal ----------------------------------------------------------------------------------
def journal(ctx: Context) -> Response:
    query = Query(ctx.request.args, ("operation", "outcome", "user", "since_id", "wire", "limit", "bodies"))
    where = queries.JournalFilter(
        operation=query.text("operation"),
        outcome=query.text("outcome"),
        user=query.text("user"),
        since_id=query.integer("since_id", minimum=0, maximum=2**62),
        wire=query.text("wire"),
    )
    cap = ctx.database.journal_size
    limit = query.limit("limit", default=min(100, cap), most=cap)
    bodies = query.choice("bodies", {"true": True, "false": False}) is not False
    entries = queries.read_journal(ctx.database, ctx.tenant, where, limit=limit, bodies=bodies)
    return json_response(
        [
            {
                "id": e.id,
                "tenant": e.tenant,
                "at": _iso(e.at),
                "wire": e.wire,
                "service": e.service,
                "operation": e.operation,
                "user": e.user,
                "identifiers": e.identifiers,
                "status": e.status,
                "outcome": e.outcome,
                "exception_type": e.exception_type,
                "message": e.message,
                "duration_ms": round(e.duration_ms, 3),
                "contract_warnings": e.contract_warnings,
                "injected": e.injected,
                **({"request_body": e.request_body, "response_body": e.response_body} if bodies else {}),
            }
            for e in entries
        ]
    )


def clear_journal(ctx: Context) -> Response:
    deleted = queries.clear_journal(ctx.database, ctx.tenant)
    return json_response({"tenant": ctx.tenant, "deleted": deleted})


# -- faults -----------------------------------------------------------------------------------
def _rule_json(rule: FaultRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "kind": rule.kind,
        "count": rule.count,
        "identifiers": sorted(rule.identifiers),
        "operation": rule.operation,
        "latency_ms": rule.latency_ms,
    }


def faults(ctx: Context) -> Response:
    return json_response([_rule_json(rule) for rule in ctx.runtime.fault_plan(ctx.tenant).rules])


def add_fault(ctx: Context) -> Response:
    rule = inputs.fault_rule(inputs.json_object(inputs.read_body(ctx.request), inputs.FAULT_EXAMPLE))
    ctx.runtime.fault_plan(ctx.tenant).add(rule)
    log.info("admin: tenant %s fault %s added: %s", ctx.tenant, rule.id, rule.kind)
    return json_response(_rule_json(rule), 201, {"Location": f"{ctx.prefix}/faults/{rule.id}"})


def clear_faults(ctx: Context) -> Response:
    deleted = ctx.runtime.fault_plan(ctx.tenant).clear()
    return json_response({"tenant": ctx.tenant, "deleted": deleted})


def remove_fault(ctx: Context) -> Response:
    rule_id = inputs.integer(ctx.args["id"], "The fault id", minimum=1)
    plan = ctx.runtime.fault_plan(ctx.tenant)
    if not plan.remove(rule_id):
        raise AdminError(
            404,
            f"There is no active fault {rule_id} in tenant {ctx.tenant!r} (a rule is gone once its "
            f"count is used up); GET {ctx.prefix}/faults lists the active ones.",
        )
    return json_response({"tenant": ctx.tenant, "deleted": 1})


# -- tenants ----------------------------------------------------------------------------------
def _tenant_json(tenant: queries.TenantView) -> dict[str, Any]:
    return {"name": tenant.name, "created": _iso(tenant.created)}


def tenants(ctx: Context) -> Response:
    return json_response([_tenant_json(t) for t in queries.list_tenants(ctx.database)])


def create_tenant(ctx: Context) -> Response:
    name = inputs.tenant_name(ctx.args["name"])
    created = ctx.database.ensure_tenant(name)
    view = queries.get_tenant(ctx.database, name)
    if view is None:  # dropped by another request in between
        raise AdminError(409, f"Tenant {name!r} was deleted while it was being created; try again.")
    if created:
        log.info("admin: tenant %s created", name)
    return json_response(_tenant_json(view), 201 if created else 200, {"Location": f"/{name}/_emulator/"})


def delete_tenant(ctx: Context) -> Response:
    name = inputs.tenant_name(ctx.args["name"])
    if queries.get_tenant(ctx.database, name) is None:
        raise AdminError(404, f"There is no tenant {name!r}; GET /_emulator/tenants lists them.")
    ctx.database.drop_tenant(name)
    log.info("admin: tenant %s deleted", name)
    return json_response({"deleted": name})


# -- webhooks -----------------------------------------------------------------------------------
def webhook_deliveries(ctx: Context) -> Response:
    """Every try to post a webhook event of the tenant, newest first (at most ``limit``, 100)."""
    query = Query(ctx.request.args, ("limit",))
    limit = query.integer("limit", minimum=1, maximum=1000) or 100
    found = [
        {**row, "at": _iso(row["at"]), "duration_ms": round(row["duration_ms"], 1)}
        for row in queries.list_webhook_deliveries(ctx.database, ctx.tenant, limit)
    ]
    return json_response({"deliveries": found})


def webhooks(ctx: Context) -> Response:
    """The tenant's webhooks: name, events, target, state, error count (never the secret)."""
    found = [
        {**row, "registered": _iso(row["registered"]), "updated": _iso(row["updated"])}
        for row in queries.list_webhooks(ctx.database, ctx.tenant)
    ]
    return json_response({"webhooks": found})


def webhook_events(ctx: Context) -> Response:
    """The tenant's events in the outbox, newest first: ``outcome`` ``pending`` until delivered,
    ``failed`` (given up) or ``dropped`` (its webhook stopped); at most ``limit``, 100."""
    query = Query(ctx.request.args, ("limit", "outcome"))
    limit = query.integer("limit", minimum=1, maximum=1000) or 100
    outcome = query.choice("outcome", {outcome: outcome for outcome in OUTCOMES})
    found = [
        {**row, "created": _iso(row["created"]), "due": _iso(row["due"])}
        for row in queries.list_webhook_events(ctx.database, ctx.tenant, limit, outcome)
    ]
    return json_response({"events": found})


_ROUTES = Map(
    [
        Rule("/", endpoint=index, methods=["GET"]),
        Rule("/health", endpoint=health, methods=["GET"]),
        Rule("/openapi.json", endpoint=openapi, methods=["GET"]),
        Rule("/reset", endpoint=reset, methods=["POST"]),
        Rule("/fixtures", endpoint=load_fixtures, methods=["POST"]),
        Rule("/activities", endpoint=activities, methods=["GET"]),
        Rule("/activities/<kind>/<id>", endpoint=activity, methods=["GET"]),
        Rule("/users", endpoint=users, methods=["GET"]),
        Rule("/denials", endpoint=denials, methods=["GET"]),
        Rule("/application_tokens", endpoint=application_tokens, methods=["GET"]),
        Rule("/applications", endpoint=applications, methods=["GET"]),
        Rule("/consents", endpoint=consents, methods=["GET"]),
        Rule("/consents", endpoint=add_consent, methods=["POST"]),
        Rule("/consents/<path:client_id>", endpoint=remove_consent, methods=["DELETE"]),
        Rule("/state", endpoint=tenant_state, methods=["GET"]),
        Rule("/state", endpoint=set_tenant_state, methods=["POST"]),
        Rule("/journal", endpoint=journal, methods=["GET"]),
        Rule("/journal", endpoint=clear_journal, methods=["DELETE"]),
        Rule("/faults", endpoint=faults, methods=["GET"]),
        Rule("/faults", endpoint=add_fault, methods=["POST"]),
        Rule("/faults", endpoint=clear_faults, methods=["DELETE"]),
        Rule("/faults/<id>", endpoint=remove_fault, methods=["DELETE"]),
        Rule("/webhooks", endpoint=webhooks, methods=["GET"]),
        Rule("/webhooks/events", endpoint=webhook_events, methods=["GET"]),
        Rule("/webhooks/deliveries", endpoint=webhook_deliveries, methods=["GET"]),
        Rule("/tenants", endpoint=tenants, methods=["GET"]),
        Rule("/tenants/<path:name>", endpoint=create_tenant, methods=["POST"]),
        Rule("/tenants/<path:name>", endpoint=delete_tenant, methods=["DELETE"]),
    ],
    strict_slashes=False,
    merge_slashes=False,
)
"""The admin paths, relative to ``/_emulator`` (documented in :mod:`superoffice_emulator.admin.openapi`)."""
