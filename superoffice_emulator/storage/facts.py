"""What a process remembers of each tenant between calls, trusted only while its generation holds.

Every call reads a few small facts that change only when the tenant is made again (a reset, new
fixtures, a drop) or when its fault plan or webhooks change: whether an application token is
registered, who a fixture's ticket belongs to, whether any fault rule is armed, which webhooks
listen for which events. Reading them costs a statement each. So each worker process keeps them in
a :class:`TenantFacts` per tenant, made and read inside the call's write transaction, and trusts
them only while the tenant's ``generation`` (a column of ``emulator_tenant``, read first in that
transaction) is the one they were read under:

- a tenant is created with a random generation, so one dropped and made again (here or by another
  process) never matches what was remembered of the old one;
- every change of its fault plan (a rule added, removed, used up or counted down) or of its
  webhooks (one registered, saved or deleted, or its state changed by a delivery) adds one, in the
  same transaction as the change.

What may change without a new generation is never kept here: tickets made by a login, and the
``last_used`` of any ticket (so only fixture tickets, which never expire, are remembered), Sentry
facts and activities (read per batch). Memory is bounded: at most :data:`MAX_TENANTS` tenants
and :data:`MAX_ENTRIES` tokens and tickets per tenant.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from superoffice_emulator.domain.sessions import TicketRow
from superoffice_emulator.domain.webhooks import Webhook

MAX_TENANTS = 1024
"""Tenants whose facts a process keeps (beyond it, the oldest are forgotten)."""
MAX_ENTRIES = 256
"""Registered application tokens and fixture tickets kept per tenant (each at most 200
characters, their columns' length), beside the tenant's webhooks."""


def new_generation() -> int:
    """A tenant's first generation: random, so that it differs from any earlier tenant's of that name."""
    return secrets.randbits(62)


@dataclass
class TenantFacts:
    """One tenant's facts as read under ``generation``."""

    generation: int
    no_fault_rules: bool = False
    """True once the fault plan was read empty under this generation."""
    webhooks: tuple[Webhook, ...] | None = None
    """The tenant's webhooks once read under this generation (the events of a call are written for
    them): their names, events and states hold while it does, their error counts and last errors not."""
    application_tokens: set[str] = field(default_factory=set)
    """Registered tokens seen under this generation (an unknown one is looked up every time)."""
    fixture_tickets: dict[str, TicketRow] = field(default_factory=dict)

    def remember_token(self, token: str, registered: bool) -> None:
        """Only a registered token (at most the column's length): what a client makes up is not kept."""
        if registered and len(self.application_tokens) < MAX_ENTRIES:
            self.application_tokens.add(token)

    def remember_ticket(self, ticket: str, row: TicketRow) -> None:
        if row.fixed and len(self.fixture_tickets) < MAX_ENTRIES:
            self.fixture_tickets[ticket] = row


class FactsCache:
    """The facts of one process, per tenant."""

    def __init__(self) -> None:
        self._tenants: dict[str, TenantFacts] = {}
        self._lock = threading.Lock()

    def at(self, tenant: str, generation: int) -> TenantFacts:
        """``tenant``'s facts, if read under ``generation``; else new, empty ones (kept instead)."""
        facts = self._tenants.get(tenant)
        if facts is not None and facts.generation == generation:
            return facts
        with self._lock:
            if tenant not in self._tenants and len(self._tenants) >= MAX_TENANTS:
                del self._tenants[next(iter(self._tenants))]
            facts = self._tenants[tenant] = TenantFacts(generation)
        return facts
