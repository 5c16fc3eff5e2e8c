"""What one running emulator holds: its settings, its database and its clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from emulator.clock import Clock, utcnow
from emulator.settings import Settings
from emulator.storage.database import Database


@dataclass
class Runtime:
    settings: Settings
    database: Database
    clock: Clock = field(default=utcnow)

    @property
    def ticket_lifetime(self) -> timedelta:
        return timedelta(seconds=self.settings.ticket_lifetime_seconds)
