"""Debian's chromium, driven by Playwright, for the browser tests.

Needs the ``browser`` extra and the system chromium (the registries give no browser download; never
``playwright install``)::

    apt-get install -y chromium
    pip install -e '.[test,browser]'

Importing this module skips the importing test module, saying which is missing, when either is
(and fails under ``CI``, where both must be installed: a skip there would hide a gap).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SITES = ("evil.test", "app.test")
"""Host names the browser resolves to this machine: sites of their own, for cross-site pages."""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=" + ",".join(f"MAP {site} 127.0.0.1" for site in SITES),
]

if os.environ.get("CI") and not CHROMIUM.exists():
    raise RuntimeError(f"CI must install {CHROMIUM} (apt-get install -y chromium) for the browser tests")
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright for Python is not installed: pip install -e '.[browser]' (uses /usr/bin/chromium)",
)
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: apt-get install -y chromium (Playwright drives the system browser)",
        allow_module_level=True,
    )


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium, closed after the block."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
