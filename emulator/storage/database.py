"""The database life cycle: engine, schema, tenants created from fixtures, reset, journal.

SQLite (the default) runs in WAL mode with a busy timeout, and every write transaction starts
with ``BEGIN IMMEDIATE``, so concurrent writers queue instead of failing with "database is
locked", and a batch's reads and writes see one consistent state.

PostgreSQL (``postgresql+psycopg://user:password@host/dbname``, psycopg 3) runs in READ COMMITTED,
and every transaction that writes a tenant's rows first takes a transaction-scoped advisory
lock on that tenant; see :meth:`Database.transaction` for why that is both enough and needed.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import PoolProxiedConnection

from emulator.clock import utcnow
from emulator.storage import schema
from emulator.storage.fixtures import Fixtures
from emulator.storage.sql import JOURNAL_COLUMNS, Statements, dialect_named
from emulator.storage.store import TenantStore, encode_rights

SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_LOCK_TIMEOUT_MS = SQLITE_BUSY_TIMEOUT_MS
"""How long a PostgreSQL transaction waits for a lock (a tenant's, a row's) before it fails."""

# PostgreSQL advisory lock keys (one bigint each): a fixed prefix in the high 32 bits, so they do
# not collide with the advisory locks of other software sharing the database server.
_LOCK_PREFIX = 0x534F_4E53  # "SONS"
_SCHEMA_LOCK_KEY = _LOCK_PREFIX << 32
_LOCK_SQL = text("SELECT pg_advisory_xact_lock(CAST(:key AS bigint))")


def _tenant_lock_key(tenant: str) -> int:
    """The advisory lock key of ``tenant``: a CRC-32 of its name under the emulator's prefix.

    Two tenants whose names collide only wait for each other now and then; nothing else happens.
    """
    return (_LOCK_PREFIX << 32) | zlib.crc32(tenant.encode("utf-8"))


def postgres_url(url: str | URL) -> URL:
    """``url`` with the psycopg 3 driver when it names none (a bare ``postgresql://`` means psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE.

    PostgreSQL gets psycopg 3 (also for a bare ``postgresql://``), READ COMMITTED, a lock timeout
    like SQLite's busy timeout, and a connection check before each use, so a shared server that
    restarted costs one failed ping, not a failed call.
    """
    parsed = make_url(url)
    backend = dialect_named(parsed.get_backend_name()).name
    if backend == "postgresql":
        parsed = postgres_url(parsed)
        connect_args: dict[str, Any] = {}
        if parsed.drivername == "postgresql+psycopg" and "application_name" not in parsed.query:
            connect_args["application_name"] = "superoffice-emulator"
        pg_engine = create_engine(
            parsed, pool_pre_ping=True, isolation_level="READ COMMITTED", connect_args=connect_args
        )

        @event.listens_for(pg_engine, "connect")
        def _on_pg_connect(dbapi_connection: Any, _record: Any) -> None:
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True  # a session setting, outside any transaction
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET lock_timeout = {POSTGRES_LOCK_TIMEOUT_MS}")
            cursor.close()
            dbapi_connection.autocommit = autocommit

        return pg_engine
    engine = create_engine(url, connect_args={"check_same_thread": False})
    in_memory = parsed.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        # the timeout first: switching to WAL needs a lock another connection may hold
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@dataclass(frozen=True)
class JournalEntry:
    """One SOAP call as the request journal keeps it."""

    at: datetime
    service: str
    operation: str
    user: str | None
    identifiers: Sequence[str | None]
    status: str | None
    outcome: str
    exception_type: str | None
    message: str | None
    duration_ms: float
    contract_warnings: Sequence[str] = ()
    """Where the real service would have refused the request or read it differently (lenient mode)."""


class Database:
    """Owns the engine; hands out per-tenant stores in transactions; creates and resets tenants."""

    def __init__(self, url: str, fixtures: Fixtures, journal_size: int = 1000) -> None:
        self.engine = make_engine(url)
        self.fixtures = fixtures
        self.journal_size = journal_size
        self._lock = threading.Lock()
        self._journal_writes: dict[str, int] = {}  # per tenant: each is trimmed every 50 writes
        self._postgres = self.engine.dialect.name == "postgresql"
        self._writers: AbstractContextManager[Any] = (
            contextlib.nullcontext() if self._postgres else threading.Lock()
        )
        """SQLite: this process's calls write one at a time (see :meth:`transaction`)."""
        self._reused = ReusedConnections(self.engine) if _is_sqlite_file(self.engine) else None
        self._statements = Statements(dialect_named(self.engine.dialect.name))
        self._errors: tuple[type[Exception], ...] = (self.engine.dialect.loaded_dbapi.Error, SQLAlchemyError)
        """What a database failure raises: the driver's errors (the calls' statements), SQLAlchemy's."""

    def create_schema(self) -> None:
        """Create the missing tables; on PostgreSQL one process at a time (N workers start at once)."""
        with self.engine.begin() as connection:
            if self._postgres:
                # PostgreSQL's DDL is transactional: the second worker waits here, then sees
                # the first one's tables and creates nothing (instead of a duplicate-table error).
                connection.execute(_LOCK_SQL, {"key": _SCHEMA_LOCK_KEY})
            schema.metadata.create_all(connection)

    def dispose(self) -> None:
        if self._reused is not None:
            self._reused.close()
        self.engine.dispose()

    @contextmanager
    def transaction(self, tenant: str, *, create: bool = True) -> Iterator[TenantStore]:
        """A store for ``tenant`` (created from the fixtures on first use) in one transaction.

        It runs on the driver's own connection from the engine's pool (see :mod:`emulator.storage.sql`
        for why). A database failure, here or in the store, raises :class:`StorageError`; any other
        exception rolls the transaction back and passes through. ``create=False`` skips creating
        the tenant, for a journal entry of a call that never got in.

        The transaction is all or nothing, and concurrent ones end as if run one after the other.
        SQLite gets this from ``BEGIN IMMEDIATE`` (one writer at a time for the whole file). Within
        one process the calls first take a writer lock: a thread waiting on it runs as soon as the
        writer before it commits, where SQLite's busy handler would poll with sleeps of up to
        100 ms; the busy handler is left to writers in other processes.

        On PostgreSQL, READ COMMITTED would be enough for the batch itself: the rows a batch
        reads to decide (owners and groups, Sentry denials, users and roles) never change and are
        never deleted except by a reset; its writes are absolute values plus
        ``updatedCount = updatedCount + 1``, which PostgreSQL applies to the newest committed
        version of the row under the row lock; and it reads nothing that another batch writes. So
        the row locks order every two conflicting batches the same way on every row they share,
        and the result equals a serial replay. REPEATABLE READ or SERIALIZABLE would add nothing but
        "could not serialize access" failures, which a batch cannot retry from here.

        Two things READ COMMITTED alone gets wrong, and the advisory lock below (one per tenant,
        held until commit or rollback, taken by every transaction that writes a tenant's rows:
        batches, logins, ticket touches, tenant creation, reset, drop) rules out:

        - Deadlocks. A batch updates the kinds in the order the client named them, so two batches
          naming the same sale and appointment in opposite orders would lock the rows in opposite
          orders; PostgreSQL would abort one of them as a deadlock victim, a spurious failure.
        - A reset in the middle. A reset deletes and reinserts the tenant's rows; a batch running
          alongside it could pass its ticket check on the old rows and then write into the new ones.

        With the lock, a tenant's writers run one at a time, as with SQLite, and different tenants
        in parallel. Readers (the admin API's queries) take no lock and see committed data.
        """
        with self._writers:
            raw, store = self._begin(tenant)
            try:
                if create and not store.tenant_exists():
                    # a tenant's first call, or one dropped meanwhile (perhaps by another worker
                    # process): make it from the fixtures, then begin again
                    raw.commit()
                    self.ensure_tenant(tenant)
                    store.begin()
                yield store
                raw.commit()
            except self._errors as exc:
                self._end(raw, broken=not _rollback(raw))
                raise StorageError(exc) from exc
            except BaseException:
                self._end(raw, broken=not _rollback(raw))
                raise
            self._end(raw, broken=False)

    def _begin(self, tenant: str) -> tuple[Any, TenantStore]:
        """A DB-API connection and a store for ``tenant`` on it, in a new transaction."""
        try:
            raw = self.engine.raw_connection() if self._reused is None else self._reused.take()
        except SQLAlchemyError as exc:
            raise StorageError(exc) from exc
        lock_key = _tenant_lock_key(tenant) if self._postgres else None
        store = TenantStore(raw.cursor(), tenant, self._statements, lock_key)
        try:
            store.begin()
        except self._errors as exc:
            self._end(raw, broken=True)
            raise StorageError(exc) from exc
        return raw, store

    def _end(self, raw: Any, *, broken: bool) -> None:
        """Give back a connection whose transaction has ended."""
        if self._reused is None:
            raw.close()  # back to the pool, which checks it
        else:
            self._reused.give_back(raw, broken=broken)

    def _lock_tenant(self, connection: Connection, tenant: str) -> None:
        """On PostgreSQL, wait for ``tenant``'s advisory lock (released when the transaction ends)."""
        if self._postgres:
            connection.execute(_LOCK_SQL, {"key": _tenant_lock_key(tenant)})

    # -- tenants ----------------------------------------------------------------------------
    def ensure_tenant(self, tenant: str) -> bool:
        """Create ``tenant`` from the fixtures unless it exists; True when it was created now."""
        with self._lock, self.engine.begin() as connection:
            self._lock_tenant(connection, tenant)  # another process may be creating it right now
            t = schema.tenant
            exists = connection.execute(select(t.c.tenant).where(t.c.tenant == tenant)).first()
            if exists is None:
                connection.execute(insert(t).values(tenant=tenant, created=utcnow()))
                self._insert_fixtures(connection, tenant, self.fixtures)
            return exists is None

    def reset(self, tenant: str, fixtures: Fixtures | None = None) -> None:
        """Put ``tenant`` back to the fixtures (or to ``fixtures``): data, tickets and journal."""
        with self._lock, self.engine.begin() as connection:
            self._lock_tenant(connection, tenant)
            self._delete_tenant_rows(connection, tenant)
            connection.execute(insert(schema.tenant).values(tenant=tenant, created=utcnow()))
            self._insert_fixtures(connection, tenant, fixtures or self.fixtures)

    def drop_tenant(self, tenant: str) -> None:
        with self._lock, self.engine.begin() as connection:
            self._lock_tenant(connection, tenant)
            self._delete_tenant_rows(connection, tenant)

    def tenants(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(schema.tenant.c.tenant).order_by("tenant")).scalars())

    @staticmethod
    def _delete_tenant_rows(connection: Connection, tenant: str) -> None:
        for table in schema.TENANT_TABLES:
            connection.execute(delete(table).where(table.c.tenant == tenant))

    @staticmethod
    def _insert_fixtures(connection: Connection, tenant: str, fixtures: Fixtures) -> None:
        rows: dict[Any, list[dict[str, Any]]] = {}
        for role in fixtures.roles:
            rows.setdefault(schema.role, []).append(
                {
                    "tenant": tenant,
                    "role_id": role.role_id,
                    "name": role.name,
                    "rights": encode_rights(role.rights),
                }
            )
        for user in fixtures.users:
            rows.setdefault(schema.associate, []).append(
                {
                    "tenant": tenant,
                    "associate_id": user.associate_id,
                    "name": user.name,
                    "password_hash": user.password_hash,
                    "full_name": user.full_name,
                    "email": user.email,
                    "person_id": user.person_id,
                    "contact_id": user.contact_id,
                    "group_id": user.group_id,
                    "role_id": user.role_id,
                    "user_type": user.user_type,
                }
            )
            for ticket in user.tickets:
                rows.setdefault(schema.ticket, []).append(
                    {
                        "tenant": tenant,
                        "ticket": ticket,
                        "associate_id": user.associate_id,
                        "last_used": datetime(2000, 1, 1),
                        "fixed": True,
                    }
                )
        for token in fixtures.application_tokens:
            rows.setdefault(schema.application_token, []).append({"tenant": tenant, "token": token})
        for activity in fixtures.activities:
            rows.setdefault(schema.activity_tables[activity.kind], []).append(
                {
                    "tenant": tenant,
                    activity.kind.key: activity.id,
                    "title": activity.title,
                    "status": int(activity.status),
                    "done": activity.done,
                    "associate_id": activity.associate_id,
                    "group_idx": activity.group_id,
                    "registered": activity.registered,
                    "updated": None,
                    "updated_associate_id": 0,
                    "updatedCount": 0,
                }
            )
        for denial in fixtures.denials:
            rows.setdefault(schema.sentry_denial, []).append(
                {
                    "tenant": tenant,
                    "kind": denial.kind.value,
                    "record_id": denial.record_id,
                    "associate_id": denial.associate_id,
                }
            )
        for table in schema.metadata.sorted_tables:  # parents first
            if rows.get(table):
                connection.execute(insert(table), rows[table])

    # -- journal ----------------------------------------------------------------------------
    def record(self, store: TenantStore, entry: JournalEntry) -> None:
        """Append ``entry`` to the store's tenant's journal, trimming it to ``journal_size`` now and then."""
        store.add_journal_entry(
            [
                _storable(value, limit)
                for value, limit in zip(
                    (
                        store.dialect.time_param(entry.at),
                        entry.service,
                        entry.operation,
                        entry.user,
                        json.dumps(list(entry.identifiers)),
                        entry.status,
                        entry.outcome,
                        entry.exception_type,
                        entry.message,
                        entry.duration_ms,
                        json.dumps(list(entry.contract_warnings)),
                    ),
                    _JOURNAL_LIMITS,
                    strict=True,
                )
            ]
        )
        writes = self._journal_writes[store.tenant] = self._journal_writes.get(store.tenant, 0) + 1
        if writes % 50 == 0:
            store.trim_journal(self.journal_size)


class StorageError(Exception):
    """The database failed; ``__cause__`` is the driver's (or SQLAlchemy's) exception."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.kind = type(cause).__name__


def _rollback(raw: Any) -> bool:
    """Roll back; False when the connection could not (the pool discards a broken one)."""
    try:
        raw.rollback()
    except Exception:
        return False
    return True


def _is_sqlite_file(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


class ReusedConnections:
    """SQLite files: the calls' DB-API connections, kept between calls outside the engine's pool.

    A checkout from SQLAlchemy's pool and its return cost about 10 µs, a few percent of a call.
    These connections come from the engine (so they get its ``connect`` settings), are detached
    from its pool, and are handed out last in, first out; at most ``keep`` wait idle. Only for
    SQLite files: PostgreSQL keeps the pool's check of a connection before each use, and an
    in-memory SQLite database exists once per pool connection.
    """

    def __init__(self, engine: Engine, keep: int = 8) -> None:
        self._engine = engine
        self._keep = keep
        self._idle: collections.deque[PoolProxiedConnection] = collections.deque()

    def take(self) -> PoolProxiedConnection:
        try:
            return self._idle.pop()  # atomic: no lock needed
        except IndexError:
            connection = self._engine.raw_connection()
            connection.detach()
            return connection

    def give_back(self, connection: PoolProxiedConnection, *, broken: bool) -> None:
        if broken or len(self._idle) >= self._keep:
            connection.close()
        else:
            self._idle.append(connection)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def _column_limit(name: str) -> int | None:
    column_type = schema.journal.c[name].type
    return column_type.length if isinstance(column_type, String) else None


_JOURNAL_LIMITS = tuple(_column_limit(name) for name in JOURNAL_COLUMNS[1:])


def _storable(value: Any, limit: int | None) -> Any:
    """``value`` made storable on every backend: a string without NUL characters, cut to its
    column's length. SQLite ignores ``VARCHAR(n)``, PostgreSQL refuses a longer value (and any
    NUL), and a journal entry quotes what a client sent (a user name, an operation)."""
    if isinstance(value, str):
        value = value.replace("\x00", "")
        if limit is not None:
            value = value[:limit]
    return value
