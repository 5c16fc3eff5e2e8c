"""Settings for tests that need every field set."""

from __future__ import annotations

from pathlib import Path

from superoffice_emulator.settings import Settings


def every_setting_changed(tmp_path: Path) -> Settings:
    """Settings with every field but the fixture file away from its default (a test holds that)."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        mode="online",
        contract="netserver",
        wrap_exceptions=False,
        strict=True,
        ticket_lifetime_seconds=60,
        journal_size=7,
        journal_body_bytes=0,
        max_tenants=3,
        admin_token="secret",
        sign_in_as="sam",
        request_timeout=2.5,
        max_body_bytes=4096,
        allowed_hosts=("crm.test", "other.test"),
        cors_origins=("https://app.example.com", "http://localhost:3000"),
        default_tenant="Cust12345",
        tls=True,
        tls_names=("crm.test", "10.1.2.3"),
        tls_dir=tmp_path / "tls",
        webhook_log_size=9,
        webhook_fast_retries=True,
    )
