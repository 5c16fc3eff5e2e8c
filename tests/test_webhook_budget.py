"""The deliverer's share of its process's time: all the calls leave idle, at least a little, never the
calls' own (``superoffice_emulator.webhooks.budget``), on a clock the test moves; and what a held
back event becomes (it waits in the outbox and is posted later)."""

from __future__ import annotations

import math
import threading
import time

import pytest
import requests

from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer, WebhookReceiver
from superoffice_emulator.webhooks import delivery
from superoffice_emulator.webhooks.budget import BURST, CHEAPEST, SHARE, TARGET, Budget
from tests.support.webhooks import complete, register, settled

ROUND = 0.05  # seconds between the deliverer's looks, as GATHER
TRY = 0.0003  # CPU seconds a try costs here


class Process:
    """A process's wall and CPU clocks, moved by the test: calls take CPU, deliveries take theirs.

    As in the deliverer, a try's time is reported in parts: its claim and its post in the round that
    claims it (on different threads), its outcome, with the count of tries settled, in the next."""

    def __init__(self, cost: float = TRY) -> None:
        self.cost = cost
        self.wall = 0.0
        self.cpu = 0.0
        self.budget = Budget(wall=lambda: self.wall, cpu=lambda: self.cpu)
        self._unsettled = 0

    def run(self, seconds: float, calls: float, backlog: int) -> int:
        """``seconds`` of rounds with the calls taking ``calls`` of the time and ``backlog`` tries
        waiting; the tries delivered."""
        delivered = 0
        for _ in range(round(seconds / ROUND)):
            tries = min(self.budget.tries(), backlog - delivered)
            delivered += tries
            self.wall += ROUND
            claim, post, outcome = (
                tries * self.cost * 0.3,
                tries * self.cost * 0.5,
                self._unsettled * self.cost * 0.2,
            )
            self.cpu += calls * ROUND + claim + post + outcome
            self.budget.spent(outcome, tries=self._unsettled)
            self.budget.spent(claim)
            self.budget.spent(post)
            self._unsettled = tries
        return delivered


def test_an_idle_process_delivers_a_backlog_at_once() -> None:
    process = Process()
    assert process.run(1.0, calls=0.0, backlog=2000) == 2000


def test_a_busy_process_gives_deliveries_their_share_in_batches() -> None:
    process = Process()
    process.run(1.0, calls=1.0, backlog=10**6)  # past the first batch, on the tries' own cost
    counts = []
    for _ in range(200):  # ten seconds of rounds
        counts.append(process.run(ROUND, calls=1.0, backlog=10**6))
    delivered_cpu = sum(counts) * TRY
    assert delivered_cpu == pytest.approx(SHARE * 10, rel=0.25)
    assert counts.count(0) > len(counts) / 2  # most rounds wait: batches a few times a second
    assert max(counts) * TRY <= BURST * 1.5
    assert process.budget._per_try == pytest.approx(TRY, rel=0.2)  # all its parts, not one of them


def test_deliveries_take_the_time_the_calls_leave_idle() -> None:
    process = Process()
    process.run(1.0, calls=0.4, backlog=10**6)
    delivered = process.run(10.0, calls=0.4, backlog=10**6)
    assert delivered * TRY == pytest.approx((TARGET - 0.4) * 10, rel=0.2)


def test_the_cost_of_a_try_is_learned_from_the_tries_settled() -> None:
    cheap, dear = Process(), Process(cost=TRY * 4)
    cheap.run(2.0, calls=1.0, backlog=10**6)
    dear.run(2.0, calls=1.0, backlog=10**6)
    assert dear.run(10.0, calls=1.0, backlog=10**6) < cheap.run(10.0, calls=1.0, backlog=10**6) / 3


def test_nothing_is_claimed_before_time_has_passed() -> None:
    process = Process()
    assert process.budget.tries() == 0


def test_tries_that_read_as_no_time_at_all_still_leave_a_limit() -> None:
    """A coarse CPU clock (Windows') may measure a round of tries as taking none."""
    process = Process(cost=0.0)
    process.run(2.0, calls=1.0, backlog=10**6)
    limits = [process.run(ROUND, calls=1.0, backlog=10**6) for _ in range(40)]
    assert 0 < max(limits) <= math.ceil(BURST / CHEAPEST)


class Gate(Budget):
    """The real budget, with a gate the test holds shut: while it is, no try may be claimed."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()

    def tries(self) -> int:
        allowed = super().tries()
        return allowed if self.open.is_set() else 0


def test_events_held_back_wait_in_the_outbox_and_are_all_posted_later(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate()
    monkeypatch.setattr(delivery, "Budget", lambda: gate)
    with WebhookReceiver() as receiver, LiveServer(settings.replace(webhook_fast_retries=True)) as live:
        assert register(live, receiver.url, Events=["activity.changed"]).status_code == 201
        for status in ("Completed", "NotStarted", "Completed"):
            assert complete(live, ["appointment_id=1"], status) == 204
        time.sleep(1.5)  # rounds of the deliverer, and past its lease (1 s): all claim nothing
        answer = requests.get(live.url("/_emulator/webhooks/events?outcome=pending"), timeout=30)
        pending = answer.json()["events"]  # newest first
        assert len(pending) == 3 and receiver.events() == []
        gate.open.set()
        posted = receiver.wait_for(3)
        assert [e["outcome"] for e in settled(live)] == ["delivered"] * 3
    assert {p.event_id for p in posted} == {e["event_id"] for e in pending}
