"""The CRM rules alone: identifiers, all-or-nothing, Sentry; no SOAP, no HTTP, a store in memory."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import pytest

from superoffice_emulator.domain.activities import (
    ActivityId,
    ActivityKind,
    ActivityNotFound,
    ActivityRecord,
    ActivityStatus,
    parse_identifier,
    set_activity_status,
)
from superoffice_emulator.domain.errors import SoSentryException
from superoffice_emulator.domain.sentry import Level, TableRights, User

NOW = datetime(2026, 3, 1, 12, 0)
ALL = TableRights()
SALES = TableRights(own=Level.update, group=Level.update, other=Level.read)


def user(rights: TableRights = ALL, associate_id: int = 1, group_id: int = 1) -> User:
    return User(
        associate_id=associate_id,
        name=f"user{associate_id}",
        group_id=group_id,
        role_id=1,
        role_name="Role",
        rights=dict.fromkeys(["appointment", "sale", "document", "todo"], rights),
    )


class MemoryStore:
    """The smallest honest ActivityStore: dicts, and a log of the writes it received."""

    def __init__(self) -> None:
        self.records = {
            kind: {i: ActivityRecord(i, associate_id=1 + i % 3, group_id=1 + i % 2) for i in range(1, 11)}
            for kind in ActivityKind
        }
        self.denied: set[ActivityId] = set()
        self.writes: list[tuple[ActivityKind, frozenset[int], ActivityStatus]] = []
        self.queries = 0

    def fetch_activities(
        self, kind: ActivityKind, ids: Collection[int], associate_id: int
    ) -> dict[int, ActivityRecord]:
        self.queries += 1
        return {
            i: self.records[kind][i]._replace(denied=ActivityId(kind, i) in self.denied)
            for i in ids
            if i in self.records[kind]
        }

    def update_status(
        self,
        kind: ActivityKind,
        ids: Collection[int],
        status: ActivityStatus,
        associate_id: int,
        now: datetime,
    ) -> None:
        self.writes.append((kind, frozenset(ids), status))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("appointment_id=666", ActivityId(ActivityKind.APPOINTMENT, 666)),
        ("sale_id=1", ActivityId(ActivityKind.SALE, 1)),
        ("document_id=7", ActivityId(ActivityKind.DOCUMENT, 7)),
        ("todo_id=42", ActivityId(ActivityKind.TODO, 42)),
        ("  appointment_id = 5 ", ActivityId(ActivityKind.APPOINTMENT, 5)),
        ("sale_id=-5", ActivityId(ActivityKind.SALE, -5)),
        ("sale_id=+0007", ActivityId(ActivityKind.SALE, 7)),
        ("todo_id=-2147483648", ActivityId(ActivityKind.TODO, -(2**31))),
        ("todo_id=" + "0" * 40 + "2147483647", ActivityId(ActivityKind.TODO, 2**31 - 1)),  # zeros add nothing
    ],
)
def test_identifier_grammar_accepts(text: str, expected: ActivityId) -> None:
    assert parse_identifier(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "666",
        "appointment_id",
        "appointment_id=",
        "appointment_id=abc",
        "appointment_id=1.5",
        "contact_id=5",
        "Appointment_id=5",
        "appointment_id=1;sale_id=2",
        "appointment_id=1,2",
        "appointment_id=99999999999",
        "appointment_id=2147483648",  # beyond 32 bits
        "appointment_id=-2147483649",
        "appointment_id=" + "0" * 40 + "2147483648",
        "appointment_id=+-1",
        "appointment_id=٣",  # a non-ASCII digit is not an integer here
    ],
)
def test_identifier_grammar_rejects(text: str | None) -> None:
    assert parse_identifier(text) is None


def test_sets_every_kind_in_one_batch_with_one_query_per_table() -> None:
    store = MemoryStore()
    ids = ["appointment_id=1", "sale_id=2", "document_id=3", "todo_id=4", "appointment_id=5"]
    outcome = set_activity_status(store, user(), ids, ActivityStatus.Completed, NOW)
    assert outcome.changed == 5 and outcome.skipped_because is None
    assert sorted((k.value, sorted(i)) for k, i, _ in store.writes) == [
        ("appointment", [1, 5]),
        ("document", [3]),
        ("sale", [2]),
        ("todo", [4]),
    ]
    assert store.queries == 4


@pytest.mark.parametrize("bad", ["appointment_id=999", "bogus", None, "sale_id=x"])
def test_one_nonexistent_or_invalid_id_changes_nothing_and_succeeds(bad: str | None) -> None:
    store = MemoryStore()
    outcome = set_activity_status(
        store, user(), ["appointment_id=1", bad, "sale_id=2"], ActivityStatus.Started, NOW
    )
    assert outcome.changed == 0
    assert outcome.skipped_because is not None
    assert store.writes == []


def test_strict_mode_turns_the_silent_no_op_into_a_failure() -> None:
    store = MemoryStore()
    with pytest.raises(ActivityNotFound, match="appointment_id=999 does not exist"):
        set_activity_status(
            store,
            user(),
            ["appointment_id=1", "appointment_id=999"],
            ActivityStatus.Started,
            NOW,
            strict=True,
        )
    assert store.writes == []


def test_sentry_denial_changes_nothing_and_names_identifier_and_user() -> None:
    store = MemoryStore()
    # user 2 in group 2: records 1..10 belong to associate 1+i%3, group 1+i%2
    rep = user(SALES, associate_id=2, group_id=2)
    foreign = next(
        i for i, r in store.records[ActivityKind.SALE].items() if r.associate_id != 2 and r.group_id != 2
    )
    with pytest.raises(SoSentryException) as raised:
        set_activity_status(
            store, rep, ["appointment_id=1", f"sale_id={foreign}"], ActivityStatus.Completed, NOW
        )
    assert f"sale_id={foreign}" in raised.value.message and "user2" in raised.value.message
    assert raised.value.parameters["ActivityIdentifier"] == f"sale_id={foreign}"
    assert store.writes == []


def test_sales_rep_may_update_own_and_group_records() -> None:
    store = MemoryStore()
    rep = user(SALES, associate_id=2, group_id=2)
    allowed = [
        f"todo_id={i}"
        for i, r in store.records[ActivityKind.TODO].items()
        if r.associate_id == 2 or r.group_id == 2
    ]
    assert allowed
    assert set_activity_status(store, rep, allowed, ActivityStatus.Completed, NOW).changed == len(allowed)


def test_explicit_denial_overrides_full_rights() -> None:
    store = MemoryStore()
    store.denied.add(ActivityId(ActivityKind.DOCUMENT, 3))
    with pytest.raises(SoSentryException):
        set_activity_status(store, user(), ["document_id=3"], ActivityStatus.Completed, NOW)


def test_first_problem_in_array_order_decides() -> None:
    store = MemoryStore()
    read_only = user(TableRights(Level.read, Level.read, Level.read))
    # a nonexistent id before a forbidden one: silent no-op
    outcome = set_activity_status(
        store, read_only, ["appointment_id=999", "appointment_id=1"], ActivityStatus.Completed, NOW
    )
    assert outcome.changed == 0
    # a forbidden id before a nonexistent one: Sentry failure
    with pytest.raises(SoSentryException):
        set_activity_status(
            store, read_only, ["appointment_id=1", "appointment_id=999"], ActivityStatus.Completed, NOW
        )
    assert store.writes == []


def test_empty_batch_changes_nothing_and_succeeds() -> None:
    store = MemoryStore()
    assert set_activity_status(store, user(), [], ActivityStatus.Completed, NOW).changed == 0
    assert store.writes == [] and store.queries == 0
