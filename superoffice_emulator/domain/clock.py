"""Time, injectable: the emulator asks a ``Clock`` for now, so tests can move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Now, in UTC, as the naive datetime the database stores."""
    return datetime.now(UTC).replace(tzinfo=None)
