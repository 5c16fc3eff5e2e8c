"""A clock the test moves by hand, for ``create_app(settings, clock=...)``: never sleep to test expiry."""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    """A clock the test moves by hand: never sleep to test expiry."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
