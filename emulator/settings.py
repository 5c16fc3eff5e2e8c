"""Settings of one emulator instance: a frozen dataclass, built by the CLI or by a test."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

Mode = Literal["onsite", "online"]

TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A tenant name, in paths and the admin API: letters, digits, ``_`` and ``-``; no dots or slashes."""


def default_fixtures() -> Path:
    """The fixture file shipped with the package (``fixtures/default.yaml`` in the source tree)."""
    return Path(str(resources.files("emulator.fixtures").joinpath("default.yaml")))


@dataclass(frozen=True)
class Settings:
    """Everything an instance can be told; every field has a default that just works."""

    database_url: str = "sqlite:///superoffice-emulator.db"
    """SQLAlchemy URL; a SQLite file by default, ``postgresql+psycopg://...`` for a shared server."""
    fixtures: Path = dataclasses.field(default_factory=default_fixtures)
    """The YAML or JSON file every tenant is created from and reset to."""
    mode: Mode = "onsite"
    """``onsite``: application tokens are not checked; ``online``: a registered token is required."""
    wrap_exceptions: bool = True
    """Mirror of NetServer's ``WrapExceptions``: failures in ``ExceptionInfo`` (True) or as SOAP Faults."""
    strict: bool = False
    """Turn the documented silent no-op for a nonexistent or invalid id into a failure."""
    ticket_lifetime_seconds: int = 6 * 3600
    """Sliding expiry window of a ticket; every use restarts it."""
    journal_size: int = 1000
    """How many calls the request journal keeps per tenant (oldest dropped first)."""
    admin_token: str | None = None
    """When set, the admin API under ``/_emulator/`` requires ``Authorization: Bearer <token>``."""
    max_body_bytes: int = 1024 * 1024
    """Requests with a larger body are refused with HTTP 413."""
    request_timeout: float = 30.0
    """Seconds a request body may take to arrive before it is answered 408 (granian only), and that
    an idle keep-alive connection is kept open."""
    default_tenant: str = "default"

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
