"""The request journal's writing: one row per call in the call's own transaction, trimmed to a cap.

The entry itself is :class:`superoffice_emulator.calls.journal.JournalEntry`; the admin API reads the
journal through :mod:`superoffice_emulator.storage.queries`, never more than the newest ``size``
entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import String

from superoffice_emulator.calls.journal import JournalEntry
from superoffice_emulator.storage import schema
from superoffice_emulator.storage.store import JOURNAL_COLUMNS, TenantStore

TRIM_EVERY = 50
"""A tenant's journal is trimmed to its cap every this many writes (of this process)."""


_TEXT_COLUMNS: tuple[tuple[int, int | None], ...] = tuple(
    (JOURNAL_COLUMNS.index(column.key), column.type.length)
    for column in schema.journal.columns
    if isinstance(column.type, String) and column.key not in ("tenant", "identifiers", "contract_warnings")
)
"""The journal's text columns an entry fills with what a client may have sent (their places in
``JOURNAL_COLUMNS``, the order :meth:`JournalWriter.record` gives them in), and the longest
string each takes (None: any); the JSON columns hold no NUL (JSON escapes it)."""


def json_strings(items: Iterable[str | None]) -> str:
    """``json.dumps(list(items))`` of strings and ``None``s, without an encoder made per call."""
    return "[" + ", ".join("null" if item is None else encode_basestring_ascii(item) for item in items) + "]"


_NONE = "[]"
"""An empty JSON list (no contract warnings)."""


def _storable(value: str, limit: int | None) -> str:
    """``value`` made storable on every backend: a string without NUL characters, cut to its
    column's length. SQLite ignores ``VARCHAR(n)``, PostgreSQL refuses a longer value (and any
    NUL), and a journal entry quotes what a client sent (a user name, an operation)."""
    value = value.replace("\x00", "")
    return value if limit is None else value[:limit]


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

    def record(self, store: TenantStore, entry: JournalEntry) -> None:
        """Append ``entry`` to the store's tenant's journal, trimming it to :attr:`size` now and then.

        The entries of tenants that do not exist (a request that never got in) share one cap: all
        of them together are trimmed to :attr:`size`, however many names they were sent to.
        """
        warnings = entry.contract_warnings
        values: list[Any] = [  # in JOURNAL_COLUMNS' order
            store.tenant,
            entry.at,
            entry.wire,
            entry.service,
            entry.operation,
            entry.user,
            json_strings(entry.identifiers),
            entry.status,
            entry.outcome,
            entry.exception_type,
            entry.message,
            entry.duration_ms,
            json_strings(warnings) if warnings else _NONE,
            stored_body(entry.request_body, self.body_bytes),
            stored_body(entry.response_body, self.body_bytes),
            entry.injected,
        ]
        for index, limit in _TEXT_COLUMNS:
            value = values[index]
            if value is not None and ("\x00" in value or (limit is not None and len(value) > limit)):
                values[index] = _storable(value, limit)
        store.add_journal_entry(values)
        if not store.tenant_exists():
            self._orphans += 1
            if self._orphans % TRIM_EVERY == 0:
                store.trim_orphan_journal(self.size)
            return
        writes = self._writes[store.tenant] = self._writes.get(store.tenant, 0) + 1
        if writes % TRIM_EVERY == 0:
            store.trim_journal(self.size)
