"""The deliverer: posts the outbox's events, on threads of their own, one process of a server at a time.

Each process that serves calls has a :class:`Deliverer`, started the first time the process writes
an event or saves a webhook, or at start-up when the outbox holds undelivered events (so events
committed before a crash or a restart are delivered after it). It is started after granian forks
its workers (they build their emulator after they start), like the checkpoint thread.

Only the holder of the database's lease ``webhooks`` delivers: one process of the server, however
many workers serve calls; another takes over once a holder has not renewed it for
:attr:`Timing.lease` seconds (a process killed). Each try is claimed in a conditional ``UPDATE`` that moves
the event's ``due`` time past the try's timeout, so even two holders never post one try twice.

A round claims as many tries as the process's calls leave it time for
(:mod:`superoffice_emulator.webhooks.budget`): all that are due while the calls leave the process
idle, a batch a few times a second while they keep it busy. A try posts on one of :data:`THREADS`
threads with :attr:`Timing.timeout`: a slow or hanging receiver holds one thread for that long, never
the calls nor the other deliveries. The claims of a
round are written in one transaction per tenant, and the outcomes of the tries that ended meanwhile
in another, so a busy outbox takes the writers' lock from the calls twice a round, not twice an
event; the posting threads keep their connections to receivers open between posts.

Every finished event (delivered or given up) and every try is kept in the database, the newest
``keep`` of each per tenant (:meth:`Deliverer.__init__`): the outbox and the deliveries log are
trimmed to that every :data:`TRIM_EVERY` tries of a tenant.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from superoffice_emulator.domain import webhooks
from superoffice_emulator.domain.clock import utcnow
from superoffice_emulator.storage.database import Database, StorageError
from superoffice_emulator.storage.webhooks import (
    DELIVERED,
    DROPPED,
    FAILED,
    PENDING,
    Delivery,
    Due,
    Webhooks,
)
from superoffice_emulator.webhooks.budget import Budget
from superoffice_emulator.webhooks.posting import TIMEOUT, Answer, Connections, headers_of, post

log = logging.getLogger("superoffice_emulator.webhooks")

LEASE = "webhooks"
GATHER = 0.05
"""Seconds a round waits before the next: the events and outcomes of that time are claimed, posted and
written together (a busy server's calls then meet the deliverer's transactions and threads in bursts
a few times a second, not at each call). An event written while the deliverer waits for work is
claimed at once."""
POLL = 0.25
"""Seconds between looks at the outbox when no event was written in this process meanwhile."""
THREADS = 8
"""Tries posted at once."""
TRIM_EVERY = 50
"""A tenant's finished events and tries are trimmed to the kept number every this many tries."""


@dataclass(frozen=True)
class Timing:
    """How long delivery waits: before each try, for an answer, for a silent holder of the lease."""

    retry_delays: tuple[float, ...]
    """Seconds before each try, counted from the failure of the one before (the first: at once)."""
    timeout: float
    """Seconds a receiver has to answer, all of it."""
    lease: float
    """How long a deliverer's lease lasts unless renewed; it renews it every quarter of that: between
    renewals the outbox is read without a write lock, so an idle deliverer does not take SQLite's
    writer lock from the calls four times a second."""

    @property
    def claim(self) -> float:
        """Seconds a claimed try is its deliverer's: past them (its process died), the try is due again."""
        return self.timeout * 3 + self.lease


NETSERVER = Timing(webhooks.RETRY_DELAYS, TIMEOUT, 10.0)
"""NetServer's: tries at once, 1 s and 4 s after a failure; 5 s to answer."""
FAST = Timing((0.0, 0.05, 0.2), 2.0, 1.0)
"""For test suites (``--webhook-fast-retries``): the same tries, hardly any waiting between them, and
a killed server's deliveries taken over within seconds."""


@dataclass(frozen=True)
class _Tried:
    """A try that ended: what was posted, what came back, when."""

    event: Due
    hook: webhooks.Webhook
    answer: Answer
    at: datetime
    ended: datetime
    duration_ms: float


class Deliverer:
    """Posts the due events of every tenant of ``database`` while this process holds the lease."""

    def __init__(self, database: Database, *, timing: Timing = NETSERVER, keep: int = 1000) -> None:
        self.database = database
        self.timing = timing
        self.keep = keep
        """Finished events, and tries, kept per tenant."""
        self.budget = Budget()
        """The share of the process's time deliveries take while calls keep it busy."""
        self._tries: dict[str, int] = {}  # per tenant, since the last trim
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._renewed: float | None = None
        """When this process last took or renewed the lease (``time.monotonic()``); None: not held."""
        self._asked = -float("inf")
        """When this process last asked for the lease (``time.monotonic()``)."""
        self._stop = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        self._in_flight: set[int] = set()
        """Claimed events (their rows) not yet settled."""
        self._tried: list[_Tried] = []
        """Tries that ended, for :meth:`_settle`."""
        self._flight_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._connections = threading.local()
        self._all_connections: list[Connections] = []
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start delivering (once; later calls cost a flag's read)."""
        if self._started:
            return
        with self._start_lock:
            if self._started or self._stop.is_set():
                return
            self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="webhook-post")
            self._thread = threading.Thread(target=self._run, name="webhook-deliverer", daemon=True)
            self._thread.start()
            self._started = True

    def close(self) -> None:
        """Stop, and give the lease up so that another process takes over at once."""
        self._stop.set()
        self.database.events_written.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        with self._flight_lock:
            for kept in self._all_connections:
                kept.close()
        if self._started:
            try:
                with self.database.outbox() as (cursor, statements):
                    statements.release(cursor, LEASE, self.holder, utcnow())
            except StorageError:
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.thread_time()
            settled = 0
            try:
                settled = self._settle()
                self._round(self.budget.tries())
            except StorageError as exc:
                log.warning("webhooks: the outbox could not be read or written: %s", exc)
            except Exception:
                log.exception("webhooks: unexpected error in the deliverer")
            self.budget.spent(time.thread_time() - started, tries=settled)
            if self._stop.wait(GATHER):
                break
            if self.database.events_written.wait(POLL - GATHER):
                self.database.events_written.clear()
        with contextlib.suppress(Exception):
            self._settle()  # the outcomes of the posts that ended meanwhile

    def _round(self, limit: int) -> None:
        """Read the due events (renewing the lease now and then), claim them, hand them to the posters:
        ``limit`` of them at most (:class:`~superoffice_emulator.webhooks.budget.Budget`)."""
        now, moment = utcnow(), time.monotonic()
        if self._renewed is not None and moment - self._renewed < self.timing.lease / 4:
            if limit == 0:
                return  # the calls' time: the lease is renewed in a later round
            with self.database.outbox(write=False) as (cursor, statements):
                due = statements.due_now(cursor, now, limit)
        elif self._renewed is None and moment - self._asked < self.timing.lease / 4:
            return  # another process holds the lease: asked again a quarter of it later
        else:
            self._asked = moment
            with self.database.outbox() as (cursor, statements):
                until = now + timedelta(seconds=self.timing.lease)
                held = statements.lease(cursor, LEASE, self.holder, now, until)
                due = statements.due_now(cursor, now, limit) if held and limit != 0 else []
            self._renewed = moment if held else None
        with self._flight_lock:
            due = [event for event in due if event.row not in self._in_flight]
            self._in_flight.update(event.row for event in due)
        by_tenant: dict[str, list[Due]] = {}
        for event in due:
            by_tenant.setdefault(event.tenant, []).append(event)
        for tenant, events in by_tenant.items():
            try:
                claimed = self._claim(tenant, events)
            except BaseException:
                self._landed(event.row for event in events)
                raise
            posted = {event.row for event, _ in claimed}
            self._landed(event.row for event in events if event.row not in posted)
            assert self._pool is not None
            for event, hook in claimed:
                self._pool.submit(self._post, event, hook)

    def _claim(self, tenant: str, events: list[Due]) -> list[tuple[Due, webhooks.Webhook]]:
        """Claim the tries of ``tenant``'s ``events`` in one transaction: those to post, with their
        webhooks (an event of a webhook that is gone or not active is dropped)."""
        now = utcnow()
        deadline = now + timedelta(seconds=self.timing.claim)
        claimed: list[tuple[Due, webhooks.Webhook]] = []
        hooks: dict[int, webhooks.Webhook | None] = {}
        with self.database.outbox(tenant) as (cursor, statements):
            for event in events:
                if not statements.claim_try(cursor, event, deadline):
                    continue
                if event.webhook_id not in hooks:
                    hooks[event.webhook_id] = statements.get(cursor, tenant, event.webhook_id)
                hook = hooks[event.webhook_id]
                if hook is None or hook.state is not webhooks.WebhookState.Active:
                    statements.settle_event(cursor, event.row, DROPPED, now)
                else:
                    claimed.append((event, hook))
        return claimed

    def _post(self, event: Due, hook: webhooks.Webhook) -> None:
        """One try of ``event``, on a poster's thread; its outcome is written by :meth:`_settle`."""
        cpu = time.thread_time()
        try:
            at = utcnow()
            body = event.body.encode("utf-8")
            headers = headers_of(hook, body, event=event.event, event_id=event.event_id, retry=event.tries)
            started = time.perf_counter()
            answer = post(hook.target_url, body, headers, self.timing.timeout, self._kept())
            tried = _Tried(event, hook, answer, at, utcnow(), (time.perf_counter() - started) * 1000)
        except Exception:
            log.exception("webhooks: unexpected error posting event %s", event.event_id)
            self._landed([event.row])  # due again once its claim runs out
            return
        finally:
            self.budget.spent(time.thread_time() - cpu)
        with self._flight_lock:
            self._tried.append(tried)
        self.database.events_written.set()  # the deliverer writes the outcome now

    def _settle(self) -> int:
        """Write the outcomes of the tries that ended, one transaction per tenant; how many."""
        with self._flight_lock:
            ended, self._tried = self._tried, []
        if not ended:
            return 0
        by_tenant: dict[str, list[_Tried]] = {}
        for tried in ended:
            by_tenant.setdefault(tried.event.tenant, []).append(tried)
        try:
            for tenant, tries in by_tenant.items():
                with self.database.outbox(tenant) as (cursor, statements):
                    hooks: dict[int, webhooks.Webhook | None] = {}
                    logged = [self._settle_one(cursor, statements, tried, hooks) for tried in tries]
                    statements.record(cursor, [delivery for delivery in logged if delivery is not None])
                    if self._counted(tenant, len(tries)):
                        statements.trim(cursor, tenant, self.keep)
        finally:
            self._landed(tried.event.row for tried in ended)
        if any(tried.answer.status != webhooks.SUCCESS for tried in ended):
            self.database.events_written.set()  # the retries' time: looked at again soon
        return len(ended)

    def _settle_one(
        self, cursor: Any, statements: Webhooks, tried: _Tried, hooks: dict[int, webhooks.Webhook | None]
    ) -> Delivery | None:
        """Write ``tried``'s outcome and its webhook's count of errors: the try to log, None when its
        event is gone. ``hooks`` holds the webhooks as this transaction has written them so far (each
        is read once per transaction, not once per try)."""
        event, answer = tried.event, tried.answer
        attempt = event.tries + 1
        if event.webhook_id not in hooks:
            hooks[event.webhook_id] = statements.get(cursor, event.tenant, event.webhook_id)
        fresh = hooks[event.webhook_id]
        if answer.status == webhooks.SUCCESS:
            outcome, due = DELIVERED, tried.ended
        elif attempt >= webhooks.TRIES or answer.status == webhooks.GONE:
            outcome, due = FAILED, tried.ended
        else:
            outcome, due = PENDING, tried.ended + timedelta(seconds=self.timing.retry_delays[attempt])
        if fresh is None or not statements.settle_event(cursor, event.row, outcome, due):
            return None  # the webhook was deleted, or the tenant reset, while the try was out
        if answer.status == webhooks.SUCCESS:
            if fresh.errors:
                kept = None if fresh.last_error is None else json.dumps(fresh.last_error)
                statements.after_try(cursor, event.tenant, fresh.id, fresh.state, 0, kept)
                hooks[fresh.id] = replace(fresh, errors=0)
        else:
            state, errors = webhooks.after_failure(fresh, answer.status, outcome == FAILED)
            last_error = answer.as_last_error()
            statements.after_try(cursor, event.tenant, fresh.id, state, errors, json.dumps(last_error))
            if state is not fresh.state:
                self.database.webhook_state_changed(cursor, event.tenant)
            hooks[fresh.id] = replace(fresh, state=state, errors=errors, last_error=last_error)
        return Delivery(
            tenant=event.tenant,
            event_row=event.row,
            event_id=event.event_id,
            event=event.event,
            webhook_id=tried.hook.id,
            target_url=tried.hook.target_url,
            attempt=attempt,
            at=tried.at,
            status=answer.status,
            error=answer.error,
            duration_ms=tried.duration_ms,
        )

    def _landed(self, rows: Iterable[int]) -> None:
        """``rows`` are no longer in flight: a later round may claim them again (when due)."""
        with self._flight_lock:
            self._in_flight.difference_update(rows)

    def _kept(self) -> Connections:
        """The calling thread's kept connections to receivers."""
        kept: Connections | None = getattr(self._connections, "kept", None)
        if kept is None:
            kept = self._connections.kept = Connections()
            with self._flight_lock:
                self._all_connections.append(kept)
        return kept

    def _counted(self, tenant: str, tries: int) -> bool:
        """Count ``tries`` of ``tenant``'s; True when they reach :data:`TRIM_EVERY` (time to trim)."""
        counted = self._tries.get(tenant, 0) + tries
        self._tries[tenant] = 0 if counted >= TRIM_EVERY else counted
        return counted >= TRIM_EVERY
