"""The wheel carries every package of the source tree: a folder left out of pyproject.toml's list
would install an emulator that cannot import itself."""

from __future__ import annotations

import tomllib

from tests.support.paths import ROOT


def test_every_package_of_the_source_tree_is_in_the_wheel() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    source = ROOT / "superoffice_emulator"
    found = {
        ".".join(("superoffice_emulator", *folder.relative_to(source).parts)).rstrip(".")
        for folder in [source, *(path for path in source.rglob("*") if path.is_dir())]
        if "__pycache__" not in folder.parts and any(folder.iterdir())
    }
    assert found - listed == set()
    assert set(setuptools["package-dir"]) <= listed  # the fixtures, kept in fixtures/
