"""The database: one object that composes the storage's parts, for the rest of the emulator.

- :mod:`superoffice_emulator.storage.engine`: the engine, SQLite's and PostgreSQL's settings, the
  connections;
- :mod:`superoffice_emulator.storage.transactions`: write transactions and their locks (calls and
  tenants alike);
- :mod:`superoffice_emulator.storage.tenants`: tenants made from the fixtures, reset, dropped;
- :mod:`superoffice_emulator.storage.journal`: the request journal's writing;
- :mod:`superoffice_emulator.storage.store`: one tenant's statements inside a transaction, for the domain.

::

    database = Database("sqlite:///crm.db", load_fixtures(path))
    database.create_schema()
    with database.transaction("default") as store:
        user = sessions.validate_ticket(store, ticket, now, lifetime)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, select

from superoffice_emulator.calls.faults import FaultRule
from superoffice_emulator.calls.journal import JournalEntry
from superoffice_emulator.domain import webhooks
from superoffice_emulator.domain.activities import Change
from superoffice_emulator.domain.webhooks import Webhook
from superoffice_emulator.server import blocking
from superoffice_emulator.storage import schema
from superoffice_emulator.storage.engine import READ_ONLY, make_engine, postgres_url
from superoffice_emulator.storage.facts import FactsCache
from superoffice_emulator.storage.faults import fault_rules_for
from superoffice_emulator.storage.fixtures import Fixtures
from superoffice_emulator.storage.journal import JournalWriter
from superoffice_emulator.storage.keys import SigningKeys
from superoffice_emulator.storage.sql import dialect_named
from superoffice_emulator.storage.store import TenantStore, statements_for
from superoffice_emulator.storage.tenants import tenants_for
from superoffice_emulator.storage.transactions import StorageError, Transaction, Transactions, create_schema
from superoffice_emulator.storage.webhooks import Webhooks, webhooks_for

__all__ = ["Database", "StorageError", "TenantLimitReached", "make_engine", "postgres_url"]


class TenantLimitReached(Exception):
    """A new tenant would exceed ``max_tenants``; nothing was written."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The emulator holds its maximum of {limit} tenants (the max_tenants setting, "
            "--max-tenants); delete some with DELETE /_emulator/tenants/<name>, or raise the limit."
        )
        self.limit = limit


class Database:
    """Owns the engine; hands out per-tenant stores in transactions; creates and resets tenants."""

    def __init__(
        self,
        url: str,
        fixtures: Fixtures,
        journal_size: int = 1000,
        max_tenants: int = 1000,
        journal_body_bytes: int = 65536,
    ) -> None:
        self.engine = make_engine(url)
        self.fixtures = fixtures
        self.max_tenants = max_tenants
        dialect = dialect_named(self.engine.dialect.name)
        self._transactions = Transactions(self.engine, dialect)
        self._statements = statements_for(dialect)
        self._tenants = tenants_for(dialect)
        self._faults = fault_rules_for(dialect)
        self._journal = JournalWriter(journal_size, journal_body_bytes)
        self._facts = FactsCache()
        self.signing_keys = SigningKeys(self.engine)
        """The sign-in's RSA key (:mod:`superoffice_emulator.storage.keys`), made on first use."""
        self._webhooks = webhooks_for(dialect)
        self.events_written = threading.Event()
        """Set when a transaction wrote events to the outbox: the deliverer looks at once."""
        self.wants_delivery: Callable[[], None] = _nothing
        """Called when events or webhooks are written: starts the process's deliverer."""
        self.on_dispose: list[Callable[[], None]] = []
        """Called first by :meth:`dispose` (the deliverer's stop)."""

    @property
    def event_loop_safe(self) -> bool:
        """Whether a server may run calls on its event loop (:mod:`superoffice_emulator.server.blocking`):
        on SQLite, whose steps that wait say so; not on PostgreSQL, whose every statement waits for the
        network."""
        return self.engine.dialect.name == "sqlite"

    @property
    def journal_size(self) -> int:
        """The entries the request journal keeps per tenant."""
        return self._journal.size

    def create_schema(self) -> None:
        """Create the missing tables; on PostgreSQL one process at a time (N workers start at once)."""
        create_schema(self.engine)
        if self._transactions.watch is not None:
            self._transactions.watch.remember()

    def health(self) -> str | None:
        """``None`` when the database answers a query on the schema; else what is wrong."""
        try:
            with self._transactions.read("") as transaction:  # of no tenant
                self._tenants.count(transaction.cursor)
        except StorageError as exc:
            return str(exc)
        return None

    def dispose(self) -> None:
        for close in self.on_dispose:
            close()
        self._transactions.close()
        self.engine.dispose()

    def transaction(self, tenant: str, *, create: bool = True) -> TenantTransaction:
        """A store for ``tenant`` in one write transaction; ``tenant`` is created from the fixtures
        on first use when ``create`` is true.

        A database failure, here or in the store, raises :class:`StorageError`; any other exception
        rolls the transaction back and passes through (see
        :mod:`superoffice_emulator.storage.transactions` for the locks). Without ``create`` the store of
        a tenant that does not exist finds nothing (no ticket, no user) and should write nothing. A new
        tenant beyond :attr:`max_tenants` raises :class:`TenantLimitReached`.
        """
        return TenantTransaction(self, tenant, create)

    def _begun(self, transaction: Transaction, tenant: str, create: bool) -> TenantStore:
        """The tenant's store in ``transaction``, which has begun; the tenant made if it may be."""
        store = TenantStore(transaction.cursor, tenant, self._statements)
        generation = store.generation()
        if generation is None and create:
            # a tenant's first call, or one dropped meanwhile (perhaps by another worker
            # process): made from the fixtures and committed, whatever the call then does;
            # too much work for a server's event loop
            blocking.about_to_block()
            self._create(transaction.cursor, tenant, self.fixtures)
            transaction.commit_and_begin()
            generation = store.generation()
        if generation is not None:
            store.facts = self._facts.at(tenant, generation)
        return store

    @contextmanager
    def reading(self, tenant: str) -> Iterator[TenantStore]:
        """A store for ``tenant`` in a read-only transaction: no writer's lock; creates nothing."""
        with self._transactions.read(tenant) as transaction:
            yield TenantStore(transaction.cursor, tenant, self._statements)

    @contextmanager
    def passwords(self, tenant: str) -> Iterator[Passwords]:
        """``tenant``'s application tokens and password hashes, read without the writer's lock; for a
        tenant not made yet, the fixtures' (as they would make it).

        They are read to verify a password next (Argon2, made to be slow): a call on a server's
        event loop moves to a thread first.
        """
        blocking.about_to_block()
        with self.reading(tenant) as store:
            if store.tenant_exists():
                yield store
                return
        yield self.fixtures

    def read_connection(self) -> Connection:
        """A connection of the engine for reads only: it takes no write lock (SQLite: a deferred
        ``BEGIN``); the admin API's queries use it."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    def _create(self, cursor: object, tenant: str, fixtures: Fixtures) -> None:
        """Create ``tenant`` from ``fixtures``, unless the database holds :attr:`max_tenants`."""
        if self._tenants.count(cursor) >= self.max_tenants:
            raise TenantLimitReached(self.max_tenants)
        self._tenants.create(cursor, tenant, fixtures)

    # -- tenants ----------------------------------------------------------------------------
    def ensure_tenant(self, tenant: str) -> bool:
        """Create ``tenant`` from the fixtures unless it exists; True when it was created now.

        An existing tenant costs a read only (no writer's lock): the admin API's reads call this."""
        with self.reading(tenant) as store:
            if store.tenant_exists():
                return False
        with self._transactions.write(tenant) as transaction:
            if TenantStore(transaction.cursor, tenant, self._statements).tenant_exists():
                return False
            self._create(transaction.cursor, tenant, self.fixtures)
            return True

    def reset(self, tenant: str, fixtures: Fixtures | None = None) -> None:
        """Put ``tenant`` back to the fixtures (or to ``fixtures``): data, tickets and journal."""
        with self._transactions.write(tenant) as transaction:
            self._tenants.delete(transaction.cursor, tenant)
            self._tenants.create(transaction.cursor, tenant, fixtures or self.fixtures)

    def tenant_state(self, tenant: str) -> str:
        """``tenant``'s state; for a tenant not made yet, the fixtures' (as they would make it)."""
        with self.reading(tenant) as store:
            if store.generation() is not None and store.state is not None:
                return store.state
        return self.fixtures.tenant_state

    def set_tenant_state(self, tenant: str, state: str) -> None:
        """Set ``tenant``'s state (the tenant made first if need be); a reset restores the fixtures'."""
        with self.transaction(tenant) as store:
            self._tenants.set_state(store.cursor, tenant, state)
            self._tenants.next_generation(store.cursor, tenant)

    def drop_tenant(self, tenant: str) -> None:
        with self._transactions.write(tenant) as transaction:
            self._tenants.delete(transaction.cursor, tenant)

    def tenants(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(schema.tenant.c.tenant).order_by("tenant")).scalars())

    # -- injected faults ----------------------------------------------------------------------
    def take_fault(
        self, store: TenantStore, operation: str, identifiers: Sequence[str | None]
    ) -> FaultRule | None:
        """The store's tenant's first fault rule matching this call, counted down in the store's
        (write) transaction; ``None`` when none matches (or, known from this generation, the
        tenant has none).

        A ``latency`` rule makes its call wait after the commit: a call on a server's event loop
        moves to a thread first (this transaction rolls back, the count with it).
        """
        facts = store.facts
        if facts is not None and facts.no_fault_rules:
            return None
        rule, armed = self._faults.take(store.cursor, store.tenant, operation, identifiers)
        if rule is not None and rule.kind == "latency":
            blocking.about_to_block()
        if rule is not None and rule.count is not None:
            self._tenants.next_generation(store.cursor, store.tenant)  # counted down or used up
        elif not armed and facts is not None:
            facts.no_fault_rules = True
        return rule

    def fault_plan(self, tenant: str) -> FaultPlan:
        return FaultPlan(self, tenant)

    # -- journal ----------------------------------------------------------------------------
    def record(self, store: TenantStore, entry: JournalEntry) -> None:
        """Append ``entry`` to the store's tenant's journal, trimming it to ``journal_size`` now and then;
        the entries of tenants that do not exist share one such cap."""
        self._journal.record(store, entry)

    # -- webhooks ---------------------------------------------------------------------------
    def webhooks(self, store: TenantStore) -> list[Webhook]:
        """The store's tenant's webhooks, in the order of their ids."""
        return self._webhooks.listed(store.cursor, store.tenant)

    def webhook(self, store: TenantStore, webhook_id: int) -> Webhook | None:
        return self._webhooks.get(store.cursor, store.tenant, webhook_id)

    def save_webhook(self, store: TenantStore, hook: Webhook) -> Webhook:
        """Insert ``hook`` (id 0: with the next id) or update it; a new generation of the tenant."""
        if hook.id == 0:
            hook = replace(hook, id=self._webhooks.new_id(store.cursor, store.tenant))
            self._webhooks.insert(store.cursor, store.tenant, hook)
        else:
            self._webhooks.update(store.cursor, store.tenant, hook)
        self._tenants.next_generation(store.cursor, store.tenant)
        self.wants_delivery()
        return hook

    def delete_webhook(self, store: TenantStore, webhook_id: int) -> bool:
        """Delete the webhook and its undelivered events; False when there is none."""
        deleted = self._webhooks.delete(store.cursor, store.tenant, webhook_id)
        self._tenants.next_generation(store.cursor, store.tenant)
        return deleted

    def emit(
        self, store: TenantStore, changes: Sequence[Change], changed_by: int, now: datetime, context: str
    ) -> int:
        """Write the events of ``changes`` for every webhook listening, in the store's transaction (the
        call's): how many. The webhooks are read once per generation of the tenant
        (:mod:`superoffice_emulator.storage.facts`): a tenant without any costs nothing."""
        if not changes:
            return 0
        facts = store.facts
        hooks = facts.webhooks if facts is not None else None
        if hooks is None:
            hooks = tuple(self._webhooks.listed(store.cursor, store.tenant))
            if facts is not None:
                facts.webhooks = hooks
        if not hooks:
            return 0
        written = 0
        for change in changes:
            for event in webhooks.events_of(change, now, changed_by):
                for hook in hooks:
                    if not hook.listens_to(event.name):
                        continue
                    event_id = webhooks.new_event_id()
                    body = webhooks.body(
                        event,
                        event_id=event_id,
                        now=now,
                        context=context,
                        changed_by=changed_by,
                        webhook_name=hook.name,
                    )
                    text = json.dumps(body, ensure_ascii=False)
                    self._webhooks.enqueue(
                        store.cursor, store.tenant, hook.id, event_id, event.name, text, now
                    )
                    written += 1
        if written:
            if not self.events_written.is_set():  # set once per round of the deliverer, not per call
                self.events_written.set()
            self.wants_delivery()
        return written

    def webhook_state_changed(self, cursor: Any, tenant: str) -> None:
        """A delivery changed the state of one of ``tenant``'s webhooks (in the deliverer's
        transaction, holding the tenant's lock): calls stop writing events for it."""
        self._tenants.next_generation(cursor, tenant)

    def has_pending_events(self) -> bool:
        """Whether the outbox holds events not yet delivered (nor given up)."""
        with self._transactions.read("") as transaction:
            return self._webhooks.has_pending(transaction.cursor)

    @contextmanager
    def outbox(self, tenant: str = "", *, write: bool = True) -> Iterator[tuple[Any, Webhooks]]:
        """A transaction for the deliverer (a read-only one unless ``write``): its cursor and the
        webhooks' statements.

        A try's claim and its outcome are written holding ``tenant``'s lock, as a call's changes
        (on PostgreSQL, its advisory lock): a webhook saved or a tenant reset meanwhile is seen
        whole, before or after, so an error count is never written over a new registration and a
        reset's tenant gets no try of the old one's. The lease, of no tenant, takes the lock of the
        name ``""``; no transaction takes two locks, so they never wait for each other in a circle."""
        transactions = self._transactions
        with transactions.write(tenant) if write else transactions.read(tenant) as transaction:
            yield transaction.cursor, self._webhooks


def _nothing() -> None:
    pass


class Passwords(Protocol):
    """What a password's check reads: a tenant's store, or the fixtures of a tenant not made yet."""

    def has_application_token(self, token: str) -> bool: ...
    def password_hash(self, name: str) -> str | None: ...


class TenantTransaction:
    """:meth:`Database.transaction`: a class rather than a generator, as every call enters one."""

    __slots__ = ("_create", "_database", "_tenant", "_transaction")

    def __init__(self, database: Database, tenant: str, create: bool) -> None:
        self._database, self._tenant, self._create = database, tenant, create
        self._transaction = database._transactions.write(tenant)

    def __enter__(self) -> TenantStore:
        transaction = self._transaction.__enter__()
        try:
            return self._database._begun(transaction, self._tenant, self._create)
        except BaseException as exc:
            self._transaction.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._transaction.__exit__(kind, exc, tb)


class FaultPlan:
    """One tenant's injected fault rules, in the database (the same for every worker process)."""

    def __init__(self, database: Database, tenant: str) -> None:
        self._database = database
        self._tenant = tenant

    @property
    def rules(self) -> list[FaultRule]:
        """The active rules, in the order they were added (read without the writer's lock)."""
        with self._database._transactions.read(self._tenant) as transaction:
            return self._database._faults.list(transaction.cursor, self._tenant)

    def add(self, rule: FaultRule) -> FaultRule:
        """Store ``rule`` (its ``id`` set) after the tenant's other rules."""
        with self._changing() as cursor:
            return self._database._faults.add(cursor, self._tenant, rule)

    def remove(self, rule_id: int) -> bool:
        """Drop the rule with ``rule_id``; False when there is none (or it was used up)."""
        with self._changing() as cursor:
            return self._database._faults.remove(cursor, self._tenant, rule_id)

    def clear(self) -> int:
        """Drop every rule of the tenant; how many there were."""
        with self._changing() as cursor:
            return self._database._faults.clear(cursor, self._tenant)

    @contextmanager
    def _changing(self) -> Iterator[Any]:
        """A write transaction's cursor for a change of the plan, which makes it a new generation."""
        database = self._database
        with database._transactions.write(self._tenant) as transaction:
            yield transaction.cursor
            database._tenants.next_generation(transaction.cursor, self._tenant)
