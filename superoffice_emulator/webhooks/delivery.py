"""The deliverer: posts the outbox's events, on threads of their own, one process of a server at a time.

Each process that serves calls has a :class:`Deliverer`, started the first time the process writes
an event or saves a webhook, or at start-up when the outbox holds undelivered events (so events
committed before a crash or a restart are delivered after it). It is started after granian forks
its workers (they build their emulator after they start), like the checkpoint thread.

Only the holder of the database's lease ``webhooks`` delivers: one process of the server, however
many workers serve calls; another takes over once a holder has not renewed it for
:attr:`Timing.lease` seconds (a process killed). Each try is claimed in a conditional ``UPDATE`` that moves
the event's ``due`` time past the try's timeout, so even two holders never post one try twice.

A try posts on one of :data:`THREADS` threads with :attr:`Timing.timeout`: a slow or hanging
receiver holds one thread for that long, never the calls nor the other deliveries.

Every finished event (delivered or given up) and every try is kept in the database, the newest
``keep`` of each per tenant (:meth:`Deliverer.__init__`): the outbox and the deliveries log are
trimmed to that every :data:`TRIM_EVERY` tries of a tenant.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from superoffice_emulator.domain import webhooks
from superoffice_emulator.domain.clock import utcnow
from superoffice_emulator.storage.database import Database, StorageError
from superoffice_emulator.storage.webhooks import DELIVERED, DROPPED, FAILED, PENDING, Delivery, Due
from superoffice_emulator.webhooks.posting import TIMEOUT, headers_of, post

log = logging.getLogger("superoffice_emulator.webhooks")

LEASE = "webhooks"
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


class Deliverer:
    """Posts the due events of every tenant of ``database`` while this process holds the lease."""

    def __init__(self, database: Database, *, timing: Timing = NETSERVER, keep: int = 1000) -> None:
        self.database = database
        self.timing = timing
        self.keep = keep
        """Finished events, and tries, kept per tenant."""
        self._tries: dict[str, int] = {}  # per tenant, since the last trim
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._renewed: float | None = None
        """When this process last took or renewed the lease (``time.monotonic()``); None: not held."""
        self._stop = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._flight_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
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
        if self._started:
            try:
                with self.database.outbox() as (cursor, statements):
                    statements.release(cursor, LEASE, self.holder, utcnow())
            except StorageError:
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._round()
            except StorageError as exc:
                log.warning("webhooks: the outbox could not be read: %s", exc)
            except Exception:
                log.exception("webhooks: unexpected error in the deliverer")
            if self.database.events_written.wait(POLL):
                self.database.events_written.clear()

    def _round(self) -> None:
        now, moment = utcnow(), time.monotonic()
        if self._renewed is not None and moment - self._renewed < self.timing.lease / 4:
            with self.database.outbox(write=False) as (cursor, statements):
                due = statements.due_now(cursor, now)
        else:
            with self.database.outbox() as (cursor, statements):
                until = now + timedelta(seconds=self.timing.lease)
                held = statements.lease(cursor, LEASE, self.holder, now, until)
                due = statements.due_now(cursor, now) if held else []
            self._renewed = moment if held else None
        assert self._pool is not None
        for event in due:
            with self._flight_lock:
                if event.row in self._in_flight:
                    continue
                self._in_flight.add(event.row)
            self._pool.submit(self._deliver, event)

    def _deliver(self, event: Due) -> None:
        try:
            self._try(event)
        except StorageError as exc:
            log.warning("webhooks: event %s: %s", event.event_id, exc)
        except Exception:
            log.exception("webhooks: unexpected error delivering event %s", event.event_id)
        finally:
            with self._flight_lock:
                self._in_flight.discard(event.row)

    def _try(self, event: Due) -> None:
        """One try of ``event``: claimed, posted, settled, logged."""
        now = utcnow()
        deadline = now + timedelta(seconds=self.timing.claim)
        with self.database.outbox(event.tenant) as (cursor, statements):
            if not statements.claim_try(cursor, event, deadline):
                return
            hook = statements.get(cursor, event.tenant, event.webhook_id)
            if hook is None or hook.state is not webhooks.WebhookState.Active:
                statements.settle_event(cursor, event.row, DROPPED, now)
                return
        attempt = event.tries + 1
        body = event.body.encode("utf-8")
        headers = headers_of(hook, body, event=event.event, event_id=event.event_id, retry=event.tries)
        started = time.perf_counter()
        answer = post(hook.target_url, body, headers, self.timing.timeout)
        elapsed = (time.perf_counter() - started) * 1000
        ended = utcnow()
        with self.database.outbox(event.tenant) as (cursor, statements):
            fresh = statements.get(cursor, event.tenant, event.webhook_id)
            if answer.status == webhooks.SUCCESS:
                outcome, due = DELIVERED, ended
            elif attempt >= webhooks.TRIES or answer.status == webhooks.GONE:
                outcome, due = FAILED, ended
            else:
                outcome, due = PENDING, ended + timedelta(seconds=self.timing.retry_delays[attempt])
            if fresh is None or not statements.settle_event(cursor, event.row, outcome, due):
                return  # the webhook was deleted, or the tenant reset, while the try was out
            if answer.status == webhooks.SUCCESS:
                last_error = None if fresh.last_error is None else json.dumps(fresh.last_error)
                statements.after_try(cursor, event.tenant, fresh.id, fresh.state, 0, last_error)
            else:
                state, errors = webhooks.after_failure(fresh, answer.status, outcome == FAILED)
                statements.after_try(
                    cursor, event.tenant, fresh.id, state, errors, json.dumps(answer.as_last_error())
                )
            statements.record(
                cursor,
                Delivery(
                    tenant=event.tenant,
                    event_row=event.row,
                    event_id=event.event_id,
                    event=event.event,
                    webhook_id=hook.id,
                    target_url=hook.target_url,
                    attempt=attempt,
                    at=now,
                    status=answer.status,
                    error=answer.error,
                    duration_ms=elapsed,
                ),
            )
            if self._counted(event.tenant):
                statements.trim(cursor, event.tenant, self.keep)
        if answer.status != webhooks.SUCCESS:
            self.database.events_written.set()  # the retry's time: looked at again soon

    def _counted(self, tenant: str) -> bool:
        """Count a try of ``tenant``'s; True every :data:`TRIM_EVERY`-th (time to trim)."""
        with self._flight_lock:
            tries = self._tries[tenant] = self._tries.get(tenant, 0) + 1
        return tries % TRIM_EVERY == 0
