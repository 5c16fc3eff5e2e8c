"""Fault injection: make the next calls (or the calls touching given ids) fail on purpose.

The admin API adds :class:`FaultRule` objects to a tenant's plan, kept in the database
(:mod:`superoffice_emulator.storage.faults`, one plan for every worker process). A call takes its
rule in its own transaction (:func:`superoffice_emulator.calls.pipeline.run`):

- ``sentry`` and ``session`` answer the NetServer exception (:func:`failure`), as a real refusal;
- ``latency`` lets the call go on, and its reply waits ``latency_ms`` after the commit;
- ``http500``/``http503``, ``drop`` (the connection closed without a reply) and ``malformed`` (a
  reply that does not parse) are transport faults, which the wire answers instead of its reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from superoffice_emulator.domain.activities import parse_identifier
from superoffice_emulator.domain.errors import SoException, SoSentryException, SoSessionException

FaultKind = Literal["sentry", "session", "latency", "http500", "http503", "drop", "malformed"]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "sentry",
    "session",
    "latency",
    "http500",
    "http503",
    "drop",
    "malformed",
)
TransportKind = Literal["http500", "http503", "drop", "malformed"]
TRANSPORT_KINDS: tuple[TransportKind, ...] = ("http500", "http503", "drop", "malformed")


@dataclass
class FaultRule:
    """Fail the next ``count`` matching calls (``None``: every matching call until removed)."""

    kind: FaultKind
    count: int | None = 1
    identifiers: frozenset[str] = frozenset()
    """Only calls that name one of these (normalised, e.g. ``appointment_id=666``); empty: any call."""
    operation: str | None = None
    latency_ms: int = 0
    id: int = 0

    def matches(self, operation: str, identifiers: Sequence[str | None]) -> bool:
        if self.operation is not None and self.operation != operation:
            return False
        if not self.identifiers:
            return True
        named = {str(a) for a in map(parse_identifier, identifiers) if a is not None}
        return bool(named & self.identifiers)


def failure(rule: FaultRule, user: str | None) -> SoException:
    """The NetServer exception a ``sentry`` or ``session`` fault answers, as a real refusal would be."""
    if rule.kind == "session":
        return SoSessionException(
            "The ticket is not valid (injected fault). Authenticate again.",
            friendly_text="Your session is not valid. Please log in again.",
        )
    ids = ", ".join(sorted(rule.identifiers)) or "the activities"
    return SoSentryException(
        f"Sentry denies update of {ids} for associate {user or '?'} (injected fault); no changes were made.",
        friendly_text="You do not have access to change these activities.",
        parameters={"ActivityIdentifier": ids, "Injected": "true"},
    )
