"""What the admin API reads and clears: one tenant's activities, users and journal, and the tenants.

Plain functions over a :class:`~superoffice_emulator.storage.database.Database`, each in one short
transaction, returning frozen dataclasses; they know nothing of HTTP or JSON::

    page, total = list_activities(database, "default", ActivityFilter(status=ActivityStatus.Completed))

The request journal is read through its cap: a read never returns more than the newest
``database.journal_size`` entries of a tenant, even between two of the writer's trims.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, delete, func, literal, select, union_all

from superoffice_emulator.domain.activities import ActivityId, ActivityKind, ActivityStatus
from superoffice_emulator.domain.online import Application
from superoffice_emulator.domain.sentry import TableRights
from superoffice_emulator.domain.webhooks import WebhookState
from superoffice_emulator.storage import schema
from superoffice_emulator.storage.database import Database
from superoffice_emulator.storage.store import decode_rights

_KINDS = list(ActivityKind)


# -- activities -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActivityFilter:
    """Which activities to list; ``None`` fields do not filter."""

    kind: ActivityKind | None = None
    status: ActivityStatus | None = None
    owner: int | None = None
    text: str | None = None
    """A case-insensitive substring of the title."""
    id: int | None = None


@dataclass(frozen=True)
class ActivityView:
    kind: ActivityKind
    id: int
    title: str
    status: ActivityStatus
    done: datetime | None
    associate_id: int
    group_id: int
    registered: datetime
    updated: datetime | None
    updated_associate_id: int
    updated_count: int

    @property
    def identifier(self) -> str:
        """The identifier a client sends for it, e.g. ``appointment_id=17``."""
        return str(ActivityId(self.kind, self.id))


def _activity_select(tenant: str, kind: ActivityKind, where: ActivityFilter) -> Select[Any]:
    table = schema.activity_tables[kind]
    key = table.c[kind.key]
    conditions: list[ColumnElement[bool]] = [table.c.tenant == tenant]
    if where.status is not None:
        conditions.append(table.c.status == int(where.status))
    if where.owner is not None:
        conditions.append(table.c.associate_id == where.owner)
    if where.id is not None:
        conditions.append(key == where.id)
    if where.text:
        escaped = where.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(table.c.title.ilike(f"%{escaped}%", escape="\\"))
    return select(
        literal(_KINDS.index(kind)).label("kind_order"),
        key.label("id"),
        table.c.title,
        table.c.status,
        table.c.done,
        table.c.associate_id,
        table.c.group_idx,
        table.c.registered,
        table.c.updated,
        table.c.updated_associate_id,
        table.c.updatedCount,
    ).where(*conditions)


def list_activities(
    database: Database, tenant: str, where: ActivityFilter, *, limit: int = 100, offset: int = 0
) -> tuple[list[ActivityView], int]:
    """One page of the tenant's activities matching ``where`` (by kind, then id), and their total."""
    kinds = [where.kind] if where.kind is not None else _KINDS
    selects = [_activity_select(tenant, kind, where) for kind in kinds]
    matching = (union_all(*selects) if len(selects) > 1 else selects[0]).subquery()
    page = select(matching).order_by(matching.c.kind_order, matching.c.id).limit(limit).offset(offset)
    with database.read_connection() as connection:
        total = connection.execute(select(func.count()).select_from(matching)).scalar_one()
        rows = connection.execute(page).all()
    return [_activity(row) for row in rows], total


def get_activity(
    database: Database, tenant: str, kind: ActivityKind, activity_id: int
) -> ActivityView | None:
    """The tenant's activity ``kind`` ``activity_id``, or ``None``."""
    page, _ = list_activities(database, tenant, ActivityFilter(kind=kind, id=activity_id), limit=1)
    return page[0] if page else None


def _activity(row: Any) -> ActivityView:
    return ActivityView(
        kind=_KINDS[row.kind_order],
        id=row.id,
        title=row.title,
        status=ActivityStatus(row.status),
        done=row.done,
        associate_id=row.associate_id,
        group_id=row.group_idx,
        registered=row.registered,
        updated=row.updated,
        updated_associate_id=row.updated_associate_id,
        updated_count=row.updatedCount,
    )


# -- users ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserView:
    """A user as the admin API shows it: never the password hash, never a login's ticket."""

    associate_id: int
    name: str
    full_name: str
    email: str
    group_id: int
    role_id: int
    role_name: str
    user_type: str
    rights: Mapping[str, TableRights]
    password: str | None = None
    """The password, when the caller's ``passwords`` knew the stored hash (a published one)."""
    tickets: tuple[str, ...] = ()
    """The fixed tickets of the fixtures (never those that logins made)."""
    access_tokens: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    """The identifiers of the records denied to this user by name (``appointment_id=99``)."""


def list_users(database: Database, tenant: str, passwords: Mapping[str, str] | None = None) -> list[UserView]:
    """The tenant's users by associate id. ``passwords`` maps a password hash to the password a
    person may read (one the fixtures publish); a user whose stored hash it names gets it."""
    a, r, t, k, d = schema.associate, schema.role, schema.ticket, schema.access_token, schema.sentry_denial
    statement = (
        select(
            a.c.associate_id,
            a.c.name,
            a.c.password_hash,
            a.c.full_name,
            a.c.email,
            a.c.group_id,
            a.c.role_id,
            r.c.name.label("role_name"),
            a.c.user_type,
            r.c.rights,
        )
        .select_from(a.join(r, and_(r.c.tenant == a.c.tenant, r.c.role_id == a.c.role_id)))
        .where(a.c.tenant == tenant)
        .order_by(a.c.associate_id)
    )
    tickets: dict[int, list[str]] = {}
    tokens: dict[int, list[str]] = {}
    denied: dict[int, list[str]] = {}
    with database.read_connection() as connection:
        rows = connection.execute(statement).all()
        fixed = select(t.c.associate_id, t.c.ticket).where(t.c.tenant == tenant, t.c.fixed.is_(True))
        for owner, ticket in connection.execute(fixed.order_by(t.c.ticket)):
            tickets.setdefault(owner, []).append(ticket)
        for owner, token in connection.execute(
            select(k.c.associate_id, k.c.token).where(k.c.tenant == tenant)
        ):
            tokens.setdefault(owner, []).append(token)
        named = select(d.c.associate_id, d.c.kind, d.c.record_id).where(
            d.c.tenant == tenant, d.c.associate_id.is_not(None)
        )
        for owner, kind, record_id in connection.execute(named.order_by(d.c.kind, d.c.record_id)):
            denied.setdefault(owner, []).append(str(ActivityId(ActivityKind(kind), record_id)))
    passwords = passwords or {}
    return [
        UserView(
            associate_id=row.associate_id,
            name=row.name,
            full_name=row.full_name,
            email=row.email,
            group_id=row.group_id,
            role_id=row.role_id,
            role_name=row.role_name,
            user_type=row.user_type,
            rights=decode_rights(row.rights),
            password=passwords.get(row.password_hash),
            tickets=tuple(tickets.get(row.associate_id, ())),
            access_tokens=tuple(sorted(tokens.get(row.associate_id, ()))),
            denied=tuple(denied.get(row.associate_id, ())),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class DenialView:
    """A record Sentry refuses whatever the rights: to one user, or (``associate_id`` None) to all."""

    kind: ActivityKind
    record_id: int
    associate_id: int | None

    @property
    def identifier(self) -> str:
        return str(ActivityId(self.kind, self.record_id))


def list_denials(database: Database, tenant: str) -> list[DenialView]:
    """The tenant's explicit denials, by kind and record."""
    d = schema.sentry_denial
    statement = (
        select(d.c.kind, d.c.record_id, d.c.associate_id)
        .where(d.c.tenant == tenant)
        .order_by(d.c.kind, d.c.record_id, d.c.associate_id)
    )
    with database.read_connection() as connection:
        rows = connection.execute(statement).all()
    return [DenialView(ActivityKind(row.kind), row.record_id, row.associate_id) for row in rows]


def list_application_tokens(database: Database, tenant: str) -> list[str]:
    """The tenant's application tokens (``ApplicationToken`` on SOAP, ``SO-AppToken`` on REST)."""
    x = schema.application_token
    with database.read_connection() as connection:
        return list(
            connection.execute(select(x.c.token).where(x.c.tenant == tenant).order_by(x.c.token)).scalars()
        )


def list_applications(database: Database, tenant: str) -> list[Application]:
    """The applications registered in the tenant, by client id."""
    x = schema.application
    with database.read_connection() as connection:
        rows = connection.execute(select(x).where(x.c.tenant == tenant).order_by(x.c.client_id)).all()
    return [
        Application(
            row.client_id,
            row.client_secret,
            row.name,
            tuple(json.loads(row.redirect_uris)),
            tuple(json.loads(row.allowed_origins)),
            row.public_key,
            bool(row.system_user),
        )
        for row in rows
    ]


def registered_origins(database: Database, tenant: str | None) -> frozenset[str]:
    """The ``allowed_origins`` of ``tenant``'s applications (the fixtures' for a tenant not made
    yet), or with ``None`` of every tenant's and the fixtures' (SuperID's endpoints serve them all)."""
    x = schema.application
    query = select(x.c.allowed_origins)
    with database.read_connection() as connection:
        if tenant is not None:
            made = connection.execute(
                select(schema.tenant.c.tenant).where(schema.tenant.c.tenant == tenant)
            ).first()
            if made is None:
                return frozenset(o for a in database.fixtures.applications for o in a.allowed_origins)
            query = query.where(x.c.tenant == tenant)
        stored = {o for row in connection.execute(query).scalars() for o in json.loads(row)}
    if tenant is None:
        stored.update(o for a in database.fixtures.applications for o in a.allowed_origins)
    return frozenset(stored)


# -- journal ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class JournalFilter:
    """Which journal entries to read; ``since_id`` turns the order to oldest first (for polling)."""

    operation: str | None = None
    outcome: str | None = None
    user: str | None = None
    since_id: int | None = None
    wire: str | None = None


@dataclass(frozen=True)
class JournalView:
    id: int
    tenant: str
    at: datetime
    wire: str
    service: str
    operation: str
    user: str | None
    identifiers: list[str | None]
    status: str | None
    outcome: str
    exception_type: str | None
    message: str | None
    duration_ms: float
    contract_warnings: list[str]
    request_body: str | None = None
    """As kept (:func:`superoffice_emulator.storage.journal.stored_body`); ``None``: not kept or not read."""
    response_body: str | None = None
    injected: str | None = None
    """The kind of the fault injected into the call; ``None``: none was."""


_BODIES = ("request_body", "response_body")


def read_journal(
    database: Database, tenant: str, where: JournalFilter, *, limit: int, bodies: bool = True
) -> list[JournalView]:
    """Newest first; or, with ``since_id``, the entries after it, oldest first. At most ``limit``.
    Without ``bodies``, the request and response bodies are not read."""
    j = schema.journal
    columns = [column for column in j.c if bodies or column.key not in _BODIES]
    limit = max(0, min(limit, database.journal_size))
    with database.read_connection() as connection:
        floor = _journal_floor(connection, tenant, database.journal_size)
        conditions: list[ColumnElement[bool]] = [j.c.tenant == tenant, j.c.id > floor]
        if where.operation is not None:
            conditions.append(j.c.operation == where.operation)
        if where.outcome is not None:
            conditions.append(j.c.outcome == where.outcome)
        if where.user is not None:
            conditions.append(j.c.user == where.user)
        if where.since_id is not None:
            conditions.append(j.c.id > where.since_id)
        if where.wire is not None:
            conditions.append(j.c.wire == where.wire)
        order = j.c.id.asc() if where.since_id is not None else j.c.id.desc()
        rows = connection.execute(select(*columns).where(*conditions).order_by(order).limit(limit)).all()
    return [
        JournalView(
            id=row.id,
            tenant=row.tenant,
            at=row.at,
            wire=row.wire,
            service=row.service,
            operation=row.operation,
            user=row.user,
            identifiers=list(json.loads(row.identifiers)),
            status=row.status,
            outcome=row.outcome,
            exception_type=row.exception_type,
            message=row.message,
            duration_ms=row.duration_ms,
            contract_warnings=list(json.loads(row.contract_warnings)),
            request_body=row._mapping.get("request_body"),
            response_body=row._mapping.get("response_body"),
            injected=row.injected,
        )
        for row in rows
    ]


def _journal_floor(connection: Connection, tenant: str, size: int) -> int:
    """The id below the tenant's newest ``size`` entries (0 when there are fewer)."""
    j = schema.journal
    cutoff = connection.execute(
        select(j.c.id).where(j.c.tenant == tenant).order_by(j.c.id.desc()).offset(size).limit(1)
    ).scalar()
    return int(cutoff or 0)


def clear_journal(database: Database, tenant: str) -> int:
    """Delete the tenant's journal; the number of entries deleted."""
    j = schema.journal
    with database.engine.begin() as connection:
        return connection.execute(delete(j).where(j.c.tenant == tenant)).rowcount


# -- tenants ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TenantView:
    name: str
    created: datetime


def list_tenants(database: Database) -> list[TenantView]:
    t = schema.tenant
    with database.read_connection() as connection:
        rows = connection.execute(select(t.c.tenant, t.c.created).order_by(t.c.tenant)).all()
    return [TenantView(row.tenant, row.created) for row in rows]


def get_tenant(database: Database, name: str) -> TenantView | None:
    t = schema.tenant
    with database.read_connection() as connection:
        row = connection.execute(select(t.c.tenant, t.c.created).where(t.c.tenant == name)).first()
    return None if row is None else TenantView(row.tenant, row.created)


def list_webhook_deliveries(database: Database, tenant: str, limit: int) -> list[dict[str, Any]]:
    """The tenant's newest ``limit`` tries to post a webhook event, newest first."""
    d = schema.webhook_delivery
    columns = (
        d.c.id,
        d.c.event_id,
        d.c.event,
        d.c.webhook_id,
        d.c.target_url.label("target"),
        d.c.attempt,
        d.c.status,
        d.c.error,
        d.c.at,
        d.c.duration_ms,
    )
    with database.read_connection() as connection:
        rows = connection.execute(
            select(*columns).where(d.c.tenant == tenant).order_by(d.c.id.desc()).limit(limit)
        ).mappings()
        return [dict(row) for row in rows]


def list_webhooks(database: Database, tenant: str) -> list[dict[str, Any]]:
    """The tenant's webhooks as the dashboard shows them (no secret), in the order of their ids."""
    w = schema.webhook
    columns = (
        w.c.webhook_id,
        w.c.name,
        w.c.events,
        w.c.target_url.label("target"),
        w.c.state,
        w.c.errors,
        w.c.secret,
        w.c.application,
        w.c.registered,
        w.c.updated,
    )
    with database.read_connection() as connection:
        rows = connection.execute(select(*columns).where(w.c.tenant == tenant).order_by(w.c.webhook_id))
        return [
            {
                "webhook_id": row.webhook_id,
                "name": row.name,
                "events": json.loads(row.events),
                "target": row.target,
                "state": WebhookState(row.state).name,
                "errors": row.errors,
                "signed": bool(row.secret),
                "application": row.application,
                "registered": row.registered,
                "updated": row.updated,
            }
            for row in rows
        ]


def list_webhook_events(
    database: Database, tenant: str, limit: int, outcome: str | None = None
) -> list[dict[str, Any]]:
    """The tenant's newest ``limit`` events in the outbox (of ``outcome`` only, when given), newest first."""
    e = schema.webhook_event
    columns = (e.c.id, e.c.event_id, e.c.event, e.c.webhook_id, e.c.tries, e.c.outcome, e.c.created, e.c.due)
    query = select(*columns).where(e.c.tenant == tenant)
    if outcome is not None:
        query = query.where(e.c.outcome == outcome)
    with database.read_connection() as connection:
        rows = connection.execute(query.order_by(e.c.id.desc()).limit(limit)).mappings()
        return [dict(row) for row in rows]
