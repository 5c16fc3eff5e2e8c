"""Every runnable example in README.md and docs/*.md works as written, against a live emulator.

Which blocks run: a fenced block whose info string is ``<language> example=<name>``, e.g.
````` ```sh example=rest-403 `````. Renderers read only the first word, so the page shows an
ordinary ``sh`` block. Languages:

- ``sh``: run by ``bash`` with ``set -euo pipefail`` from the repository's root, so that paths
  such as ``docs/examples/my-data.yaml`` are the ones a user of a checkout has;
- ``python``: run by this interpreter (zeep is among the test packages);
- ``ts``: saved as ``try.ts`` in a folder under ``tests/node`` (whose ``npm ci`` installs
  ``@superoffice/webapi`` and ``typescript``), compiled with the command ``docs/rest.md`` gives,
  and run with node; without node, npm or those packages the test skips saying why (fails under CI).

Each example gets a fresh emulator (:class:`~superoffice_emulator.testing.LiveServer` on a new
SQLite file, default settings or those :data:`SETTINGS` gives it); ``127.0.0.1:8080`` in its
text becomes that server's address.
It must exit 0 with no traceback and no admin API error (``{"error": ...}``), and its output
must hold every text :data:`EXPECTED` lists under its name.

Blocks without ``example=`` are shown, not run here: commands that start or build things
(``make run``, ``docker``), the pytest example (run by ``tests/test_plugin.py`` and
``.ci/install-check``) and the Testcontainers one (it needs a Docker engine; ``.ci/docker``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer
from tests.support.database import database_url
from tests.support.paths import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NODE_PROJECT = ROOT / "tests" / "node"
WRITTEN_ADDRESS = "127.0.0.1:8080"

EXPECTED: dict[str, list[str]] = {
    "soap-curl": [">true</Succeeded>", "SetActivityStatusResponse"],
    "soap-12": [">true</Succeeded>", "http://www.w3.org/2003/05/soap-envelope"],
    "zeep": ["Succeeded: three activities are Completed"],
    "rest-curl": ["HTTP/1.1 204"],
    "rest-403": ["SuperOffice.Exceptions.SoSentryException", "HTTP 403"],
    "admin": ['"status": "ok"', "Cust12345"],
    "typescript": ["Completed: appointment 666, sale 3, document 4, todo 5"],
    "system-user-curl": ['"IsSuccessful": true', '"ErrorMessage": null'],
    "system-user": ["IsSuccessful: True", "Succeeded: appointment 666 is Completed"],
    "online-app": ["REST as the signed-in user: 204", "SOAP as the system user: True"],
    "webhook": ["registered, state Active", "signature ok: True", '"PrimaryKey": 666'],
}
"""Per example name, texts its output must contain: what the page says the reader will see."""
SETTINGS: dict[str, dict[str, Any]] = {"online-app": {"mode": "online", "sign_in_as": "demo"}}
"""Per example name, the settings of the server its page starts (default settings otherwise)."""

FENCE = re.compile(r"^```(\w+) example=([\w-]+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    language: str
    name: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}:{self.name}"


def examples() -> list[Example]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Example(page, line, match.group(1), match.group(2), match.group(3)))
    return found


EXAMPLES = examples()


def test_every_example_has_its_expectations_and_every_expectation_its_example() -> None:
    assert {example.language for example in EXAMPLES} <= {"sh", "python", "ts"}
    assert {example.name for example in EXAMPLES} == set(EXPECTED)


def _node_and_compiler() -> tuple[str, Path]:
    """node and TypeScript's compiler from ``tests/node``; else skip (under CI: fail) saying why."""
    node = shutil.which("node")
    compiler = NODE_PROJECT / "node_modules" / "typescript" / "bin" / "tsc"
    client = NODE_PROJECT / "node_modules" / "@superoffice" / "webapi" / "package.json"
    if node is None or shutil.which("npm") is None:
        missing = "node and npm are not installed"
    elif not compiler.exists() or not client.exists():
        missing = f"@superoffice/webapi and typescript are not installed: run `npm ci` in {NODE_PROJECT}"
    else:
        return node, compiler
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the TypeScript example must run, but {missing}", pytrace=False)
    pytest.skip(missing)


def _run(example: Example, code: str) -> subprocess.CompletedProcess[str]:
    def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180)

    if example.language == "sh":
        return run(["bash", "-c", "set -euo pipefail\n" + code], ROOT)
    if example.language == "python":
        return run([sys.executable, "-c", code], ROOT)
    node, compiler = _node_and_compiler()
    folder = Path(tempfile.mkdtemp(prefix=".docs-example-", dir=NODE_PROJECT))
    try:
        (folder / "try.ts").write_text(code, encoding="utf-8")
        options = ["--target", "es2022", "--module", "commonjs", "--strict"]  # as docs/rest.md says
        compiled = run([node, str(compiler), *options, "try.ts"], folder)
        if compiled.returncode != 0:
            return compiled
        return run([node, "try.js"], folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_the_example_works_as_written(example: Example, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url(tmp_path / "docs.db"), **SETTINGS.get(example.name, {}))
    with LiveServer(settings) as server:
        code = example.code.replace(WRITTEN_ADDRESS, f"{server.host}:{server.port}")
        done = _run(example, code)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output, output
    assert '{"error":' not in done.stdout.replace(" ", ""), output  # the admin API's refusals
    for expected in EXPECTED[example.name]:
        assert expected in done.stdout, f"{example.id} should print {expected!r}; it printed:\n{output}"


def test_the_example_fixtures_pass_the_check() -> None:
    command = [sys.executable, "-m", "superoffice_emulator", "load-fixtures", "docs/examples/my-data.yaml"]
    done = subprocess.run([*command, "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
