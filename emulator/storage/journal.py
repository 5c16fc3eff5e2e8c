"""The request journal's writing: one row per call in the call's own transaction, trimmed to a cap.

The entry itself is :class:`emulator.journal.JournalEntry`; the admin API reads the journal
through :mod:`emulator.storage.queries`, never more than the newest ``size`` entries.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import String

from emulator.journal import JournalEntry
from emulator.storage import schema
from emulator.storage.store import TenantStore

TRIM_EVERY = 50
"""A tenant's journal is trimmed to its cap every this many writes (of this process)."""


_LIMITS = {
    column.key: column.type.length if isinstance(column.type, String) else None
    for column in schema.journal.columns
}
"""The longest string each journal column takes (None: any)."""


def _storable(value: Any, limit: int | None) -> Any:
    """``value`` made storable on every backend: a string without NUL characters, cut to its
    column's length. SQLite ignores ``VARCHAR(n)``, PostgreSQL refuses a longer value (and any
    NUL), and a journal entry quotes what a client sent (a user name, an operation)."""
    if isinstance(value, str):
        value = value.replace("\x00", "")
        if limit is not None:
            value = value[:limit]
    return value


CUT_MARKER = "\n[cut: {size} bytes in all]"
"""Ends a stored body that was longer than the cap."""


def stored_body(body: bytes, cap: int) -> str | None:
    """``body`` as the journal keeps it: its first ``cap`` bytes as UTF-8 text (undecodable bytes
    replaced), followed by :data:`CUT_MARKER` when it was longer; ``None`` when ``cap`` is 0."""
    if cap <= 0:
        return None
    text = body[:cap].decode("utf-8", "replace")
    return text + CUT_MARKER.format(size=len(body)) if len(body) > cap else text


class JournalWriter:
    """Appends entries to a tenant's journal and keeps it near ``size`` entries, each body cut to
    ``body_bytes`` (so a tenant's journal holds at most about ``size * 2 * body_bytes`` of bodies)."""

    def __init__(self, size: int, body_bytes: int = 65536) -> None:
        self.size = size
        self.body_bytes = body_bytes
        self._writes: dict[str, int] = {}  # per tenant
        self._orphans = 0  # writes for tenants that do not exist

    def record(self, store: TenantStore, entry: JournalEntry, *, tenant_may_be_missing: bool = False) -> None:
        """Append ``entry`` to the store's tenant's journal, trimming it to :attr:`size` now and then.

        With ``tenant_may_be_missing``, the entries of tenants that do not exist (a request that
        never got in) share one cap: all of them together are trimmed to :attr:`size`, however
        many names they were sent to.
        """
        values = {
            "at": entry.at,
            "wire": entry.wire,
            "service": entry.service,
            "operation": entry.operation,
            "user": entry.user,
            "identifiers": json.dumps(list(entry.identifiers)),
            "status": entry.status,
            "outcome": entry.outcome,
            "exception_type": entry.exception_type,
            "message": entry.message,
            "duration_ms": entry.duration_ms,
            "contract_warnings": json.dumps(list(entry.contract_warnings)),
            "request_body": stored_body(entry.request_body, self.body_bytes),
            "response_body": stored_body(entry.response_body, self.body_bytes),
        }
        store.add_journal_entry({name: _storable(value, _LIMITS[name]) for name, value in values.items()})
        if tenant_may_be_missing and not store.tenant_exists():
            self._orphans += 1
            if self._orphans % TRIM_EVERY == 0:
                store.trim_orphan_journal(self.size)
            return
        writes = self._writes[store.tenant] = self._writes.get(store.tenant, 0) + 1
        if writes % TRIM_EVERY == 0:
            store.trim_journal(self.size)
