"""The request journal's entry: what the emulator remembers of one call, or of one event.

The call pipeline makes one per call; the log line carries it (:mod:`superoffice_emulator.server.logs`)
and the storage writes it to the tenant's journal (:mod:`superoffice_emulator.storage.journal`).

What is not a call (a sign-in, a token grant, a revocation: SuperID's events) is written with
:func:`record_event`, in the caller's transaction::

    record_event(runtime, store, "SignIn", "approved", user="demo", application="demo-app")

Such an entry's ``wire`` is :data:`EVENT_WIRE`; it names no identifiers and keeps no bodies: never
a secret, a code or a token.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from superoffice_emulator.calls.runtime import Runtime
    from superoffice_emulator.storage.store import TenantStore

log = logging.getLogger("superoffice_emulator.journal")

CallWire = Literal["soap", "rest"]
"""The wires a call comes by."""
Wire = Literal[CallWire, "superid"]
"""What an entry came by: a call's wire, or SuperID's front door for an event."""
EVENT_WIRE: Wire = "superid"
"""The ``wire`` of an event's entry: SuperID, the front door, not a NetServer service."""
EVENT_SERVICE = "SuperID"


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


def event(
    at: datetime,
    operation: str,
    outcome: str,
    *,
    user: str | None = None,
    application: str | None = None,
    detail: str | None = None,
    error: str | None = None,
) -> JournalEntry:
    """The entry of an event that is not a call: ``operation`` (``SignIn``, ``Token``, ``Revoke``,
    ...) ended in ``outcome`` (``approved``, ``denied``, ``granted``, ``refused``, ``revoked``, ...)
    for ``user`` and the application ``application`` (its client id); ``detail`` says more (a grant
    type), ``error`` is the refusal's code (``invalid_grant``). The message reads
    ``"<application>: <detail>"``."""
    message = ": ".join(part for part in (application, detail) if part) or None
    return JournalEntry(
        at=at,
        service=EVENT_SERVICE,
        operation=operation,
        user=user,
        identifiers=(),
        status=None,
        outcome=outcome,
        exception_type=error,
        message=message,
        duration_ms=0.0,
        wire=EVENT_WIRE,
    )


def record_event(
    runtime: Runtime,
    store: TenantStore,
    operation: str,
    outcome: str,
    *,
    user: str | None = None,
    application: str | None = None,
    detail: str | None = None,
    error: str | None = None,
) -> None:
    """Journal an event (see :func:`event`) in ``store``'s tenant, in its transaction, and log it.
    An event of a tenant that does not exist is only logged."""
    entry = event(
        runtime.clock(),
        operation,
        outcome,
        user=user,
        application=application,
        detail=detail,
        error=error,
    )
    if store.tenant_exists():
        runtime.database.record(store, entry)
    log.info(
        "%s %s %s: %s%s",
        store.tenant,
        operation,
        outcome,
        user or "-",
        f" ({entry.message})" if entry.message else "",
    )
