"""The REST ``Webhook`` endpoints: register, list, read, change, delete and test webhooks.

    POST   /api/v1/Webhook                 create (after a test post the target must answer 200)
    GET    /api/v1/Webhook?name=&events=&state=&target=   list, filtered
    GET    /api/v1/Webhook/default         an unsaved carrier with NetServer's defaults
    GET    /api/v1/Webhook/{id}            one
    PUT    /api/v1/Webhook/{id}            change (tested again)
    DELETE /api/v1/Webhook/{id}            delete
    POST   /api/v1/Webhook/Test            post the test event to a carrier's target, save nothing
    GET    /api/v1/Webhook/{id}/LastError  the last failing answer

and the same as agent endpoints, ``POST /api/v1/Agents/Webhook/<operation>`` (``SaveWebhook``,
``GetWebhook``, ``GetAllWebhooks``, ``DeleteWebhook``, ``TestWebhook``, ``CreateDefaultWebhook``,
``GetLastError``; an id as ``?webhookId=``). Callers sign in as for a call
(:func:`superoffice_emulator.calls.pipeline.signed_in`); Online, an application sees and changes only
the webhooks it registered, whichever credential it calls with (its access token, or a ticket with
its ``SO-AppToken``), and a caller that names no application is refused. Onsite, every caller sees
every webhook.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from superoffice_emulator.calls import pipeline
from superoffice_emulator.calls.pipeline import Caller
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.domain import webhooks
from superoffice_emulator.domain.errors import SoException, shown
from superoffice_emulator.domain.values import INT32_MAX
from superoffice_emulator.domain.webhooks import Webhook, WebhookInvalid, WebhookState
from superoffice_emulator.rest import replies
from superoffice_emulator.rest.credentials import credentials_of
from superoffice_emulator.rest.paths import API_ROOT, VERSION
from superoffice_emulator.server.web import Mount, response_of, tenant_of
from superoffice_emulator.storage.database import StorageError, TenantLimitReached
from superoffice_emulator.storage.store import TenantStore
from superoffice_emulator.webhooks.posting import Answer, headers_of, post

ROOT = f"{API_ROOT}/{VERSION}/Webhook"
AGENT = f"{API_ROOT}/{VERSION}/Agents/Webhook"


class NotFoundHere(SoException):
    """No webhook with that id (or none the calling application may see)."""


def mount(runtime: Runtime) -> Mount:
    """The ``Webhook`` endpoints, with or without a tenant first."""

    def view(request: Request, args: Mapping[str, str]) -> Response:
        tenant = tenant_of(args, runtime.settings.default_tenant)
        try:
            return _answer(runtime, request, tenant, args)
        except NotFoundHere as exc:
            return _failure(exc, 404)
        except WebhookInvalid as exc:
            return _failure(exc, 400)
        except TenantLimitReached as exc:
            return response_of(replies.failure(pipeline.Failed.of(pipeline.too_many_tenants(exc))))
        except SoException as exc:
            return response_of(replies.failure(pipeline.Failed.of(exc)))
        except StorageError:
            return _problem(500, "The emulator's database failed; see its log.")

    return Mount("webhooks", (ROOT, f"{ROOT}/<path:rest>", f"{AGENT}/<operation>"), view)


def _answer(runtime: Runtime, request: Request, tenant: str, args: Mapping[str, str]) -> Response:
    operation = args.get("operation")
    rest = args.get("rest", "")
    method = request.method
    if operation is not None:
        if method != "POST":
            return _problem(405, "Use POST for the Webhook agent's endpoints.")
        return _agent(runtime, request, tenant, operation)
    parts = [part for part in rest.split("/") if part]
    if not parts:
        if method == "GET":
            return _signed(
                runtime, request, tenant, lambda store, caller: _list(runtime, store, request, caller)
            )
        if method == "POST":
            return _save(runtime, request, tenant, 0)
        return _problem(405, "Use GET to list webhooks or POST to create one.")
    head = parts[0].lower()
    if len(parts) == 1 and head == "default" and method == "GET":
        return _signed(runtime, request, tenant, lambda store, caller: _json(_carrier(_default())))
    if len(parts) == 1 and head == "test" and method == "POST":
        return _test(runtime, request, tenant)
    webhook_id = _id(parts[0])
    if len(parts) == 2 and parts[1].lower() == "lasterror" and method == "GET":
        return _signed(
            runtime, request, tenant, lambda store, caller: _last_error(runtime, store, caller, webhook_id)
        )
    if len(parts) == 1 and method == "GET":
        return _signed(
            runtime,
            request,
            tenant,
            lambda store, caller: _json(_carrier(_owned(runtime, store, caller, webhook_id))),
        )
    if len(parts) == 1 and method == "PUT":
        return _save(runtime, request, tenant, webhook_id)
    if len(parts) == 1 and method == "DELETE":
        return _signed(
            runtime, request, tenant, lambda store, caller: _delete(runtime, store, caller, webhook_id)
        )
    return _problem(404, f"No such Webhook endpoint: {method} {request.path}.")


def _agent(runtime: Runtime, request: Request, tenant: str, operation: str) -> Response:
    name = operation.lower()
    if name == "createdefaultwebhook":
        return _signed(runtime, request, tenant, lambda store, caller: _json(_carrier(_default())))
    if name == "getallwebhooks":
        return _signed(runtime, request, tenant, lambda store, caller: _list(runtime, store, request, caller))
    if name == "savewebhook":
        document = _document(request)
        webhook_id = _int_field(document, "WebhookId")
        return _save(runtime, request, tenant, webhook_id)
    if name == "testwebhook":
        return _test(runtime, request, tenant)
    webhook_id = _id(request.args.get("webhookId") or request.args.get("WebhookId") or "")
    if name == "getwebhook":
        return _signed(
            runtime,
            request,
            tenant,
            lambda store, caller: _json(_carrier(_owned(runtime, store, caller, webhook_id))),
        )
    if name == "deletewebhook":
        return _signed(
            runtime, request, tenant, lambda store, caller: _delete(runtime, store, caller, webhook_id)
        )
    if name == "getlasterror":
        return _signed(
            runtime, request, tenant, lambda store, caller: _last_error(runtime, store, caller, webhook_id)
        )
    return _problem(404, f"No such endpoint Agents/Webhook/{operation}.")


def _signed(runtime: Runtime, request: Request, tenant: str, work: Any) -> Response:
    """``work(store, caller)`` in one transaction, the caller signed in as for a call."""
    with _session(runtime, request, tenant) as (store, caller):
        response: Response = work(store, caller)
        return response


def _session(
    runtime: Runtime, request: Request, tenant: str
) -> AbstractContextManager[tuple[TenantStore, Caller]]:
    arrival = pipeline.Arrival("rest", tenant, "Webhook")
    credentials = credentials_of(request.headers.get("Authorization"))
    return pipeline.signed_in(runtime, arrival, credentials, request.headers.get("SO-AppToken"))


# -- the operations ------------------------------------------------------------------------------
def _visible(caller: Caller, hook: Webhook) -> bool:
    """Whether ``caller`` sees ``hook``: its own application's (Online), or any (onsite)."""
    return caller.application is None or hook.application == caller.application


def _owned(runtime: Runtime, store: TenantStore, caller: Caller, webhook_id: int) -> Webhook:
    hook = runtime.database.webhook(store, webhook_id)
    if hook is None or not _visible(caller, hook):
        raise NotFoundHere(f"There is no webhook {webhook_id}.", friendly_text="The webhook does not exist.")
    return hook


def _list(runtime: Runtime, store: TenantStore, request: Request, caller: Caller) -> Response:
    """The caller's webhooks, filtered by ``name``, ``events`` (any of them, comma-separated),
    ``state`` and ``target``."""
    query = {key.lower(): value for key, value in request.args.items()}
    hooks = [hook for hook in runtime.database.webhooks(store) if _visible(caller, hook)]
    if query.get("name"):
        hooks = [hook for hook in hooks if hook.name == query["name"]]
    if query.get("events"):
        wanted = {event.strip().lower() for event in query["events"].split(",")}
        hooks = [hook for hook in hooks if wanted & {event.lower() for event in hook.events}]
    if query.get("state"):
        state = _state(query["state"])
        hooks = [hook for hook in hooks if hook.state is state]
    if query.get("target"):
        hooks = [hook for hook in hooks if hook.target_url == query["target"]]
    return _json([_carrier(hook) for hook in hooks])


def _save(runtime: Runtime, request: Request, tenant: str, webhook_id: int) -> Response:
    """Create (``webhook_id`` 0) or change a webhook, once its target answered the test post 200.

    The test post waits for the target with no transaction open (no lock held); the save
    checks the caller and the webhook again."""
    document = _document(request)
    with _session(runtime, request, tenant) as (store, caller):
        hook = _merged(_base(runtime, store, caller, webhook_id), document)
        webhooks.checked(hook)
        context = runtime.context_identifier(store.tenant)
    _tested(hook, runtime.clock(), context, caller.user.associate_id)
    with _session(runtime, request, tenant) as (store, caller):
        hook = _merged(_base(runtime, store, caller, webhook_id), document)
        saved = runtime.database.save_webhook(store, webhooks.checked(hook))
    return _json(_carrier(saved), 200 if webhook_id else 201)


def _base(runtime: Runtime, store: TenantStore, caller: Caller, webhook_id: int) -> Webhook:
    """The webhook a save starts from: the caller's ``webhook_id``, or a new one of its application."""
    now = runtime.clock()
    if webhook_id:
        old = _owned(runtime, store, caller, webhook_id)
        return replace(old, updated=now, updated_associate=caller.user.associate_id)
    return replace(
        _default(),
        registered=now,
        registered_associate=caller.user.associate_id,
        application=caller.application,
    )


def _test(runtime: Runtime, request: Request, tenant: str) -> Response:
    """``Webhook/Test``: the test post to the carrier's target; its answer, nothing saved."""
    hook = webhooks.checked(_merged(_default(), _document(request)))
    with _session(runtime, request, tenant) as (store, caller):
        context = runtime.context_identifier(store.tenant)
    answer = _test_post(hook, runtime.clock(), context, caller.user.associate_id)
    return _json(
        {
            "Success": answer.status == webhooks.SUCCESS,
            "StatusCode": answer.status,
            "Body": answer.body,
            "Error": answer.error,
        }
    )


def _tested(hook: Webhook, now: datetime, context: str, changed_by: int) -> None:
    if hook.state is not WebhookState.Active or hook.type != "webhook":
        return  # a stopped webhook, or a CRMScript one, is saved without a test post
    answer = _test_post(hook, now, context, changed_by)
    if answer.status != webhooks.SUCCESS:
        got = f"HTTP {answer.status}" if answer.status is not None else (answer.error or "no answer")
        raise WebhookInvalid(
            f"The webhook was not saved: its TargetUrl {shown(hook.target_url)} answered the test post "
            f"(X-Hook-Test: true) with {got}; it must answer 200.",
            friendly_text="The target did not accept the test event.",
        )


def _test_post(hook: Webhook, now: datetime, context: str, changed_by: int) -> Answer:
    body_object = webhooks.test_body(hook, now, context, changed_by)
    body = json.dumps(body_object, ensure_ascii=False).encode()
    headers = headers_of(hook, body, event=webhooks.TEST_EVENT, event_id=body_object["EventId"], retry=0)
    headers["X-Hook-Test"] = "true"
    return post(hook.target_url, body, headers)


def _delete(runtime: Runtime, store: TenantStore, caller: Caller, webhook_id: int) -> Response:
    _owned(runtime, store, caller, webhook_id)
    runtime.database.delete_webhook(store, webhook_id)
    return Response(status=204)


def _last_error(runtime: Runtime, store: TenantStore, caller: Caller, webhook_id: int) -> Response:
    hook = _owned(runtime, store, caller, webhook_id)
    return _json(hook.last_error or {})


# -- the carrier ---------------------------------------------------------------------------------
def _default() -> Webhook:
    return Webhook(id=0, name="", events=(), target_url="", state=WebhookState.Active)


def _carrier(hook: Webhook) -> dict[str, Any]:
    return {
        "WebhookId": hook.id,
        "Name": hook.name,
        "Events": list(hook.events),
        "TargetUrl": hook.target_url,
        "Secret": hook.secret,
        "State": hook.state.name,
        "Type": hook.type,
        "Headers": dict(hook.headers),
        "Properties": dict(hook.properties),
        "Registered": _stamp(hook.registered),
        "RegisteredAssociate": {"AssociateId": hook.registered_associate},
        "Updated": _stamp(hook.updated),
        "UpdatedAssociate": {"AssociateId": hook.updated_associate},
    }


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S")


def _merged(hook: Webhook, document: Mapping[str, Any]) -> Webhook:
    """``hook`` with the carrier's fields ``document`` gives (names in any case)."""
    fields = {key.lower(): value for key, value in document.items()}
    changes: dict[str, Any] = {}
    for name, attribute in (
        ("name", "name"),
        ("targeturl", "target_url"),
        ("secret", "secret"),
        ("type", "type"),
    ):
        if name in fields and fields[name] is not None:
            if not isinstance(fields[name], str):
                raise WebhookInvalid(f"{name} must be a string, not {shown(fields[name])}.")
            changes[attribute] = fields[name]
    if fields.get("events") is not None:
        events = fields["events"]
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise WebhookInvalid(f"Events must be a list of strings, not {shown(events)}.")
        changes["events"] = tuple(events)
    if fields.get("state") is not None:
        changes["state"] = _state(fields["state"])
        if changes["state"] is WebhookState.Active:
            changes["errors"] = 0  # started again
    for name in ("headers", "properties"):
        if fields.get(name) is not None:
            if not isinstance(fields[name], dict):
                raise WebhookInvalid(f"{name} must be an object, not {shown(fields[name])}.")
            changes[name] = fields[name]
    return replace(hook, **changes)


def _state(value: object) -> WebhookState:
    if isinstance(value, int) and not isinstance(value, bool) and value in WebhookState._value2member_map_:
        return WebhookState(value)
    for state in WebhookState:
        if isinstance(value, str) and value.strip().lower() == state.name.lower():
            return state
    raise WebhookInvalid(f"State {shown(value)} is none of {', '.join(s.name for s in WebhookState)}.")


def _document(request: Request) -> Mapping[str, Any]:
    try:
        document = json.loads(request.get_data() or b"{}")
    except (ValueError, RecursionError):
        raise WebhookInvalid("The body is not JSON; send the Webhook carrier as a JSON object.") from None
    if not isinstance(document, dict):
        raise WebhookInvalid("Send the Webhook carrier as a JSON object.")
    return document


def _int_field(document: Mapping[str, Any], name: str) -> int:
    value = {key.lower(): v for key, v in document.items()}.get(name.lower(), 0) or 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= INT32_MAX:
        raise WebhookInvalid(f"{name} must be a whole number, not {shown(value)}.")
    return value


def _id(text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        raise NotFoundHere(f"There is no webhook {shown(text)}.", friendly_text="The webhook does not exist.")
    return int(text)


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value, ensure_ascii=False), status, content_type=replies.JSON)


def _failure(exc: SoException, status: int) -> Response:
    body = replies.error_body(exc.exception_type, exc.message, exc.friendly_text, exc.source, exc.parameters)
    return Response(body, status, content_type=replies.JSON)


def _problem(status: int, message: str) -> Response:
    return Response(replies.error_body(replies.CLIENT_FAULT, message), status, content_type=replies.JSON)
