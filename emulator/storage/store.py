"""One tenant's view of the database inside one transaction: the queries the domain needs."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from emulator.domain.activities import (
    ActivityId,
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


class TenantStore:
    """Implements ``ActivityStore`` and ``SessionStore`` for ``tenant`` on an open connection."""

    def __init__(self, connection: Connection, tenant: str) -> None:
        self.connection = connection
        self.tenant = tenant

    # -- activities -------------------------------------------------------------------------
    def fetch_activities(self, kind: ActivityKind, ids: Collection[int]) -> dict[int, ActivityRecord]:
        table = schema.activity_tables[kind]
        key = table.c[kind.key]
        rows = self.connection.execute(
            select(key, table.c.associate_id, table.c.group_idx).where(
                table.c.tenant == self.tenant, key.in_(list(ids))
            )
        )
        return {row[0]: ActivityRecord(row[0], row[1], row[2]) for row in rows}

    def fetch_denied(self, ids: Collection[ActivityId], associate_id: int) -> set[ActivityId]:
        d = schema.sentry_denial
        by_kind: dict[str, list[int]] = {}
        for activity in ids:
            by_kind.setdefault(activity.kind.value, []).append(activity.id)
        rows = self.connection.execute(
            select(d.c.kind, d.c.record_id).where(
                d.c.tenant == self.tenant,
                or_(d.c.associate_id.is_(None), d.c.associate_id == associate_id),
                or_(*(and_(d.c.kind == k, d.c.record_id.in_(v)) for k, v in by_kind.items())),
            )
        )
        return {ActivityId(ActivityKind(kind), record_id) for kind, record_id in rows}

    def update_status(
        self,
        kind: ActivityKind,
        ids: Collection[int],
        status: ActivityStatus,
        associate_id: int,
        now: datetime,
    ) -> None:
        table = schema.activity_tables[kind]
        self.connection.execute(
            update(table)
            .where(table.c.tenant == self.tenant, table.c[kind.key].in_(list(ids)))
            .values(
                status=int(status),
                done=now if status is ActivityStatus.Completed else None,
                updated=now,
                updated_associate_id=associate_id,
                updatedCount=table.c.updatedCount + 1,
            )
        )

    # -- sessions ---------------------------------------------------------------------------
    def find_ticket(self, ticket: str) -> TicketRow | None:
        row = self.connection.execute(
            select(*_USER_COLUMNS, _t.c.last_used, _t.c.fixed)
            .select_from(
                _t.join(
                    _USERS,
                    and_(_a.c.tenant == _t.c.tenant, _a.c.associate_id == _t.c.associate_id),
                )
            )
            .where(_t.c.tenant == self.tenant, _t.c.ticket == ticket)
        ).first()
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
        tok = schema.application_token
        found = self.connection.execute(
            select(func.count()).where(tok.c.tenant == self.tenant, tok.c.token == token)
        ).scalar_one()
        return bool(found)
