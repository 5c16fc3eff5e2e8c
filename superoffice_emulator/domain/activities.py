"""Activity identifiers, the completed status, and the all-or-nothing ``SetActivityStatus`` rule."""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from superoffice_emulator.domain.errors import SoException, SoSentryException, shown
from superoffice_emulator.domain.sentry import User, may_update
from superoffice_emulator.domain.values import is_int32


class ActivityKind(enum.Enum):
    """The four kinds of activity; the value is the table name."""

    APPOINTMENT = "appointment"
    SALE = "sale"
    DOCUMENT = "document"
    TODO = "todo"

    __hash__ = object.__hash__  # each kind is one object: its identity, not Enum's hash of its name

    @property
    def key(self) -> str:
        """The identifier key and primary-key column, e.g. ``appointment_id``."""
        return f"{self.value}_id"


KIND_BY_KEY = {kind.key: kind for kind in ActivityKind}


class ActivityStatus(enum.IntEnum):
    """The completed status shared by appointments, documents and sales (stored as 0..3)."""

    Unknown = 0
    NotStarted = 1
    Started = 2
    Completed = 3


class ActivityId(NamedTuple):
    kind: ActivityKind
    id: int

    def __str__(self) -> str:
        return f"{self.kind.key}={self.id}"


_IDENTIFIER = re.compile(r"\s*([a-z_]+)\s*=\s*([+-]?)(\d+)\s*", re.ASCII)


def parse_identifier(text: str | None) -> ActivityId | None:
    """``appointment_id=666`` → ``ActivityId``; anything not of that grammar → ``None``."""
    if text is None:
        return None
    match = _IDENTIFIER.fullmatch(text)
    if match is None:
        return None
    key, sign, digits = match.groups()
    kind = KIND_BY_KEY.get(key)
    if kind is None:
        return None
    if len(digits) > 10:  # beyond 32 bits unless leading zeros; and int() refuses very long digit strings
        digits = digits.lstrip("0")
        if len(digits) > 10:
            return None
    number = -int(digits) if sign == "-" else int(digits)
    if not is_int32(number):
        return None
    return ActivityId(kind, number)


class ActivityRecord(NamedTuple):
    """What Sentry needs to know of a record: owner, owner's group, explicit denial to the user."""

    id: int
    associate_id: int
    group_id: int
    denied: bool = False
    status: ActivityStatus | None = None
    """The status before the call (``None``: not read)."""
    done: datetime | None = None
    updated_count: int = 0


@dataclass(frozen=True)
class Change:
    """One activity row whose status a call really changed."""

    kind: ActivityKind
    id: int
    before: ActivityStatus
    status: ActivityStatus
    done_changed: bool
    done: datetime | None
    associate_id: int
    """The record's owner."""
    updated_count: int
    """``updatedCount`` after the change."""


class ActivityStore(Protocol):
    """The storage a ``SetActivityStatus`` call needs; one transaction spans all calls."""

    def fetch_activities(
        self, kind: ActivityKind, ids: Collection[int], associate_id: int
    ) -> dict[int, ActivityRecord]:
        """The named records that exist, each marked when it is explicitly denied to the user."""
        ...

    def update_status(
        self,
        kind: ActivityKind,
        ids: Collection[int],
        status: ActivityStatus,
        associate_id: int,
        now: datetime,
    ) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What a call did: how many records it changed, or which identifier stopped it."""

    changed: int
    skipped_because: str | None = None
    changes: tuple[Change, ...] = ()
    """The rows whose status really changed (a row already at the status is written, not changed)."""


class ActivityNotFound(SoException):
    """Strict mode only: an identifier that NetServer would silently ignore."""


def set_activity_status(
    store: ActivityStore,
    user: User,
    identifiers: Sequence[str | None],
    status: ActivityStatus,
    now: datetime,
    *,
    strict: bool = False,
) -> Outcome:
    """Set ``status`` on every activity named, or on none of them.

    The identifiers are checked in order before anything is written and the first problem
    decides: an invalid or nonexistent id makes the call change nothing and succeed (as
    NetServer documents; a failure in strict mode); a record the user may not update makes
    it change nothing and raise ``SoSentryException``.
    """
    parsed = [parse_identifier(text) for text in identifiers]
    wanted: dict[ActivityKind, set[int]] = {}
    for activity in parsed:
        if activity is not None:
            wanted.setdefault(activity.kind, set()).add(activity.id)
    records = {kind: store.fetch_activities(kind, ids, user.associate_id) for kind, ids in wanted.items()}

    for text, activity in zip(identifiers, parsed, strict=True):
        if activity is None:
            return _nothing(f"invalid identifier {shown(text)}", strict)
        record = records[activity.kind].get(activity.id)
        if record is None:
            return _nothing(f"{activity} does not exist", strict)
        if record.denied or not may_update(user, activity.kind.value, record):
            raise _sentry_denial(activity, user)

    for kind, ids in wanted.items():
        store.update_status(kind, ids, status, user.associate_id, now)
    changes = tuple(
        _change(kind, records[kind][id_], status, now)
        for kind, ids in wanted.items()
        for id_ in sorted(ids)
        if records[kind][id_].status not in (None, status)
    )
    return Outcome(changed=sum(len(ids) for ids in wanted.values()), changes=changes)


def _change(kind: ActivityKind, record: ActivityRecord, status: ActivityStatus, now: datetime) -> Change:
    done = now if status is ActivityStatus.Completed else None
    return Change(
        kind=kind,
        id=record.id,
        before=record.status or ActivityStatus.Unknown,
        status=status,
        done_changed=done is not None or record.done is not None,
        done=done,
        associate_id=record.associate_id,
        updated_count=record.updated_count + 1,
    )


def _nothing(reason: str, strict: bool) -> Outcome:
    if strict:
        raise ActivityNotFound(
            f"No changes were made: {reason} (strict mode).",
            friendly_text=f"Nothing was changed, because {reason}.",
        )
    return Outcome(changed=0, skipped_because=reason)


def _sentry_denial(activity: ActivityId, user: User) -> SoSentryException:
    return SoSentryException(
        f"Sentry denies update of {activity} for associate {user.name} "
        f"(associate_id={user.associate_id}); no changes were made.",
        friendly_text=(
            f"You do not have access to change this {activity.kind.value} ({activity}). "
            "No activities were changed."
        ),
        parameters={"ActivityIdentifier": str(activity), "Associate": user.name},
    )
