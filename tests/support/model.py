"""A small model of SetActivityStatus (the identifier rules and Sentry), written independently of the
emulator: the identifier grammar, the tenant's users, tickets and denials as stored, the answer a
call must get, and the checks of the rows it wrote. The fuzz, concurrency and crash tests use it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.database import query, query_dicts

KINDS = ("appointment", "sale", "document", "todo")
STATUSES = ("Unknown", "NotStarted", "Started", "Completed")
XML_SPACE = " \t\n\r"
Key = tuple[str, int]
Row = dict[str, Any]


def parse_identifier(text: str | None) -> Key | None:
    """The identifier rule, written independently of the emulator: ``key=integer``, white space around
    the parts ignored, 32-bit; anything else is invalid (``None``)."""
    if text is None:
        return None
    key, sep, number = text.partition("=")
    key, number = key.strip(XML_SPACE), number.strip(XML_SPACE)
    if not sep or key not in {f"{k}_id" for k in KINDS}:
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", number):
        return None
    digits = number.lstrip("+-").lstrip("0") or "0"
    if len(digits) > 10:
        return None
    value = -int(digits) if number.startswith("-") else int(digits)
    if not -(2**31) <= value < 2**31:
        return None
    return key.removesuffix("_id"), value


@dataclass(frozen=True)
class UserInfo:
    associate_id: int
    name: str
    group_id: int
    rights: dict[str, list[int]]  # table: [own, group, other], 2 = update


@dataclass
class Expected:
    """What a call must do: ``fault``, ``session``, ``sentry`` (nothing written), ``noop``, ``apply``."""

    kind: str
    keys: frozenset[Key] = frozenset()
    status: int = 0
    user: int = 0


class Model:
    """The tenant's users, tickets and denials as stored, and the rules of a SetActivityStatus call."""

    def __init__(self, db_path: Path, tenant: str = "default") -> None:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return query(db_path, sql, t=tenant)

        roles = dict(rows("SELECT role_id, rights FROM role WHERE tenant = :t"))
        self.users = {
            associate_id: UserInfo(associate_id, name, group_id, json.loads(roles[role_id]))
            for associate_id, name, group_id, role_id in rows(
                "SELECT associate_id, name, group_id, role_id FROM associate WHERE tenant = :t"
            )
        }
        self.tickets = dict(rows("SELECT ticket, associate_id FROM ticket WHERE tenant = :t"))
        self.denials = set(rows("SELECT kind, record_id, associate_id FROM sentry_denial WHERE tenant = :t"))
        self.by_name = {user.name: user.associate_id for user in self.users.values()}

    def may_update(self, user: UserInfo, key: Key, row: Row) -> bool:
        kind, number = key
        if (kind, number, None) in self.denials or (kind, number, user.associate_id) in self.denials:
            return False
        own, group, other = user.rights.get(kind, [0, 0, 0])
        if row["associate_id"] == user.associate_id:
            return own >= 2
        return (group if row["group_idx"] == user.group_id else other) >= 2

    def expect(
        self,
        rows: dict[Key, Row],
        ticket: str | None,
        identifiers: list[str | None] | None,
        status: str | None,
    ) -> Expected:
        if status is None:
            value = 0
        elif status.strip(XML_SPACE) in STATUSES:
            value = STATUSES.index(status.strip(XML_SPACE))
        else:
            return Expected("fault")
        associate = self.tickets.get((ticket or "").strip(XML_SPACE))
        if associate is None:
            return Expected("session")
        user = self.users[associate]
        keys = []
        for text in identifiers or []:
            key = parse_identifier(text)
            if key is None or key not in rows:
                return Expected("noop")
            if not self.may_update(user, key, rows[key]):
                return Expected("sentry")
            keys.append(key)
        if not keys:
            return Expected("noop")
        return Expected("apply", frozenset(keys), value, associate)


def read_rows(db_path: Path, tenant: str = "default") -> dict[Key, Row]:
    """Every activity of ``tenant``, by (kind, id)."""
    rows: dict[Key, Row] = {}
    for kind in KINDS:
        for row in query_dicts(db_path, f"SELECT * FROM {kind} WHERE tenant = :t", t=tenant):
            rows[(kind, row[f"{kind}_id"])] = row
    return rows


def stamp(moment: datetime) -> str:
    """A datetime as SQLAlchemy stores it in SQLite."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def assert_written(before: Row, after: Row, status: int, user: int, at: str | None) -> None:
    """``after`` is ``before`` with one SetActivityStatus applied (``at`` None: any time)."""
    assert after["status"] == status
    assert after["updatedCount"] == before["updatedCount"] + 1
    assert after["updated_associate_id"] == user
    if at is not None:
        assert after["updated"] == at
    assert after["done"] == (after["updated"] if status == 3 else None)
    unchanged = set(before) - {"status", "updatedCount", "updated_associate_id", "updated", "done"}
    assert {c: after[c] for c in unchanged} == {c: before[c] for c in unchanged}


def assert_change(
    before: dict[Key, Row], after: dict[Key, Row], keys: frozenset[Key], status: int, user: int, at: str
) -> None:
    """Exactly ``keys`` changed, each written once with ``status`` by ``user`` at ``at``."""
    assert set(after) == set(before)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == set(keys), f"changed {sorted(changed)}, expected {sorted(keys)}"
    for key in keys:
        assert_written(before[key], after[key], status, user, at)
