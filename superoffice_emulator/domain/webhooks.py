"""Webhooks: the carrier NetServer registers, the events a status change fires, and delivery's rules.

Plain Python, as the rest of the domain: what an event says and when a webhook stops, never how
it is posted (:mod:`superoffice_emulator.webhooks`) nor where it is kept
(:mod:`superoffice_emulator.storage.webhooks`).

    change = Change(ActivityKind.SALE, 3, ActivityStatus.Started, ActivityStatus.Completed, ...)
    [event.name for event in events_of(change)]   # ["sale.changed", "sale.completed"]
"""

from __future__ import annotations

import enum
import fnmatch
import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from superoffice_emulator.domain.activities import ActivityKind, ActivityStatus, Change
from superoffice_emulator.domain.errors import SoException, shown


class WebhookState(enum.IntEnum):
    """``WebhookState``: only an ``Active`` webhook gets events."""

    Unknown = 0
    Active = 1
    Stopped = 2
    TooManyErrors = 3


TRIES = 3
"""Tries per event, each with the same ``EventId``."""
RETRY_DELAYS: tuple[float, ...] = (0.0, 1.0, 4.0)
"""Seconds before each try, counted from the failure of the one before (the first: at once)."""
MAX_ERRORS = 9
"""Events dropped in a row (each after its last try) that set ``TooManyErrors``."""
SUCCESS = 200
"""The one answer NetServer takes as delivered; any other, a redirect too, is a failure."""
GONE = 410
"""The answer that stops a webhook at once."""
TEST_EVENT = "test"

EVENTS: tuple[str, ...] = ("activity.changed", "document.changed", "sale.changed", "sale.completed")
"""The events ``SetActivityStatus`` can fire (a webhook may name others, and patterns: ``sale.*``)."""


class WebhookInvalid(SoException):
    """A webhook that cannot be saved: a missing name or target, an unknown state, a refused test post."""


@dataclass(frozen=True)
class Webhook:
    """The ``Webhook`` carrier, and what delivery keeps of it."""

    id: int
    name: str
    events: tuple[str, ...]
    target_url: str
    secret: str = ""
    state: WebhookState = WebhookState.Active
    type: str = "webhook"
    headers: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    registered: datetime | None = None
    registered_associate: int = 0
    updated: datetime | None = None
    updated_associate: int = 0
    application: str | None = None
    """The application that registered it (Online: an app sees and changes only its own): its client
    id, or the plain application token it called with; ``None``: registered onsite, or a fixture's
    webhook given to no application, which only onsite callers see."""
    errors: int = 0
    """Events dropped in a row since the last success."""
    last_error: Mapping[str, Any] | None = None
    """The last failing answer: ``Status``, ``Headers``, ``Body`` (or ``Error`` when none came)."""

    def listens_to(self, event: str) -> bool:
        return self.state is WebhookState.Active and listens(self.events, event)


def listens(patterns: Sequence[str], event: str) -> bool:
    """Whether ``event`` is one of ``patterns`` (``*`` and ``sale.*`` match as in NetServer)."""
    return _listens(tuple(patterns), event)


@functools.lru_cache(maxsize=1024)
def _listens(patterns: tuple[str, ...], event: str) -> bool:
    # asked for each event of each call: a webhook's few patterns, a handful of event names
    return any(fnmatch.fnmatchcase(event.lower(), pattern.strip().lower()) for pattern in patterns)


NAME_LENGTH = 200
"""The longest Name a webhook may have (its column's length)."""


def checked(hook: Webhook) -> Webhook:
    """``hook`` if it can be saved; else :class:`WebhookInvalid` saying what to change."""
    if not hook.name.strip():
        raise WebhookInvalid("A webhook needs a Name.", friendly_text="Give the webhook a name.")
    if len(hook.name) > NAME_LENGTH:
        raise WebhookInvalid(f"A webhook's Name has at most {NAME_LENGTH} characters.")
    if not hook.events or not all(isinstance(e, str) and e.strip() for e in hook.events):
        raise WebhookInvalid(
            'A webhook needs Events, a list such as ["activity.changed", "sale.*"].',
            friendly_text="Choose the events the webhook listens to.",
        )
    try:
        target = urlsplit(hook.target_url)
        _ = target.port  # a port that is not a number raises here
    except ValueError:
        target = urlsplit("")
    if target.scheme not in ("http", "https") or not target.netloc:
        raise WebhookInvalid(
            f"TargetUrl {shown(hook.target_url)} is not an http or https URL.",
            friendly_text="The target must be an http or https URL.",
        )
    if hook.type not in ("webhook", "crmscript"):
        raise WebhookInvalid(f"Type {shown(hook.type)} is neither 'webhook' nor 'crmscript'.")
    return hook


@dataclass(frozen=True)
class Event:
    """What one change tells a webhook (before the ``EventId``, ``Timestamp`` and ``WebhookName``)."""

    name: str
    entity: str
    primary_key: int
    changes: tuple[str, ...]
    field_values: Mapping[str, Any] | None = None


_EVENT_OF = {
    ActivityKind.APPOINTMENT: "activity.changed",
    ActivityKind.TODO: "activity.changed",
    ActivityKind.DOCUMENT: "document.changed",
    ActivityKind.SALE: "sale.changed",
}


def events_of(change: Change, now: datetime, changed_by: int) -> list[Event]:
    """The events NetServer fires for ``change`` (a sale that becomes done fires two)."""
    columns = (
        change.kind.key,
        "status",
        *(("done",) if change.done_changed else ()),
        "updated",
        "updated_associate_id",
        "updatedCount",
    )
    values: dict[str, Any] | None = None
    if change.kind is ActivityKind.SALE:
        values = {
            change.kind.key: change.id,
            "status": int(change.status),
            "done": stamp(change.done) if change.done else None,
            "updated": stamp(now),
            "updated_associate_id": changed_by,
            "updatedCount": change.updated_count,
            "associate_id": change.associate_id,
        }
    event = Event(_EVENT_OF[change.kind], change.kind.value, change.id, columns, values)
    if change.kind is ActivityKind.SALE and change.status is ActivityStatus.Completed:
        return [event, Event("sale.completed", change.kind.value, change.id, columns, values)]
    return [event]


def body(
    event: Event, *, event_id: str, now: datetime, context: str, changed_by: int, webhook_name: str
) -> dict[str, Any]:
    """The POST's JSON object, its fields in NetServer's order."""
    return {
        "EventId": event_id,
        "Timestamp": stamp(now),
        "Changes": list(event.changes),
        "Event": event.name,
        "PrimaryKey": event.primary_key,
        "Entity": event.entity,
        "ContextIdentifier": context,
        "ChangedByAssociateId": changed_by,
        "WebhookName": webhook_name,
        "FieldValues": dict(event.field_values) if event.field_values is not None else None,
    }


def test_body(hook: Webhook, now: datetime, context: str, changed_by: int) -> dict[str, Any]:
    """The save-time test post's object (``Event`` and ``Entity`` ``test``, ``PrimaryKey`` 0)."""
    event = Event(TEST_EVENT, TEST_EVENT, 0, ())
    return body(
        event,
        event_id=new_event_id(),
        now=now,
        context=context,
        changed_by=changed_by,
        webhook_name=hook.name,
    )


def new_event_id() -> str:
    return str(uuid.uuid4())


def stamp(moment: datetime) -> str:
    """UTC with seven fractional digits, as .NET writes it: ``2026-12-06T10:15:00.1234560Z``."""
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "0Z"


def after_failure(hook: Webhook, status: int | None, last_try: bool) -> tuple[WebhookState, int]:
    """The webhook's state and error count after a failed try (``status`` ``None``: no answer).

    410 stops it at once; otherwise an event dropped after its last try counts one error, and
    :data:`MAX_ERRORS` in a row set ``TooManyErrors``.
    """
    if status == GONE:
        return WebhookState.Stopped, hook.errors + 1
    if not last_try:
        return hook.state, hook.errors
    errors = hook.errors + 1
    return (WebhookState.TooManyErrors if errors >= MAX_ERRORS else hook.state), errors
