"""Write transactions and their locks, the same for a call and for a tenant's creation, reset or drop.

Every write runs on a DB-API connection of the engine (see :mod:`superoffice_emulator.storage.sql` for
why), inside :meth:`Transactions.write`::

    with transactions.write("default") as transaction:
        transaction.cursor.execute(...)

It is all or nothing, and concurrent ones end as if run one after the other.

SQLite gets this from ``BEGIN IMMEDIATE`` (one writer at a time for the whole file). Within one
process the writers first take a Python lock: a thread waiting on it runs as soon as the writer
before it commits, where SQLite's busy handler would poll with sleeps of up to 100 ms; the busy
handler is left to writers in other processes.

On PostgreSQL, READ COMMITTED would be enough for a call's batch itself: the rows a batch reads
to decide (owners and groups, Sentry denials, users and roles) never change and are never
deleted except by a reset; its writes are absolute values plus ``updatedCount = updatedCount + 1``,
which PostgreSQL applies to the newest committed version of the row under the row lock; and it
reads nothing that another batch writes. So the row locks order every two conflicting batches
the same way on every row they share, and the result equals a serial replay. REPEATABLE READ or
SERIALIZABLE would add nothing but "could not serialize access" failures, which a batch cannot
retry from here.

Two things READ COMMITTED alone gets wrong, and a transaction-scoped advisory lock per tenant
(held until commit or rollback, taken first by every write transaction: batches, logins, ticket
touches, tenant creation, reset, drop) rules out:

- Deadlocks. A batch updates the kinds in the order the client named them, so two batches
  naming the same sale and appointment in opposite orders would lock the rows in opposite
  orders; PostgreSQL would abort one of them as a deadlock victim, a spurious failure.
- A reset in the middle. A reset deletes and reinserts the tenant's rows; a batch running
  alongside it could pass its ticket check on the old rows and then write into the new ones.

With the lock, a tenant's writers run one at a time, as with SQLite, and different tenants in
parallel. Readers (the admin API's queries) take no lock and see committed data.
"""

from __future__ import annotations

import functools
import threading
import zlib
from typing import Any, Protocol

from sqlalchemy import BigInteger, Connection, Engine, bindparam, exists, func, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError

from superoffice_emulator.server import blocking
from superoffice_emulator.storage import schema, sqlite
from superoffice_emulator.storage.checkpoints import Checkpointer
from superoffice_emulator.storage.engine import DatabaseFileGone, FileWatch, ReusedConnections, is_sqlite_file
from superoffice_emulator.storage.sql import Dialect, Statement

# PostgreSQL advisory lock keys (one bigint each): a fixed prefix in the high 32 bits, so they do
# not collide with the advisory locks of other software sharing the database server.
_LOCK_PREFIX = 0x534F_4E53  # "SONS"
SCHEMA_LOCK_KEY = _LOCK_PREFIX << 32
ADVISORY_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))
"""PostgreSQL: wait for the advisory lock ``key``, held until the transaction ends."""


@functools.lru_cache(maxsize=1024)
def tenant_lock_key(tenant: str) -> int:
    """The advisory lock key of ``tenant``: a CRC-32 of its name under the emulator's prefix.

    Two tenants whose names collide only wait for each other now and then; nothing else happens.
    """
    return (_LOCK_PREFIX << 32) | zlib.crc32(tenant.encode("utf-8"))


class StorageError(Exception):
    """The database failed; ``__cause__`` is the driver's (or SQLAlchemy's) exception."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.kind = type(cause).__name__


def create_schema(engine: Engine) -> None:
    """Create the missing tables; on PostgreSQL one process at a time (N workers start at once)."""
    with engine.begin() as connection:  # on SQLite, BEGIN IMMEDIATE (the engine's "begin" event)
        if engine.dialect.name == "postgresql":
            # PostgreSQL's DDL is transactional: the second worker waits here, then sees
            # the first one's tables and creates nothing (instead of a duplicate-table error).
            connection.execute(ADVISORY_LOCK, {"key": SCHEMA_LOCK_KEY})
        existing = set(inspect(connection).get_table_names())  # one query, not one per table
        missing = [table for table in schema.metadata.sorted_tables if table.name not in existing]
        if missing:
            schema.metadata.create_all(connection, tables=missing, checkfirst=False)
        _add_missing_columns(connection, existing)
        _key_webhooks_by_client_id(connection, existing)


_ADDED_COLUMNS = {
    schema.journal.name: {
        "wire": "VARCHAR(10) NOT NULL DEFAULT 'soap'",
        "contract_warnings": "TEXT NOT NULL DEFAULT '[]'",
        "request_body": "TEXT",
        "response_body": "TEXT",
        "injected": "VARCHAR(20)",
    },
    schema.tenant.name: {
        "generation": "BIGINT NOT NULL DEFAULT 0",
        "state": "VARCHAR(40) NOT NULL DEFAULT 'Running'",
    },
    schema.access_token.name: {"expires": "TIMESTAMP", "client_id": "VARCHAR(200)"},
    schema.application.name: {"system_user": "BOOLEAN NOT NULL DEFAULT FALSE"},
}
"""Columns newer than the first schema, per table, with what an older database's rows get."""


def _key_webhooks_by_client_id(connection: Connection, tables: set[str]) -> None:
    """A webhook registered online by an older version holds the ``SO-AppToken`` it was registered
    with, usually its application's client secret: key it by that application's client id, as
    webhooks are keyed now, so its application still sees it and no secret is kept (or shown) there."""
    w, a = schema.webhook, schema.application
    if w.name not in tables or a.name not in tables:
        return
    owner = select(a.c.client_id).where(a.c.tenant == w.c.tenant, a.c.client_secret == w.c.application)
    connection.execute(update(w).where(exists(owner)).values(application=owner.limit(1).scalar_subquery()))


def _add_missing_columns(connection: Connection, tables: set[str]) -> None:
    """A database made before a column existed gets it (old journal entries: SOAP, no warnings);
    ``tables``: those that existed before (a table created now has every column)."""
    inspector = inspect(connection)
    for table, added in _ADDED_COLUMNS.items():
        if table not in tables:
            continue
        columns = {column["name"] for column in inspector.get_columns(table)}
        for name, declaration in added.items():
            if name not in columns:
                connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")


class Transaction:
    """One write transaction on a DB-API connection, holding its tenant's locks.

    Made by :meth:`Transactions.write`; a context manager that begins on entry and commits at a
    normal exit (a class rather than a generator: the calls' path is short enough to notice).
    """

    def __init__(self, owner: Transactions, tenant: str, *, write: bool = True) -> None:
        self._owner = owner
        self._tenant = tenant
        self._write = write
        self._writers: _Lock = owner.writers if write else _NoLock()
        self.connection: Any = None
        self.cursor: Any = None

    def begin(self) -> None:
        """Start the transaction: ``BEGIN IMMEDIATE`` on SQLite, the tenant's lock on PostgreSQL.

        A read transaction takes neither: a deferred ``BEGIN`` on SQLite, nothing on PostgreSQL.
        """
        owner = self._owner
        if not self._write:
            if owner.dialect.begin is not None:
                self.cursor.execute("BEGIN")
            return
        if owner.dialect.begin is not None:
            self.cursor.execute(owner.dialect.begin)
        if owner.lock is not None:
            self.cursor.execute(owner.lock.text, owner.lock.params({"key": tenant_lock_key(self._tenant)}))

    def commit_and_begin(self) -> None:
        """Commit what was done so far, and go on in a new transaction with the same locks."""
        self.connection.commit()
        self.begin()

    def __enter__(self) -> Transaction:
        owner = self._owner
        if not self._writers.acquire(blocking=False):  # another writer of this process is in
            blocking.about_to_block()  # a call on the event loop goes to a thread to wait
            self._writers.acquire()
        try:
            if owner.watch is not None:
                owner.watch.check()
            self.connection = owner.connect()
        except DatabaseFileGone as exc:
            self._writers.release()
            raise StorageError(exc) from exc
        except BaseException:
            self._writers.release()
            raise
        try:
            self.cursor = self.connection.cursor()
            self.begin()
        except BaseException as exc:
            self._end(broken=True)
            if isinstance(exc, owner.errors):
                raise StorageError(exc) from exc
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        errors = self._owner.errors
        if exc is None and not self._write:
            self._end(broken=not _rollback(self.connection))
            return
        if exc is None:
            try:
                self.connection.commit()
            except errors as failure:
                self._end(broken=not _rollback(self.connection))
                raise StorageError(failure) from failure
            self._end(broken=False)
            if self._owner.checkpoints is not None:
                self._owner.checkpoints.committed()
            return
        self._end(broken=not _rollback(self.connection))
        if isinstance(exc, errors):
            raise StorageError(exc) from exc

    def _end(self, *, broken: bool) -> None:
        """Give back the connection, whose transaction has ended, and let the next writer in.

        The cursor is closed first, by the thread that owns the connection: a cursor the driver
        collects later may reset its statement then (pysqlite3 does), when the connection may
        already run that same cached statement for a call on another thread.
        """
        try:
            if self.cursor is not None:
                broken = not _close(self.cursor) or broken
                self.cursor = None
            self._owner.give_back(self.connection, broken=broken)
        finally:
            self._writers.release()


class Transactions:
    """Hands out write transactions on ``engine``'s DB-API connections (see the module's doc)."""

    def __init__(self, engine: Engine, dialect: Dialect) -> None:
        self.engine = engine
        self.dialect = dialect
        postgres = dialect.name == "postgresql"
        writers = threading.Lock()
        self.writers: _Lock = _NoLock() if postgres else writers
        """SQLite: this process's writers go one at a time."""
        self.lock = Statement(ADVISORY_LOCK, dialect) if postgres else None
        """PostgreSQL: the statement that takes a tenant's advisory lock."""
        self.errors: tuple[type[Exception], ...] = (engine.dialect.loaded_dbapi.Error, SQLAlchemyError)
        """What a database failure raises: the driver's errors (our statements), SQLAlchemy's."""
        sqlite_file = is_sqlite_file(engine)
        # a SQLite with the WAL-reset bug checkpoints as SQLite does by default: a thread
        # checkpointing while calls commit is the very race that bug needs
        threaded = sqlite_file and not sqlite.has_wal_reset_bug()
        self._reused = ReusedConnections(engine, checkpoint=not threaded) if sqlite_file else None
        self.watch = FileWatch(str(engine.url.database)) if sqlite_file else None
        """SQLite files: the file's identity, checked before every transaction."""
        self.checkpoints = Checkpointer(str(engine.url.database), writers) if threaded else None
        """SQLite files: the WAL's checkpoints, on a thread (the calls' connections make none)."""

    def write(self, tenant: str) -> Transaction:
        """A write transaction holding ``tenant``'s locks, committed when the ``with`` block ends.

        A database failure, here or in the block, rolls back and raises :class:`StorageError`;
        any other exception rolls back and passes through.
        """
        return Transaction(self, tenant)

    def read(self, tenant: str) -> Transaction:
        """A read-only transaction: no writer's lock, no tenant lock; rolled back at the end."""
        return Transaction(self, tenant, write=False)

    def connect(self) -> Any:
        """A DB-API connection of the engine (one kept from an earlier call, for a SQLite file)."""
        try:
            return self.engine.raw_connection() if self._reused is None else self._reused.take()
        except SQLAlchemyError as exc:
            raise StorageError(exc) from exc

    def give_back(self, connection: Any, *, broken: bool) -> None:
        """Give back a connection whose transaction has ended."""
        if self._reused is None:
            connection.close()  # back to the pool, which checks it
        else:
            self._reused.give_back(connection, broken=broken)

    def close(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.close()
        if self._reused is not None:
            self._reused.close()


class _Lock(Protocol):
    def acquire(self, blocking: bool = True) -> bool: ...
    def release(self) -> None: ...


class _NoLock:
    """PostgreSQL: writers of one process need no lock of their own (the advisory locks order them)."""

    def acquire(self, blocking: bool = True) -> bool:
        return True

    def release(self) -> None:
        pass

    def locked(self) -> bool:
        """Never held, as :class:`threading.Lock` would say of itself."""
        return False


def _close(cursor: Any) -> bool:
    """Close ``cursor``; False when it could not be (its connection is then discarded)."""
    try:
        cursor.close()
    except Exception:
        return False
    return True


def _rollback(connection: Any) -> bool:
    """Roll back; False when the connection could not (the pool discards a broken one)."""
    try:
        connection.rollback()
    except Exception:
        return False
    return True
