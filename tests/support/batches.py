"""Many clients at once against a live server, and the check that the data is a serial replay.

The plan of overlapping batches (each with marker records of its own), the threads that send them
and record the answers, the check that the final rows and the journal equal a serial replay of
the batches that were applied, and a clock that ticks once per call. ``tests/test_concurrency.py``
explains the check; ``tests/test_crash.py`` drives the same batches into a server it kills.
"""

from __future__ import annotations

import graphlib
import http.client
import itertools
import json
import random
import threading
import time
from collections.abc import Collection, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from superoffice_emulator.storage.sqlite import driver as sqlite3  # the library the app in this process uses
from tests.support.model import STATUSES, Expected, Key, Model, Row, assert_written
from tests.support.soap import (
    APPOINTMENT,
    DEMO_TICKET,
    RITA_TICKET,
    SAM_TICKET,
    SOAP11_HEADERS,
    Answer,
    envelope,
)

POOL: list[Key] = (
    [("appointment", n) for n in range(1, 11)]
    + [("sale", n) for n in range(1, 11)]
    + [("document", n) for n in range(1, 6)]
    + [("todo", n) for n in range(1, 6)]
)
"""The 30 records every batch draws from, so that batches overlap."""
USER_OF_TICKET = {DEMO_TICKET: 1, SAM_TICKET: 2, RITA_TICKET: 3}


@dataclass
class Batch:
    """One SetActivityStatus call of the load, with what the model expects of it."""

    number: int
    client: int
    ticket: str
    identifiers: list[str]
    status: int
    markers: tuple[Key, ...]
    expected: Expected
    round: int = 0
    answer: str | None = None
    """``ok``, ``failed <ExceptionType>``, ``fault``, ``http <status>``; None: no answer came."""
    reached_server: bool = True
    """False when the connection was refused: the server cannot have seen the call."""


def key_text(key: Key) -> str:
    return f"{key[0]}_id={key[1]}"


def plan_batches(
    model: Model,
    rows: dict[Key, Row],
    *,
    clients: int,
    calls: int,
    seed: int,
    markers_per_batch: int = 1,
    pool: Sequence[Key] = POOL,
    start: int = 0,
    round_number: int = 0,
    exclude: Collection[Key] = (),
) -> list[list[Batch]]:
    """``clients`` lists of ``calls`` batches over ``pool``; each batch gets its own marker records,
    from different tables when it gets several, never one in ``exclude``."""
    rng = random.Random(seed)
    sam = model.users[2]
    taken = {*pool, ("sale", 13), *exclude}
    free: dict[bool, dict[str, list[Key]]] = {False: {}, True: {}}
    for key in sorted(rows):
        if key not in taken and rows[key]["updatedCount"] == 0:
            free[False].setdefault(key[0], []).append(key)
            if model.may_update(sam, key, rows[key]):
                free[True].setdefault(key[0], []).append(key)
    for by_kind in free.values():
        for keys in by_kind.values():
            rng.shuffle(keys)
    used: set[Key] = set()

    def take(for_sam: bool) -> tuple[Key, ...]:
        kinds = sorted(free[for_sam], key=lambda kind: -len(free[for_sam][kind]))[:markers_per_batch]
        chosen = []
        for kind in kinds:
            candidates = free[for_sam][kind]
            while candidates[-1] in used:
                candidates.pop()
            chosen.append(candidates.pop())
            used.add(chosen[-1])
        return tuple(chosen)

    plan: list[list[Batch]] = []
    number = start
    for client in range(clients):
        batches = []
        for _ in range(calls):
            roll = rng.random()
            ticket = DEMO_TICKET
            keys = rng.sample(list(pool), rng.randint(1, 5))
            extra: list[str] = []
            if roll < 0.55:
                markers = take(False)
            elif roll < 0.65:
                markers, extra = take(False), ["sale_id=13"]  # denied to everyone
            elif roll < 0.75:
                markers, ticket = take(False), RITA_TICKET  # read-only
            elif roll < 0.85:
                markers, extra = take(False), ["todo_id=99999"]  # does not exist: a silent no-op
            else:
                markers, ticket = take(True), SAM_TICKET  # fails when a pool record is not his
            identifiers = [key_text(k) for k in [*keys, *markers]] + extra
            rng.shuffle(identifiers)
            status = rng.randrange(4)
            expected = model.expect(rows, ticket, list(identifiers), STATUSES[status])
            assert expected.kind in ("apply", "noop", "sentry"), expected
            assert (
                expected.kind != "apply"
                or ticket != SAM_TICKET
                or all(model.may_update(sam, k, rows[k]) for k in keys)
            )
            batches.append(
                Batch(number, client, ticket, identifiers, status, markers, expected, round=round_number)
            )
            number += 1
        plan.append(batches)
    return plan


# -- driving the load ------------------------------------------------------------------------------
def call(host: str, port: int, batch: Batch, timeout: float = 60) -> None:
    """Send ``batch`` and record the answer on it; a dead server leaves ``answer`` None."""
    body = envelope(batch.identifiers, STATUSES[batch.status], ticket=batch.ticket)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", APPOINTMENT, body=body, headers=SOAP11_HEADERS)
        response = connection.getresponse()
        data = response.read()
    except ConnectionRefusedError:
        batch.reached_server = False
        return
    except (OSError, http.client.HTTPException):
        return  # sent, or maybe not: the server died while we talked
    finally:
        connection.close()
    assert b"Traceback" not in data
    if response.status != 200:
        batch.answer = f"http {response.status}"
        return
    answer = Answer(response.status, data)
    if answer.succeeded:
        batch.answer = "ok"
    elif answer.fault is not None:
        batch.answer = "fault"
    else:
        batch.answer = f"failed {answer.info.get('ExceptionType')}: {answer.info.get('Message')}"


def drive(host: str, port: int, plan: list[list[Batch]], *, deadline: float) -> None:
    """One thread per client, each sending its batches in order; stops at the first dead call."""

    def client(batches: list[Batch]) -> None:
        for batch in batches:
            if time.monotonic() > deadline:
                batch.reached_server = False
                continue
            call(host, port, batch)
            if batch.answer is None:  # the server is gone: the rest are never sent
                for rest in batches[batches.index(batch) + 1 :]:
                    rest.reached_server = False
                return

    threads = [threading.Thread(target=client, args=(batches,), daemon=True) for batches in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic() + 60))
    assert not any(thread.is_alive() for thread in threads), "a client hung"


def expected_answer(batch: Batch) -> str:
    if batch.expected.kind in ("apply", "noop"):
        return "ok"
    return "failed SuperOffice.Exceptions.SoSentryException"


def assert_answers(batches: Sequence[Batch]) -> None:
    """Every answered batch got what the model predicts."""
    wrong = [
        (b.number, b.identifiers, b.ticket[:8], b.answer)
        for b in batches
        if b.answer is not None and not b.answer.startswith(expected_answer(b))
    ]
    assert not wrong, f"{len(wrong)} unexpected answers, e.g. {wrong[:3]}"


# -- the serial-replay check -----------------------------------------------------------------------
@dataclass
class Replay:
    applied: list[Batch] = field(default_factory=list)
    stamps: dict[int, str] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)


def verify_serial_replay(
    initial: dict[Key, Row],
    final: dict[Key, Row],
    batches: Sequence[Batch],
    *,
    answered_ok_must_apply: bool = True,
) -> Replay:
    """The final data is the initial data with the applied batches replayed, whole, in one order."""
    assert set(final) == set(initial)
    replay = Replay()
    by_number = {b.number: b for b in batches}
    markers = {m: b for b in batches for m in b.markers}
    assert len(markers) == sum(len(b.markers) for b in batches), "a marker was given to two batches"
    for batch in batches:
        states = [final[m]["updatedCount"] - initial[m]["updatedCount"] for m in batch.markers]
        assert set(states) <= {0, 1}, (batch.number, states)
        assert len(set(states)) == 1, (
            f"batch {batch.number} is there in part: markers {batch.markers} {states}"
        )
        applied = states[0] == 1
        if applied:
            assert batch.expected.kind == "apply", (
                f"batch {batch.number} ({batch.expected.kind}) changed data"
            )
            assert batch.reached_server, f"batch {batch.number} was never sent but is in the data"
            stamps = {final[m]["updated"] for m in batch.markers}
            assert len(stamps) == 1, f"batch {batch.number} markers written at different times: {stamps}"
            for m in batch.markers:
                assert_written(initial[m], final[m], batch.status, batch.expected.user, None)
            replay.applied.append(batch)
            replay.stamps[batch.number] = stamps.pop()
        else:
            for m in batch.markers:
                assert final[m] == initial[m]
            if answered_ok_must_apply and batch.answer == "ok":
                assert batch.expected.kind != "apply", (
                    f"batch {batch.number} was acknowledged but is not there"
                )
    graph: dict[object, set[object]] = {b.number: set() for b in replay.applied}
    writers: dict[Key, list[Batch]] = {}
    for batch in replay.applied:
        for key in batch.expected.keys:
            writers.setdefault(key, []).append(batch)
    for key, before in initial.items():
        after, mine = final[key], writers.get(key, [])
        assert after["updatedCount"] == before["updatedCount"] + len(mine), (
            f"{key}: updatedCount {before['updatedCount']} -> {after['updatedCount']}, "
            f"but {len(mine)} applied batches name it"
        )
        if not mine:
            assert after == before, f"{key} changed, but no applied batch names it"
            continue
        last = [b for b in mine if replay.stamps[b.number] == after["updated"]]
        last = [
            b
            for b in last
            if b.status == after["status"] and b.expected.user == after["updated_associate_id"]
        ]
        assert last, f"{key} holds a state no applied batch wrote: {after}"
        writer = last[0]
        unchanged = set(before) - {"status", "updatedCount", "updated_associate_id", "updated", "done"}
        assert {c: after[c] for c in unchanged} == {c: before[c] for c in unchanged}
        assert after["done"] == (after["updated"] if after["status"] == 3 else None), (key, after)
        for other in mine:
            if other is not writer:
                graph[writer.number].add(other.number)  # ``other`` committed before ``writer``
    for client in {b.client for b in batches}:  # a client's batches commit in the order it sent them
        mine = sorted((b for b in replay.applied if b.client == client), key=lambda b: b.number)
        for earlier, later in itertools.pairwise(mine):
            graph[later.number].add(earlier.number)
    for round_number in sorted({b.round for b in batches})[1:]:  # rounds are separated by a restart
        fence = ("round", round_number)
        graph[fence] = {b.number for b in replay.applied if b.round < round_number}
        for b in replay.applied:
            if b.round == round_number:
                graph[b.number].add(fence)
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"no serial order explains the data: {exc.args[1]}")
    replay.order = [n for n in order if isinstance(n, int)]
    assert all(n in by_number for n in replay.order)
    return replay


def read_journal(db_path: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(db_path)) as connection, connection:
        connection.row_factory = sqlite3.Row
        return [
            dict(row)
            for row in connection.execute(
                "SELECT * FROM emulator_journal WHERE operation = 'SetActivityStatus' ORDER BY id"
            )
        ]


def assert_journal_matches(db_path: Path, batches: Sequence[Batch], replay: Replay) -> None:
    """One journal entry per call; an applied batch's entry carries its timestamp and identifiers."""
    journal = read_journal(db_path)
    assert len(journal) == len(batches)
    by_stamp = {entry["at"]: entry for entry in journal}
    assert len(by_stamp) == len(journal), "two calls got the same timestamp"
    for batch in replay.applied:
        entry = by_stamp[replay.stamps[batch.number]]
        assert entry["outcome"] == "ok" and entry["status"] == STATUSES[batch.status]
        assert set(json.loads(entry["identifiers"])) == set(batch.identifiers)
    failed = sum(1 for b in batches if b.expected.kind == "sentry")
    assert (
        sum(1 for e in journal if e["exception_type"] == "SuperOffice.Exceptions.SoSentryException") == failed
    )


# -- in-process live server ------------------------------------------------------------------------
class TickingClock:
    """A clock that moves one millisecond per call: every call gets its own timestamp."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, 0)) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += timedelta(milliseconds=1)
            return self._now


def create_tenant(host: str, port: int) -> None:
    """One harmless call (an empty batch), so that the tenant exists before the data is read."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("POST", APPOINTMENT, body=envelope([], "Completed"), headers=SOAP11_HEADERS)
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
    finally:
        connection.close()


def integrity(database: Path) -> str:
    with closing(sqlite3.connect(database)) as connection, connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
