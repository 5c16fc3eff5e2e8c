"""One tenant's view of the database inside one transaction: the statements the domain needs."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from emulator.domain.activities import (
    ActivityKind,
    ActivityRecord,
    ActivityStatus,
)
from emulator.domain.sentry import Level, TableRights, User
from emulator.domain.sessions import TicketRow
from emulator.storage.sql import Statements


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


def user_from_row(row: Sequence[Any]) -> User:
    """A ``User`` from the user columns of :mod:`emulator.storage.sql`, in their order."""
    return _user(tuple(row[:11]))


@functools.lru_cache(maxsize=256)
def _user(row: tuple[Any, ...]) -> User:
    """Users are immutable and few, and every call reads one: each is built once."""
    return User(
        associate_id=row[0],
        name=row[1],
        group_id=row[2],
        role_id=row[3],
        role_name=row[4],
        rights=decode_rights(row[5]),
        full_name=row[6],
        email=row[7],
        person_id=row[8],
        contact_id=row[9],
        user_type=row[10],
    )


class TenantStore:
    """Implements ``ActivityStore`` and ``SessionStore`` for ``tenant`` in one open transaction.

    It runs the statements of :mod:`emulator.storage.sql` on the driver's cursor; the
    transaction is :meth:`emulator.storage.database.Database.transaction`'s.
    """

    def __init__(self, cursor: Any, tenant: str, statements: Statements, lock_key: int | None = None) -> None:
        self.cursor = cursor
        self.tenant = tenant
        self.sql = statements
        self.dialect = statements.dialect
        self.lock_key = lock_key
        """PostgreSQL: the tenant's advisory lock, taken when a transaction begins."""

    def begin(self) -> None:
        """Start a write transaction (and, on PostgreSQL, wait for the tenant's advisory lock)."""
        if self.dialect.begin is not None:
            self.cursor.execute(self.dialect.begin)
        if self.lock_key is not None:
            self.cursor.execute(self.sql.tenant_lock, (self.lock_key,))

    def tenant_exists(self) -> bool:
        self.cursor.execute(self.sql.tenant_exists, (self.tenant,))
        return self.cursor.fetchone() is not None

    # -- activities -------------------------------------------------------------------------
    def fetch_activities(
        self, kind: ActivityKind, ids: Collection[int], associate_id: int
    ) -> dict[int, ActivityRecord]:
        wanted = list(ids)
        self.cursor.execute(
            self.sql.select_activities(kind, len(wanted)),
            [associate_id, self.tenant, *self.dialect.id_params(wanted)],
        )
        rows = self.cursor.fetchall()
        return {row[0]: ActivityRecord(row[0], row[1], row[2], bool(row[3])) for row in rows}

    def update_status(
        self,
        kind: ActivityKind,
        ids: Collection[int],
        status: ActivityStatus,
        associate_id: int,
        now: datetime,
    ) -> None:
        wanted = list(ids)
        at = self.dialect.time_param(now)
        done = at if status is ActivityStatus.Completed else None
        self.cursor.execute(
            self.sql.update_status(kind, len(wanted)),
            [int(status), done, at, associate_id, self.tenant, *self.dialect.id_params(wanted)],
        )

    # -- sessions ---------------------------------------------------------------------------
    def find_ticket(self, ticket: str) -> TicketRow | None:
        self.cursor.execute(self.sql.find_ticket, (self.tenant, ticket))
        row = self.cursor.fetchone()
        if row is None:
            return None
        return TicketRow(user_from_row(row), self.dialect.time_value(row[11]), bool(row[12]))

    def touch_ticket(self, ticket: str, now: datetime) -> None:
        self.cursor.execute(self.sql.touch_ticket, (self.dialect.time_param(now), self.tenant, ticket))

    def add_ticket(self, ticket: str, associate_id: int, now: datetime) -> None:
        self.cursor.execute(
            self.sql.add_ticket, (self.tenant, ticket, associate_id, self.dialect.time_param(now), False)
        )

    def find_login(self, name: str) -> tuple[User, str] | None:
        self.cursor.execute(self.sql.find_login, (self.tenant, name))
        row = self.cursor.fetchone()
        return None if row is None else (user_from_row(row), row[11])

    def has_application_token(self, token: str) -> bool:
        self.cursor.execute(self.sql.has_token, (self.tenant, token))
        return self.cursor.fetchone() is not None

    # -- journal ----------------------------------------------------------------------------
    def add_journal_entry(self, values: Sequence[Any]) -> None:
        """One journal row; ``values`` in the order of ``sql.JOURNAL_COLUMNS`` after the tenant."""
        self.cursor.execute(self.sql.journal_insert, (self.tenant, *values))

    def trim_journal(self, keep: int) -> None:
        """Delete all but the tenant's newest ``keep`` journal entries."""
        self.cursor.execute(self.sql.journal_floor, (self.tenant, keep))
        row = self.cursor.fetchone()
        if row is not None:
            self.cursor.execute(self.sql.journal_trim, (self.tenant, row[0]))
