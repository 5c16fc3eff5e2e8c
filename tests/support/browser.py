"""Debian's chromium, driven by Playwright, for the browser tests (the registries give no browser
download; never ``playwright install``)::

    sync_api = playwright()  # at the top of the test module: skips it when either is missing

    @pytest.fixture(scope="module")
    def browser() -> Iterator[Any]:
        with chromium(sync_api) as launched:
            yield launched

Under CI (``CI`` set) a missing chromium fails instead: a skip there would hide a gap.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def playwright() -> ModuleType:
    """``playwright.sync_api``; or the calling test module is skipped, saying what is missing."""
    if os.environ.get("CI") and not CHROMIUM.exists():
        raise RuntimeError(f"CI must install {CHROMIUM} (apt-get install -y chromium) for the browser test")
    sync_api: ModuleType = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright for Python is not installed: pip install -e '.[browser]' (uses /usr/bin/chromium)",
    )
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: apt-get install -y chromium (Playwright drives the system browser)",
            allow_module_level=True,
        )
    return sync_api


@contextmanager
def chromium(sync_api: ModuleType, *args: str) -> Iterator[Any]:
    """The system chromium, headless, with :data:`CHROMIUM_ARGS` and ``args``."""
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *args], headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
