"""What one running emulator holds: its settings, its database and its clock."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import timedelta

from superoffice_emulator.domain.clock import Clock, utcnow
from superoffice_emulator.settings import Contract, Settings
from superoffice_emulator.storage.database import Database, FaultPlan


@dataclass
class Runtime:
    settings: Settings
    database: Database
    clock: Clock = field(default=utcnow)
    contracts: dict[str, Contract] = field(default_factory=dict)
    """Tenants that read requests under another contract mode than the setting's (the pytest
    plugin's ``superoffice_contract`` marker)."""

    def contract(self, tenant: str) -> Contract:
        """The contract mode requests to ``tenant`` are read under."""
        return self.contracts.get(tenant, self.settings.contract)

    def fault_plan(self, tenant: str) -> FaultPlan:
        """``tenant``'s injected fault rules, in the database: one plan for every worker process."""
        return self.database.fault_plan(tenant)

    def context_identifier(self, tenant: str) -> str:
        """The ``ContextIdentifier`` of ``tenant``'s webhook events: ``Default`` for an onsite
        installation's default tenant (as NetServer's on-site samples show), else its name."""
        if self.settings.mode == "onsite" and tenant == self.settings.default_tenant:
            return "Default"
        return tenant

    @functools.cached_property
    def ticket_lifetime(self) -> timedelta:
        return timedelta(seconds=self.settings.ticket_lifetime_seconds)
