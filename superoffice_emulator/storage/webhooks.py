"""Webhooks in the database: the registrations, the outbox of events, the deliveries log, the lease.

Every statement runs on a transaction's cursor (:mod:`superoffice_emulator.storage.transactions`):
a call's events are written by :meth:`Webhooks.enqueue` in the call's own transaction, so a
call that rolls back leaves none, and one that commits leaves them for the deliverer even if the
process dies the next moment. The deliverer claims each try by moving its row's ``due`` time
forward in a conditional ``UPDATE``, so no two processes ever post the same try.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Integer,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from superoffice_emulator.domain.webhooks import Webhook, WebhookState
from superoffice_emulator.storage import schema
from superoffice_emulator.storage.sql import Dialect, Statement

_w, _e, _d, _l = schema.webhook, schema.webhook_event, schema.webhook_delivery, schema.lease
_n = schema.webhook_ids
_TENANT: BindParameter[str] = bindparam("tenant")
_ID: BindParameter[int] = bindparam("webhook_id")
_HOOK_COLUMNS = tuple(column.key for column in _w.columns)
PENDING, DELIVERED, FAILED, DROPPED = "pending", "delivered", "failed", "dropped"
ROUND = 256
"""Due events a round of the deliverer claims at most: more than a busy server writes in a round."""
OUTCOMES: tuple[str, ...] = (PENDING, DELIVERED, FAILED, DROPPED)
"""An outbox event's outcomes: pending until delivered, failed (after its last try) or dropped."""
_IS_PENDING = _e.c.outcome == literal_column(f"'{PENDING}'")


@dataclass(frozen=True)
class Due:
    """An outbox row whose next try is due."""

    row: int
    tenant: str
    webhook_id: int
    event_id: str
    event: str
    body: str
    tries: int
    due: datetime


@dataclass(frozen=True)
class Delivery:
    """One try, for the deliveries log."""

    tenant: str
    event_row: int
    event_id: str
    event: str
    webhook_id: int
    target_url: str
    attempt: int
    at: datetime
    status: int | None
    error: str | None
    duration_ms: float


def _hook(row: Sequence[Any]) -> Webhook:
    values = dict(zip(_HOOK_COLUMNS, row, strict=True))
    return Webhook(
        id=values["webhook_id"],
        name=values["name"],
        events=tuple(json.loads(values["events"])),
        target_url=values["target_url"],
        secret=values["secret"],
        state=WebhookState(values["state"]),
        type=values["type"],
        headers=json.loads(values["headers"]),
        properties=json.loads(values["properties"]),
        registered=values["registered"],
        registered_associate=values["registered_associate_id"],
        updated=values["updated"],
        updated_associate=values["updated_associate_id"],
        application=values["application"],
        errors=values["errors"],
        last_error=None if values["last_error"] is None else json.loads(values["last_error"]),
    )


def webhook_row(tenant: str, hook: Webhook) -> dict[str, Any]:
    """``hook``'s row of the ``webhook`` table."""
    return {
        "tenant": tenant,
        "webhook_id": hook.id,
        "name": hook.name,
        "events": json.dumps(list(hook.events)),
        "target_url": hook.target_url,
        "secret": hook.secret,
        "state": int(hook.state),
        "type": hook.type,
        "headers": json.dumps(dict(hook.headers)),
        "properties": json.dumps(dict(hook.properties)),
        "registered": hook.registered,
        "registered_associate_id": hook.registered_associate,
        "updated": hook.updated,
        "updated_associate_id": hook.updated_associate,
        "application": hook.application,
        "errors": hook.errors,
        "last_error": None if hook.last_error is None else json.dumps(hook.last_error),
    }


class Webhooks:
    """The webhooks' statements of one dialect, compiled once."""

    def __init__(self, dialect: Dialect) -> None:
        self.all = Statement(select(_w).where(_w.c.tenant == _TENANT).order_by(_w.c.webhook_id), dialect)
        self.one = Statement(select(_w).where(_w.c.tenant == _TENANT, _w.c.webhook_id == _ID), dialect)
        self.next_id = Statement(
            select(func.coalesce(func.max(_w.c.webhook_id), literal_column("0", Integer))).where(
                _w.c.tenant == _TENANT
            ),
            dialect,
        )
        self.last_id = Statement(select(_n.c.last_id).where(_n.c.tenant == _TENANT), dialect)
        self.set_last_id = Statement(
            update(_n).where(_n.c.tenant == _TENANT).values(last_id=bindparam("new_last_id")), dialect
        )
        self.add_last_id = Statement(insert(_n).inline(), dialect, columns=("tenant", "last_id"))
        self.add = Statement(insert(_w).inline(), dialect, columns=_HOOK_COLUMNS)
        settable = [c for c in _HOOK_COLUMNS if c not in ("tenant", "webhook_id")]
        self.save = Statement(
            update(_w)
            .where(_w.c.tenant == _TENANT, _w.c.webhook_id == _ID)
            .values({c: bindparam(f"new_{c}") for c in settable}),
            dialect,
        )
        self._settable = settable
        self.remove = Statement(delete(_w).where(_w.c.tenant == _TENANT, _w.c.webhook_id == _ID), dialect)
        self.remove_events = Statement(
            delete(_e).where(_e.c.tenant == _TENANT, _e.c.webhook_id == _ID, _IS_PENDING), dialect
        )
        self.add_event = Statement(
            insert(_e).inline(),
            dialect,
            columns=(
                "tenant",
                "webhook_id",
                "event_id",
                "event",
                "body",
                "created",
                "tries",
                "due",
                "outcome",
            ),
        )
        self.due = Statement(
            select(
                _e.c.id,
                _e.c.tenant,
                _e.c.webhook_id,
                _e.c.event_id,
                _e.c.event,
                _e.c.body,
                _e.c.tries,
                _e.c.due,
            )
            .where(_IS_PENDING, _e.c.due <= bindparam("now"))
            .order_by(_e.c.due, _e.c.id)
            .limit(bindparam("limit", type_=Integer))
            .offset(literal_column("0", Integer)),
            dialect,
        )
        self.pending = Statement(
            select(_e.c.id)
            .where(_IS_PENDING)
            .limit(literal_column("1", Integer))
            .offset(literal_column("0", Integer)),
            dialect,
        )
        self.claim = Statement(
            update(_e)
            .where(_e.c.id == bindparam("row"), _IS_PENDING, _e.c.due == bindparam("due"))
            .values(tries=_e.c.tries + literal_column("1"), due=bindparam("deadline")),
            dialect,
        )
        self.settle = Statement(
            update(_e)
            .where(_e.c.id == bindparam("row"), _IS_PENDING)
            .values(outcome=bindparam("outcome"), due=bindparam("due")),
            dialect,
        )
        self.hook_after = Statement(
            update(_w)
            .where(_w.c.tenant == _TENANT, _w.c.webhook_id == _ID)
            .values(state=bindparam("state"), errors=bindparam("errors"), last_error=bindparam("last_error")),
            dialect,
        )
        self.log = Statement(
            insert(_d).inline(),
            dialect,
            columns=(
                "tenant",
                "event_row",
                "event_id",
                "event",
                "webhook_id",
                "target_url",
                "attempt",
                "at",
                "status",
                "error",
                "duration_ms",
            ),
        )
        finished = _e.c.outcome != literal_column(f"'{PENDING}'")
        self.finished_floor = Statement(
            select(_e.c.id)
            .where(_e.c.tenant == _TENANT, finished)
            .order_by(_e.c.id.desc())
            .limit(literal_column("1", Integer))
            .offset(bindparam("keep", type_=Integer)),
            dialect,
        )
        """The id just below the tenant's newest ``keep`` finished events."""
        self.finished_trim = Statement(
            delete(_e).where(_e.c.tenant == _TENANT, finished, _e.c.id <= bindparam("floor")), dialect
        )
        self.tries_floor = Statement(
            select(_d.c.id)
            .where(_d.c.tenant == _TENANT)
            .order_by(_d.c.id.desc())
            .limit(literal_column("1", Integer))
            .offset(bindparam("keep", type_=Integer)),
            dialect,
        )
        """The id just below the tenant's newest ``keep`` tries."""
        self.tries_trim = Statement(
            delete(_d).where(_d.c.tenant == _TENANT, _d.c.id <= bindparam("floor")), dialect
        )
        self.take_lease = Statement(
            update(_l)
            .where(
                _l.c.name == bindparam("name"),
                or_(_l.c.holder == bindparam("holder"), _l.c.until < bindparam("now")),
            )
            .values(holder=bindparam("new_holder"), until=bindparam("until")),
            dialect,
        )
        self.lease_exists = Statement(select(_l.c.holder).where(_l.c.name == bindparam("name")), dialect)
        self.add_lease = Statement(insert(_l).inline(), dialect, columns=("name", "holder", "until"))
        self.free_lease = Statement(
            update(_l)
            .where(_l.c.name == bindparam("name"), _l.c.holder == bindparam("holder"))
            .values(until=bindparam("until")),
            dialect,
        )

    # -- registrations --------------------------------------------------------------------
    def listed(self, cursor: Any, tenant: str) -> list[Webhook]:
        cursor.execute(self.all.text, self.all.params({"tenant": tenant}))
        return [_hook(self.all.row(row)) for row in cursor.fetchall()]

    def get(self, cursor: Any, tenant: str, webhook_id: int) -> Webhook | None:
        cursor.execute(self.one.text, self.one.params({"tenant": tenant, "webhook_id": webhook_id}))
        row = cursor.fetchone()
        return None if row is None else _hook(self.one.row(row))

    def new_id(self, cursor: Any, tenant: str) -> int:
        """An id ``tenant``'s webhooks never had, deleted ones too (in the caller's write transaction)."""
        cursor.execute(self.next_id.text, self.next_id.params({"tenant": tenant}))
        highest = int(cursor.fetchone()[0])
        cursor.execute(self.last_id.text, self.last_id.params({"tenant": tenant}))
        given = cursor.fetchone()
        new = max(highest, 0 if given is None else int(given[0])) + 1
        if given is None:
            cursor.execute(self.add_last_id.text, self.add_last_id.params({"tenant": tenant, "last_id": new}))
        else:
            values = {"tenant": tenant, "new_last_id": new}
            cursor.execute(self.set_last_id.text, self.set_last_id.params(values))
        return new

    def insert(self, cursor: Any, tenant: str, hook: Webhook) -> None:
        cursor.execute(self.add.text, self.add.params(webhook_row(tenant, hook)))

    def update(self, cursor: Any, tenant: str, hook: Webhook) -> None:
        row = webhook_row(tenant, hook)
        values = {f"new_{c}": row[c] for c in self._settable} | {"tenant": tenant, "webhook_id": hook.id}
        cursor.execute(self.save.text, self.save.params(values))

    def delete(self, cursor: Any, tenant: str, webhook_id: int) -> bool:
        values = {"tenant": tenant, "webhook_id": webhook_id}
        cursor.execute(self.remove.text, self.remove.params(values))
        deleted = bool(cursor.rowcount)
        cursor.execute(self.remove_events.text, self.remove_events.params(values))
        return deleted

    # -- the outbox ---------------------------------------------------------------------------
    def enqueue(
        self, cursor: Any, tenant: str, webhook_id: int, event_id: str, event: str, body: str, now: datetime
    ) -> None:
        """One event for one webhook, due at once, in the cursor's (the call's) transaction."""
        values = {
            "tenant": tenant,
            "webhook_id": webhook_id,
            "event_id": event_id,
            "event": event,
            "body": body,
            "created": now,
            "tries": 0,
            "due": now,
            "outcome": PENDING,
        }
        cursor.execute(self.add_event.text, self.add_event.params(values))

    def due_now(self, cursor: Any, now: datetime, limit: int | None = None) -> list[Due]:
        """The events due at ``now``, the earliest first: ``limit`` at most (at most :data:`ROUND`)."""
        count = ROUND if limit is None else min(limit, ROUND)
        cursor.execute(self.due.text, self.due.params({"now": now, "limit": count}))
        return [Due(*self.due.row(row)) for row in cursor.fetchall()]

    def has_pending(self, cursor: Any) -> bool:
        cursor.execute(self.pending.text, [])
        return cursor.fetchone() is not None

    def claim_try(self, cursor: Any, due: Due, deadline: datetime) -> bool:
        """Take ``due``'s next try; False when another deliverer took it (or it was settled)."""
        cursor.execute(
            self.claim.text, self.claim.params({"row": due.row, "due": due.due, "deadline": deadline})
        )
        return bool(cursor.rowcount == 1)

    def settle_event(self, cursor: Any, row: int, outcome: str, due: datetime) -> bool:
        """``outcome`` ``pending`` with the next try's time, or how the event ended; False when the
        event is gone (its webhook deleted, its tenant reset) or ended already."""
        cursor.execute(self.settle.text, self.settle.params({"row": row, "outcome": outcome, "due": due}))
        return bool(cursor.rowcount == 1)

    def after_try(
        self,
        cursor: Any,
        tenant: str,
        webhook_id: int,
        state: WebhookState,
        errors: int,
        last_error: str | None,
    ) -> None:
        values = {"tenant": tenant, "webhook_id": webhook_id, "state": int(state), "errors": errors}
        cursor.execute(self.hook_after.text, self.hook_after.params(values | {"last_error": last_error}))

    def record(self, cursor: Any, deliveries: Sequence[Delivery]) -> None:
        """Log ``deliveries`` (tries), in one statement."""
        if deliveries:
            cursor.executemany(self.log.text, [self.log.params(delivery.__dict__) for delivery in deliveries])

    def trim(self, cursor: Any, tenant: str, keep: int) -> None:
        """Delete all but ``tenant``'s newest ``keep`` finished events, and its newest ``keep`` tries."""
        for floor, trim in ((self.finished_floor, self.finished_trim), (self.tries_floor, self.tries_trim)):
            cursor.execute(floor.text, floor.params({"tenant": tenant, "keep": keep}))
            row = cursor.fetchone()
            if row is not None:
                cursor.execute(trim.text, trim.params({"tenant": tenant, "floor": row[0]}))

    # -- the lease ----------------------------------------------------------------------------
    def lease(self, cursor: Any, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take or renew the lease ``name`` until ``until``; False while another holder's runs."""
        values = {"name": name, "holder": holder, "now": now, "new_holder": holder, "until": until}
        cursor.execute(self.take_lease.text, self.take_lease.params(values))
        if cursor.rowcount == 1:
            return True
        cursor.execute(self.lease_exists.text, self.lease_exists.params({"name": name}))
        if cursor.fetchone() is not None:
            return False
        cursor.execute(
            self.add_lease.text, self.add_lease.params({"name": name, "holder": holder, "until": until})
        )
        return True

    def release(self, cursor: Any, name: str, holder: str, now: datetime) -> None:
        cursor.execute(
            self.free_lease.text, self.free_lease.params({"name": name, "holder": holder, "until": now})
        )


@functools.cache
def webhooks_for(dialect: Dialect) -> Webhooks:
    """The webhooks' statements of ``dialect``, compiled once per process."""
    return Webhooks(dialect)
