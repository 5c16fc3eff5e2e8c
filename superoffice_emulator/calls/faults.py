"""Fault injection: make the next calls (or the calls touching given ids) fail on purpose.

The admin API adds :class:`FaultRule` objects to a tenant's plan, kept in the database
(:mod:`superoffice_emulator.storage.faults`, the same for every worker process); every call
(:mod:`superoffice_emulator.calls.pipeline`) takes its rule once, in its own transaction, and applies what
it gets:

- ``sentry`` and ``session`` raise the NetServer exception, so they come back exactly as a real
  refusal would (wrapped, or as a Fault with ``WrapExceptions`` off); nothing is written;
- ``latency`` sleeps ``latency_ms`` and then lets the call go on normally;
- ``http500``/``http503``, ``drop`` (close the connection without an answer) and ``malformed``
  (an answer that does not parse) are transport faults: the wire answers them instead of its answer
  (:class:`superoffice_emulator.calls.pipeline.Injected`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from superoffice_emulator.domain.activities import parse_identifier
from superoffice_emulator.domain.errors import SoSentryException, SoSessionException

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


class TransportFault(Exception):
    """Raised by a call to make the wire answer with a transport fault instead of its answer."""

    def __init__(self, rule: FaultRule, kind: TransportKind) -> None:
        super().__init__(kind)
        self.rule = rule
        self.kind: TransportKind = kind


def apply(rule: FaultRule | None, user: str | None) -> None:
    """Make the call fail (or wait) as ``rule`` says; does nothing for ``None``."""
    if rule is None:
        return
    if rule.kind == "latency":
        time.sleep(rule.latency_ms / 1000)
    elif rule.kind == "sentry":
        ids = ", ".join(sorted(rule.identifiers)) or "the activities"
        raise SoSentryException(
            f"Sentry denies update of {ids} for associate {user or '?'} (injected fault); "
            "no changes were made.",
            friendly_text="You do not have access to change these activities.",
            parameters={"ActivityIdentifier": ids, "Injected": "true"},
        )
    elif rule.kind == "session":
        raise SoSessionException(
            "The ticket is not valid (injected fault). Authenticate again.",
            friendly_text="Your session is not valid. Please log in again.",
        )
    else:  # the transport faults
        raise TransportFault(rule, rule.kind)
