"""Where things are: the repository's root and the tests' data files."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root (its ``pyproject.toml``, ``fixtures/``, ``docker/``)."""
DATA = ROOT / "tests" / "data"
"""The tests' data files (the seed request, fixture files)."""
