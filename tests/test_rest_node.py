"""End to end with SuperOffice's own TypeScript client, ``@superoffice/webapi`` from the npm registry.

``tests/node/set_activity_status.js`` drives the client, unchanged (``new WebApi(base)``,
``authenticateWithTicket``, ``getAppointmentAgent().setActivityStatusAsync``), against a live
server. The modules come from ``tests/node/package-lock.json`` (``npm ci`` in that folder, which
``make test`` runs wherever npm is, as ``.ci/run`` does). Without node or the modules these tests
skip, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer
from tests.support.clock import FakeClock
from tests.support.database import database_url, read_row, snapshot
from tests.support.soap import DEMO_TICKET, RITA_TICKET, TOKEN

NODE_PROJECT = Path(__file__).parent / "node"
SCRIPT = NODE_PROJECT / "set_activity_status.js"
MIX = ["appointment_id=666", "sale_id=3", "document_id=4", "todo_id=5"]


def _node() -> str:
    """The node binary, with the client installed; else skip (or, under CI, fail) saying why."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        missing = "node and npm are not installed: apt-get install -y nodejs npm (then make test)"
    elif not (NODE_PROJECT / "node_modules" / "@superoffice" / "webapi" / "package.json").exists():
        missing = f"@superoffice/webapi is not installed: make test installs it (npm ci in {NODE_PROJECT})"
    else:
        return node
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the TypeScript client tests must run, but {missing}", pytrace=False)
    pytest.skip(missing)


@pytest.fixture(scope="module")
def node() -> str:
    return _node()


def run_client(node: str, **options: Any) -> dict[str, Any]:
    """One call through the TypeScript client; its resolved value or its rejection's status and body."""
    done = subprocess.run(
        [node, str(SCRIPT), json.dumps(options)],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def online(db_path: Path, clock: FakeClock) -> Iterator[LiveServer]:
    with LiveServer(Settings(database_url=database_url(db_path), mode="online"), clock=clock) as server:
        yield server


def test_the_typescript_client_completes_a_mix_of_all_four_kinds(
    node: str, live: LiveServer, db_path: Path
) -> None:
    result = run_client(node, base=live.url("/Cust1"), ticket=DEMO_TICKET, ids=MIX, status="Completed")
    assert result["ok"] is True, result
    for kind, number in (("appointment", 666), ("sale", 3), ("document", 4), ("todo", 5)):
        row = read_row(db_path, kind, number, tenant="Cust1")
        assert row["status"] == 3 and row["done"] is not None and row["updated_associate_id"] == 1


def test_a_sentry_refusal_rejects_with_403_and_the_exception_info(
    node: str, live: LiveServer, db_path: Path
) -> None:
    live.app.runtime.database.ensure_tenant("Cust1")
    before = snapshot(db_path)
    result = run_client(node, base=live.url("/Cust1"), ticket=RITA_TICKET, ids=MIX, status="Completed")
    assert result["ok"] is False and result["status"] == 403
    assert result["data"]["ExceptionType"] == "SuperOffice.Exceptions.SoSentryException"
    assert result["data"]["Parameters"]["ActivityIdentifier"] == "appointment_id=666"
    assert snapshot(db_path) == before


def test_an_unknown_ticket_rejects_with_401(node: str, live: LiveServer, db_path: Path) -> None:
    live.app.runtime.database.ensure_tenant("Cust1")
    before = snapshot(db_path)
    result = run_client(node, base=live.url("/Cust1"), ticket="7T:neverIssued==", ids=MIX, status="Completed")
    assert result["ok"] is False and result["status"] == 401
    assert result["data"]["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"
    assert "unknown" in result["data"]["Message"]
    assert snapshot(db_path) == before


def test_online_with_the_application_token(node: str, online: LiveServer, db_path: Path) -> None:
    base = online.url("/Cust12345")
    with_ticket = run_client(
        node, base=base, ticket=DEMO_TICKET, applicationToken=TOKEN, ids=["sale_id=3"], status="Completed"
    )
    assert with_ticket["ok"] is True, with_ticket
    with_token = run_client(
        node,
        base=base,
        accessToken="8A:Cust12345.SamSalesrepAccessToken",
        applicationToken=TOKEN,
        ids=["todo_id=7"],
        status="Started",
    )
    assert with_token["ok"] is True, with_token
    assert read_row(db_path, "sale", 3, tenant="Cust12345")["status"] == 3
    assert read_row(db_path, "todo", 7, tenant="Cust12345")["updated_associate_id"] == 2
    without = run_client(node, base=base, ticket=DEMO_TICKET, ids=["sale_id=4"], status="Completed")
    assert without["ok"] is False and without["status"] == 401
    assert "ApplicationToken" in without["data"]["Message"]
    assert read_row(db_path, "sale", 4, tenant="Cust12345")["status"] != 3
