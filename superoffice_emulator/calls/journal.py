"""The request journal's entry: what the emulator remembers of one call.

The call pipeline makes one per call; the log line carries it (:mod:`superoffice_emulator.server.logs`)
and the storage writes it to the tenant's journal (:mod:`superoffice_emulator.storage.journal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Wire = Literal["soap", "rest"]
"""The wires a call comes by."""


@dataclass(frozen=True)
class JournalEntry:
    """One call as the request journal keeps it."""

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
    wire: Wire = "soap"
    """Which wire the call came by."""
    contract_warnings: Sequence[str] = ()
    """Where the real service would have refused the request or read it differently (lenient mode)."""
    request_body: bytes = b""
    """The request's raw body as it arrived (the writer cuts it to ``--journal-body-bytes``)."""
    response_body: bytes = b""
    """The body the wire answered (empty for a dropped connection)."""
    injected: str | None = None
    """The kind of the injected fault that hit the call (``sentry``, ``latency``, ...), else ``None``:
    an injected ``sentry`` refusal reads like a real one on the wire, but not here."""
