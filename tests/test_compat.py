"""The spyne compatibility layer: spyne 2.14 imports and generates a WSDL on this Python."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error::ImportWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,  # where the contract package lies
    )


def test_spyne_imports_after_the_compat_layer() -> None:
    result = run(
        "from contract import spyne_compat; spyne_compat.apply(); spyne_compat.apply()\n"
        "import spyne, spyne.util.six.moves\n"
        "from spyne.protocol.soap import Soap11\n"
        "from spyne.server.wsgi import WsgiApplication\n"
        "print(spyne.__version__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("2.14")


def test_without_the_layer_spyne_does_not_import_cleanly() -> None:
    """Proves the layer is still needed; if this starts failing, spyne was fixed upstream."""
    result = run("import spyne")
    assert result.returncode != 0
    assert "find_spec" in result.stderr or "six.moves" in result.stderr
