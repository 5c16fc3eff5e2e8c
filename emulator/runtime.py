"""What one running emulator holds: its settings, its database and its clock."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import timedelta

from emulator.clock import Clock, utcnow
from emulator.faults import FaultPlan
from emulator.settings import Contract, Settings
from emulator.storage.database import Database


@dataclass
class Runtime:
    settings: Settings
    database: Database
    clock: Clock = field(default=utcnow)
    faults: dict[str, FaultPlan] = field(default_factory=dict)
    """Fault rules per tenant (in memory, per process)."""
    contracts: dict[str, Contract] = field(default_factory=dict)
    """Tenants that read requests under another contract mode than the setting's (the pytest
    plugin's ``superoffice_contract`` marker)."""

    def contract(self, tenant: str) -> Contract:
        """The contract mode requests to ``tenant`` are read under."""
        return self.contracts.get(tenant, self.settings.contract)

    def fault_plan(self, tenant: str) -> FaultPlan:
        plan = self.faults.get(tenant)  # asked on every call: no new FaultPlan when there is one
        return plan if plan is not None else self.faults.setdefault(tenant, FaultPlan())

    @functools.cached_property
    def ticket_lifetime(self) -> timedelta:
        return timedelta(seconds=self.settings.ticket_lifetime_seconds)
