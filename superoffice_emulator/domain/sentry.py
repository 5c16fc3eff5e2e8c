"""Sentry, as far as the emulator models it: role rights over own, group and other records.

A role grants, per table, a level for each relation a record can have to the user: the user's
own record, a record of the user's group, or anyone else's. Explicit per-record denials (from
fixtures or the admin API) override the role, so tests can simulate a refusal on demand.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class Level(enum.IntEnum):
    none = 0
    read = 1
    update = 2


@dataclass(frozen=True)
class TableRights:
    own: Level = Level.update
    group: Level = Level.update
    other: Level = Level.update


class OwnedRecord(Protocol):
    @property
    def associate_id(self) -> int: ...

    @property
    def group_id(self) -> int: ...


@dataclass(frozen=True)
class User:
    """An associate as a ticket or a login names it, with the rights of the role."""

    associate_id: int
    name: str
    group_id: int
    role_id: int
    role_name: str
    rights: Mapping[str, TableRights] = field(default_factory=dict)
    full_name: str = ""
    email: str = ""
    person_id: int = 0
    contact_id: int = 0
    user_type: str = "InternalAssociate"


def relation_level(rights: TableRights, user: User, record: OwnedRecord) -> Level:
    """The level the role grants on ``record``, by its relation to ``user``."""
    if record.associate_id == user.associate_id:
        return rights.own
    if record.group_id == user.group_id:
        return rights.group
    return rights.other


def may_update(user: User, table: str, record: OwnedRecord) -> bool:
    """True when the user's role lets them update ``record`` in ``table`` (default: no right)."""
    rights = user.rights.get(table)
    if rights is None:
        return False
    return relation_level(rights, user, record) >= Level.update
