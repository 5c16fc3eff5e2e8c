"""The lock is what gets installed: `make test` and `.ci/run` run on exactly requirements/*.txt."""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

REQUIREMENTS = Path(__file__).parent.parent / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")

pytestmark = pytest.mark.skipif(
    os.environ.get("EMULATOR_UNLOCKED") == "1", reason="make test-latest runs on the newest releases"
)


def pins(name: str) -> dict[str, str]:
    """The lock file's pins that apply to this interpreter, by canonical name."""
    found: dict[str, str] = {}
    for line in (REQUIREMENTS / name).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match and (match.group(3) is None or Marker(match.group(3)).evaluate()):
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}


def test_the_lock_pins_every_package_with_hashes() -> None:
    for name in ("runtime.txt", "dev.txt", "build.txt"):
        text = (REQUIREMENTS / name).read_text(encoding="utf-8")
        assert pins(name), name
        requirements = [line for line in text.splitlines() if PIN.match(line)]
        assert text.count("--hash=sha256:") >= len(requirements), name


def test_runtime_lock_agrees_with_the_dev_lock() -> None:
    dev = pins("dev.txt")
    for package, version in pins("runtime.txt").items():
        assert dev.get(package) == version, package


def test_every_installed_package_is_the_locked_version_and_nothing_else_is_installed() -> None:
    locked = pins("dev.txt") | pins("build.txt")
    have = installed()
    wrong = {p: (have.get(p), v) for p, v in locked.items() if have.get(p) != v}
    assert not wrong, f"installed vs locked: {wrong}; run make install (or make lock, then commit)"
    unlocked = set(have) - set(locked) - {"pip", "superoffice-emulator"}
    assert not unlocked, f"installed but not in the lock: {sorted(unlocked)}"
