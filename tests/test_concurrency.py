"""Many clients at once: overlapping batches, some failing on purpose, against a live server.

The check is that the final data equals a serial replay of the successful batches. Clients do not
know the order in which the server committed their batches, so the test recovers it from the data:

- every batch also names one *marker* record that no other batch names; the marker says whether
  the batch was applied, and its ``updated`` column is the batch's own timestamp (the server's
  clock ticks once per call, so timestamps are distinct);
- each record's ``updatedCount`` grew by exactly the number of applied batches naming it, and its
  status, ``done``, ``updated`` and ``updated_associate_id`` are those of one of them, the last;
- "the last writer of every record comes after every other writer of it", together with "each
  client's batches commit in the order it sent them", must admit one total order (no cycle):
  that order is the serial replay that gives the final data;
- batches that failed (Sentry on ``sale_id=13``, the read-only user rita, a sales rep on other
  people's records) and batches with a nonexistent id changed nothing, and each client got the
  answer the model predicts; the journal has one entry per call, with the same timestamps.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer
from tests.support.batches import (
    Batch,
    TickingClock,
    assert_answers,
    assert_journal_matches,
    create_tenant,
    drive,
    integrity,
    plan_batches,
    verify_serial_replay,
)
from tests.support.http import free_port
from tests.support.model import Expected, Model, read_rows
from tests.support.servers import server_process
from tests.support.soap import DEMO_TICKET


def test_overlapping_batches_from_8_clients_replay_serially(db_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{db_path}")
    with LiveServer(settings, clock=TickingClock()) as server:
        create_tenant(server.host, server.port)
        initial = read_rows(db_path)
        model = Model(db_path)
        plan = plan_batches(model, initial, clients=8, calls=25, seed=20260105)
        batches = [b for client in plan for b in client]
        drive(server.host, server.port, plan, deadline=time.monotonic() + 45)
    assert all(b.answer is not None for b in batches), "some calls got no answer"
    assert_answers(batches)
    kinds = {b.expected.kind for b in batches}
    assert kinds == {"apply", "noop", "sentry"}, kinds
    final = read_rows(db_path)
    replay = verify_serial_replay(initial, final, batches)
    assert len(replay.applied) == sum(1 for b in batches if b.expected.kind == "apply")
    assert_journal_matches(db_path, _with_tenant_call(batches), replay)
    assert integrity(db_path) == "ok"


def _with_tenant_call(batches: list[Batch]) -> list[Batch]:
    """The journal also holds the empty call that created the tenant."""
    return [*batches, Batch(-1, -1, DEMO_TICKET, [], 0, (), Expected("noop"))]


def test_overlapping_batches_against_2_worker_processes(tmp_path: Path) -> None:
    database, port = tmp_path / "crm.db", free_port()
    with server_process(database, port, log=tmp_path / "server.log", workers=2):
        create_tenant("127.0.0.1", port)
        initial = read_rows(database)
        plan = plan_batches(Model(database), initial, clients=8, calls=25, seed=86)
        batches = [b for client in plan for b in client]
        drive("127.0.0.1", port, plan, deadline=time.monotonic() + 45)
    assert all(b.answer is not None for b in batches), "some calls got no answer"
    assert_answers(batches)
    replay = verify_serial_replay(initial, read_rows(database), batches)
    assert len(replay.applied) == sum(1 for b in batches if b.expected.kind == "apply")
    assert integrity(database) == "ok"


def test_the_replay_check_notices_a_partial_or_lost_write() -> None:
    """The checker itself: a batch missing one record, or a lost update, must be caught."""
    row = {
        "tenant": "default",
        "status": 1,
        "done": None,
        "updated": None,
        "updated_associate_id": 0,
        "updatedCount": 0,
    }
    initial = {("todo", n): dict(row, todo_id=n, associate_id=1, group_idx=1) for n in (1, 2, 3)}
    batch = Batch(
        0,
        0,
        DEMO_TICKET,
        ["todo_id=1", "todo_id=3"],
        2,
        (("todo", 3),),
        Expected("apply", frozenset({("todo", 1), ("todo", 3)}), 2, 1),
    )
    written = dict(status=2, updated="2026-01-05 09:00:00.001000", updated_associate_id=1, updatedCount=1)
    whole = {
        **initial,
        ("todo", 1): {**initial[("todo", 1)], **written},
        ("todo", 3): {**initial[("todo", 3)], **written},
    }
    verify_serial_replay(initial, whole, [batch])
    partial = {**initial, ("todo", 3): {**initial[("todo", 3)], **written}}
    with pytest.raises(AssertionError, match="updatedCount"):
        verify_serial_replay(initial, partial, [batch])
    lost = {**initial}
    batch.answer = "ok"
    with pytest.raises(AssertionError, match="acknowledged"):
        verify_serial_replay(initial, lost, [batch])
    two_markers = Batch(
        1,
        0,
        DEMO_TICKET,
        ["todo_id=2", "todo_id=3"],
        2,
        (("todo", 2), ("todo", 3)),
        Expected("apply", frozenset({("todo", 2), ("todo", 3)}), 2, 1),
    )
    half = {**initial, ("todo", 2): {**initial[("todo", 2)], **written}}
    with pytest.raises(AssertionError, match="in part"):
        verify_serial_replay(initial, half, [two_markers])
