"""The SQL of a SOAP call's transaction, as text per database dialect, run on the DB-API cursor.

A ``SetActivityStatus`` call runs about seven statements. Through SQLAlchemy Core each costs
about 25 µs of Python even with its statement cache, the transaction as much again, and the
call's own work is a few µs per statement; so the calls' statements are written out here once
per dialect and run on the driver's cursor (``emulator.storage.store``). Everything else (the
schema, fixtures, reset, the admin API's reads) stays on SQLAlchemy, which owns the tables in
``emulator.storage.schema``; the names below must match them, and the whole test suite runs
these statements on SQLite and on PostgreSQL.

Identifiers are quoted where PostgreSQL needs it (``"user"`` is a reserved word,
``"updatedCount"`` has capitals); SQLite accepts the same quoting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.domain.activities import ActivityKind
from emulator.storage import schema

_INLINE_IDS = 64
"""Up to this many ids, SQLite gets one ``?`` per id; above it, one JSON array (no variable limit)."""


@dataclass(frozen=True)
class Dialect:
    """What differs between the drivers: placeholders, id lists, datetimes, transaction start."""

    name: str
    begin: str | None
    """The statement that starts a write transaction, or ``None`` when the driver starts one."""

    def sql(self, text: str) -> str:
        """``text`` written with ``?`` placeholders, in the driver's own style."""
        return text

    def id_shape(self, count: int) -> int:
        """What of an id list's length shows in the statement's text (statements are cached by it)."""
        raise NotImplementedError

    def ids_match(self, column: str, shape: int) -> str:
        """A condition on ``column`` being one of the ids that :meth:`id_params` passes."""
        raise NotImplementedError

    def id_params(self, ids: list[int]) -> list[Any]:
        raise NotImplementedError

    def time_param(self, value: datetime | None) -> Any:
        return value

    def time_value(self, value: Any) -> datetime:
        return value  # type: ignore[no-any-return]


class SQLiteDialect(Dialect):
    """sqlite3: ``?``; datetimes as the text SQLAlchemy's ``DateTime`` stores on SQLite."""

    def id_shape(self, count: int) -> int:
        return count if count <= _INLINE_IDS else 0

    def ids_match(self, column: str, shape: int) -> str:
        if shape:
            return f"{column} IN ({', '.join('?' * shape)})"
        return f"{column} IN (SELECT value FROM json_each(?))"

    def id_params(self, ids: list[int]) -> list[Any]:
        return ids if len(ids) <= _INLINE_IDS else [json.dumps(ids)]

    def time_param(self, value: datetime | None) -> Any:
        return None if value is None else value.isoformat(" ", "microseconds")

    def time_value(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)


class PostgresDialect(Dialect):
    """psycopg 3: ``%s``; id lists as one array parameter; datetimes as they are."""

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def id_shape(self, count: int) -> int:
        return 0

    def ids_match(self, column: str, shape: int) -> str:
        return f"{column} = ANY(?)"

    def id_params(self, ids: list[int]) -> list[Any]:
        return [ids]


SQLITE = SQLiteDialect("sqlite", begin="BEGIN IMMEDIATE")
POSTGRES = PostgresDialect("postgresql", begin=None)


DIALECTS: dict[str, Dialect] = {dialect.name: dialect for dialect in (SQLITE, POSTGRES)}


def dialect_named(backend: str) -> Dialect:
    """The dialect of an SQLAlchemy backend name; the one check that the emulator runs on it."""
    dialect = DIALECTS.get(backend)
    if dialect is None:
        raise ValueError(f"the emulator runs on SQLite or PostgreSQL, not on {backend}")
    return dialect


_USER_COLUMNS = (
    "a.associate_id, a.name, a.group_id, a.role_id, r.name, r.rights, "
    "a.full_name, a.email, a.person_id, a.contact_id, a.user_type"
)
"""The columns :func:`emulator.storage.store.user_from_row` reads, in its order."""
_ROLE = "JOIN role r ON r.tenant = a.tenant AND r.role_id = a.role_id"
_JOURNAL = schema.journal.name
JOURNAL_COLUMNS = (
    "tenant",
    "at",
    "service",
    "operation",
    "user",
    "identifiers",
    "status",
    "outcome",
    "exception_type",
    "message",
    "duration_ms",
    "contract_warnings",
)


class Statements:
    """The statements of a call's transaction in one dialect, each written out once."""

    def __init__(self, dialect: Dialect) -> None:
        sql = dialect.sql
        self.dialect = dialect
        self.find_ticket = sql(
            f"SELECT {_USER_COLUMNS}, t.last_used, t.fixed "
            "FROM ticket t JOIN associate a ON a.tenant = t.tenant AND a.associate_id = t.associate_id "
            f"{_ROLE} "
            "WHERE t.tenant = ? AND t.ticket = ?"
        )
        self.touch_ticket = sql("UPDATE ticket SET last_used = ? WHERE tenant = ? AND ticket = ?")
        self.add_ticket = sql(
            "INSERT INTO ticket (tenant, ticket, associate_id, last_used, fixed) VALUES (?, ?, ?, ?, ?)"
        )
        self.find_login = sql(
            f"SELECT {_USER_COLUMNS}, a.password_hash FROM associate a {_ROLE} "
            "WHERE a.tenant = ? AND a.name = ?"
        )
        self.has_token = sql("SELECT 1 FROM application_token WHERE tenant = ? AND token = ?")
        columns = ", ".join(f'"{column}"' for column in JOURNAL_COLUMNS)
        values = ", ".join("?" * len(JOURNAL_COLUMNS))
        self.journal_insert = sql(f"INSERT INTO {_JOURNAL} ({columns}) VALUES ({values})")
        self.journal_floor = sql(
            f"SELECT id FROM {_JOURNAL} WHERE tenant = ? ORDER BY id DESC LIMIT 1 OFFSET ?"
        )
        """The id just below a tenant's newest N entries (no row when it has N or fewer)."""
        self.journal_trim = sql(f"DELETE FROM {_JOURNAL} WHERE tenant = ? AND id <= ?")
        self.tenant_lock = sql("SELECT pg_advisory_xact_lock(?)")
        self.tenant_exists = sql(f"SELECT 1 FROM {schema.tenant.name} WHERE tenant = ?")
        self._selects: dict[tuple[ActivityKind, int], str] = {}
        self._updates: dict[tuple[ActivityKind, int], str] = {}

    def select_activities(self, kind: ActivityKind, count: int) -> str:
        """Owner, group and "explicitly denied to this user" of ``count`` records of ``kind``.

        Parameters: the user's associate id, the tenant, then :meth:`Dialect.id_params`.
        """
        shape = self.dialect.id_shape(count)
        text = self._selects.get((kind, shape))
        if text is None:
            column = kind.key
            text = self._selects[kind, shape] = self.dialect.sql(
                f"SELECT x.{column}, x.associate_id, x.group_idx, EXISTS ("
                f"SELECT 1 FROM {schema.sentry_denial.name} d WHERE d.tenant = x.tenant "
                f"AND d.kind = '{kind.value}' AND d.record_id = x.{column} "
                "AND (d.associate_id IS NULL OR d.associate_id = ?)) "
                f"FROM {kind.value} x WHERE x.tenant = ? AND {self.dialect.ids_match(f'x.{column}', shape)}"
            )
        return text

    def update_status(self, kind: ActivityKind, count: int) -> str:
        """Set status, done and the bookkeeping of ``count`` records of ``kind``.

        Parameters: status, done, updated, updated_associate_id, the tenant, then the id params.
        """
        shape = self.dialect.id_shape(count)
        text = self._updates.get((kind, shape))
        if text is None:
            text = self._updates[kind, shape] = self.dialect.sql(
                f"UPDATE {kind.value} SET status = ?, done = ?, updated = ?, updated_associate_id = ?, "
                '"updatedCount" = "updatedCount" + 1 '
                f"WHERE tenant = ? AND {self.dialect.ids_match(kind.key, shape)}"
            )
        return text
