"""The database: one object that composes the storage's parts, for the rest of the emulator.

- :mod:`emulator.storage.engine`: the engine, SQLite's and PostgreSQL's settings, the connections;
- :mod:`emulator.storage.transactions`: write transactions and their locks (calls and tenants alike);
- :mod:`emulator.storage.tenants`: tenants made from the fixtures, reset, dropped;
- :mod:`emulator.storage.journal`: the request journal's writing;
- :mod:`emulator.storage.store`: one tenant's statements inside a transaction, for the domain.

::

    database = Database("sqlite:///crm.db", load_fixtures(path))
    database.create_schema()
    with database.transaction("default") as store:
        user = sessions.validate_ticket(store, ticket, now, lifetime)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from emulator.journal import JournalEntry
from emulator.storage import schema
from emulator.storage.engine import make_engine, postgres_url
from emulator.storage.fixtures import Fixtures
from emulator.storage.journal import JournalWriter
from emulator.storage.sql import dialect_named
from emulator.storage.store import TenantStore, statements_for
from emulator.storage.tenants import tenants_for
from emulator.storage.transactions import StorageError, Transactions, create_schema

__all__ = ["Database", "StorageError", "make_engine", "postgres_url"]


class Database:
    """Owns the engine; hands out per-tenant stores in transactions; creates and resets tenants."""

    def __init__(
        self, url: str, fixtures: Fixtures, journal_size: int = 1000, journal_body_bytes: int = 65536
    ) -> None:
        self.engine = make_engine(url)
        self.fixtures = fixtures
        dialect = dialect_named(self.engine.dialect.name)
        self._transactions = Transactions(self.engine, dialect)
        self._statements = statements_for(dialect)
        self._tenants = tenants_for(dialect)
        self._journal = JournalWriter(journal_size, journal_body_bytes)

    @property
    def journal_size(self) -> int:
        """The entries the request journal keeps per tenant."""
        return self._journal.size

    def create_schema(self) -> None:
        """Create the missing tables; on PostgreSQL one process at a time (N workers start at once)."""
        create_schema(self.engine)

    def dispose(self) -> None:
        self._transactions.close()
        self.engine.dispose()

    @contextmanager
    def transaction(self, tenant: str, *, create: bool = True) -> Iterator[TenantStore]:
        """A store for ``tenant`` (created from the fixtures on first use) in one write transaction.

        A database failure, here or in the store, raises :class:`StorageError`; any other
        exception rolls the transaction back and passes through (see
        :mod:`emulator.storage.transactions` for the locks). ``create=False`` skips creating the
        tenant, for a journal entry of a call that never got in.
        """
        with self._transactions.write(tenant) as transaction:
            store = TenantStore(transaction.cursor, tenant, self._statements)
            if create and not store.tenant_exists():
                # a tenant's first call, or one dropped meanwhile (perhaps by another worker
                # process): made from the fixtures and committed, whatever the call then does
                self._tenants.create(transaction.cursor, tenant, self.fixtures)
                transaction.commit_and_begin()
            yield store

    # -- tenants ----------------------------------------------------------------------------
    def ensure_tenant(self, tenant: str) -> bool:
        """Create ``tenant`` from the fixtures unless it exists; True when it was created now."""
        with self._transactions.write(tenant) as transaction:
            if TenantStore(transaction.cursor, tenant, self._statements).tenant_exists():
                return False
            self._tenants.create(transaction.cursor, tenant, self.fixtures)
            return True

    def reset(self, tenant: str, fixtures: Fixtures | None = None) -> None:
        """Put ``tenant`` back to the fixtures (or to ``fixtures``): data, tickets and journal."""
        with self._transactions.write(tenant) as transaction:
            self._tenants.delete(transaction.cursor, tenant)
            self._tenants.create(transaction.cursor, tenant, fixtures or self.fixtures)

    def drop_tenant(self, tenant: str) -> None:
        with self._transactions.write(tenant) as transaction:
            self._tenants.delete(transaction.cursor, tenant)

    def tenants(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(schema.tenant.c.tenant).order_by("tenant")).scalars())

    # -- journal ----------------------------------------------------------------------------
    def record(self, store: TenantStore, entry: JournalEntry) -> None:
        """Append ``entry`` to the store's tenant's journal, trimming it to ``journal_size`` now and then."""
        self._journal.record(store, entry)
