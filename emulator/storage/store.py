"""One tenant's view of the database inside one transaction: the queries the domain needs."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, Update, and_, bindparam, insert, or_, select, update

from emulator.domain.activities import (
    ActivityKind,
    ActivityRecord,
    ActivityStatus,
)
from emulator.domain.sentry import Level, TableRights, User
from emulator.domain.sessions import TicketRow
from emulator.storage import schema


@functools.lru_cache(maxsize=256)
def decode_rights(text: str) -> Mapping[str, TableRights]:
    """Role rights as stored (JSON ``{table: [own, group, other]}``) → ``TableRights`` per table."""
    raw: dict[str, list[int]] = json.loads(text)
    return {table: TableRights(*(Level(v) for v in levels)) for table, levels in raw.items()}


def encode_rights(rights: Mapping[str, TableRights]) -> str:
    return json.dumps(
        {t: [r.own.value, r.group.value, r.other.value] for t, r in sorted(rights.items())},
        separators=(",", ":"),
    )


_a, _r, _t = schema.associate, schema.role, schema.ticket
_USER_COLUMNS = (
    _a.c.associate_id,
    _a.c.name,
    _a.c.group_id,
    _a.c.role_id,
    _r.c.name.label("role_name"),
    _r.c.rights,
    _a.c.full_name,
    _a.c.email,
    _a.c.person_id,
    _a.c.contact_id,
    _a.c.user_type,
)
_USERS = _a.join(_r, and_(_r.c.tenant == _a.c.tenant, _r.c.role_id == _a.c.role_id))


def _user(row: Any) -> User:
    return User(
        associate_id=row.associate_id,
        name=row.name,
        group_id=row.group_id,
        role_id=row.role_id,
        role_name=row.role_name,
        rights=decode_rights(row.rights),
        full_name=row.full_name,
        email=row.email,
        person_id=row.person_id,
        contact_id=row.contact_id,
        user_type=row.user_type,
    )


def _activity_select(kind: ActivityKind) -> Select[Any]:
    """Owner, group and "denied to this user" of the named records: Sentry's facts, one query."""
    table, d = schema.activity_tables[kind], schema.sentry_denial
    key = table.c[kind.key]
    denied = (
        select(d.c.id)
        .where(
            d.c.tenant == table.c.tenant,
            d.c.kind == kind.value,
            d.c.record_id == key,
            or_(d.c.associate_id.is_(None), d.c.associate_id == bindparam("associate_id")),
        )
        .exists()
    )
    return select(key, table.c.associate_id, table.c.group_idx, denied).where(
        table.c.tenant == bindparam("tenant"), key.in_(bindparam("ids", expanding=True))
    )


def _status_update(kind: ActivityKind) -> Update:
    table = schema.activity_tables[kind]
    return (
        update(table)
        .where(
            table.c.tenant == bindparam("in_tenant"),
            table.c[kind.key].in_(bindparam("ids", expanding=True)),
        )
        .values(
            status=bindparam("new_status"),
            done=bindparam("new_done"),
            updated=bindparam("now"),
            updated_associate_id=bindparam("by"),
            updatedCount=table.c.updatedCount + 1,
        )
    )


_FIND_TICKET = (
    select(*_USER_COLUMNS, _t.c.last_used, _t.c.fixed)
    .select_from(_t.join(_USERS, and_(_a.c.tenant == _t.c.tenant, _a.c.associate_id == _t.c.associate_id)))
    .where(_t.c.tenant == bindparam("tenant"), _t.c.ticket == bindparam("ticket"))
)

_HAS_TOKEN = select(schema.application_token.c.token).where(
    schema.application_token.c.tenant == bindparam("tenant"),
    schema.application_token.c.token == bindparam("token"),
)

# Built once: constructing a statement costs more than executing a cached one.
_ACTIVITY_SELECTS = {kind: _activity_select(kind) for kind in ActivityKind}
_STATUS_UPDATES = {kind: _status_update(kind) for kind in ActivityKind}


class TenantStore:
    """Implements ``ActivityStore`` and ``SessionStore`` for ``tenant`` on an open connection."""

    def __init__(self, connection: Connection, tenant: str) -> None:
        self.connection = connection
        self.tenant = tenant

    # -- activities -------------------------------------------------------------------------
    def fetch_activities(
        self, kind: ActivityKind, ids: Collection[int], associate_id: int
    ) -> dict[int, ActivityRecord]:
        rows = self.connection.execute(
            _ACTIVITY_SELECTS[kind],
            {"tenant": self.tenant, "ids": list(ids), "associate_id": associate_id},
        )
        return {row[0]: ActivityRecord(row[0], row[1], row[2], bool(row[3])) for row in rows}

    def update_status(
        self,
        kind: ActivityKind,
        ids: Collection[int],
        status: ActivityStatus,
        associate_id: int,
        now: datetime,
    ) -> None:
        self.connection.execute(
            _STATUS_UPDATES[kind],
            {
                "in_tenant": self.tenant,
                "ids": list(ids),
                "new_status": int(status),
                "new_done": now if status is ActivityStatus.Completed else None,
                "now": now,
                "by": associate_id,
            },
        )

    # -- sessions ---------------------------------------------------------------------------
    def find_ticket(self, ticket: str) -> TicketRow | None:
        row = self.connection.execute(_FIND_TICKET, {"tenant": self.tenant, "ticket": ticket}).first()
        return None if row is None else TicketRow(_user(row), row.last_used, row.fixed)

    def touch_ticket(self, ticket: str, now: datetime) -> None:
        self.connection.execute(
            update(_t).where(_t.c.tenant == self.tenant, _t.c.ticket == ticket).values(last_used=now)
        )

    def add_ticket(self, ticket: str, associate_id: int, now: datetime) -> None:
        self.connection.execute(
            insert(_t).values(
                tenant=self.tenant, ticket=ticket, associate_id=associate_id, last_used=now, fixed=False
            )
        )

    def find_login(self, name: str) -> tuple[User, str] | None:
        row = self.connection.execute(
            select(*_USER_COLUMNS, _a.c.password_hash)
            .select_from(_USERS)
            .where(_a.c.tenant == self.tenant, _a.c.name == name)
        ).first()
        return None if row is None else (_user(row), row.password_hash)

    def has_application_token(self, token: str) -> bool:
        found = self.connection.execute(_HAS_TOKEN, {"tenant": self.tenant, "token": token}).first()
        return found is not None
