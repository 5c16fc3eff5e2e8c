"""A browser app on another site calls the REST API from Chromium (Playwright), as SuperOffice Online
lets the origins an app registered do.

One page server answers under two host names the browser resolves to this machine:
``http://app.test:<port>``, which the fixtures register in ``demo-app``'s ``allowed_origins``, and
``http://evil.test:<port>``, which nobody registered. Both are other sites than the emulator's
``http://127.0.0.1:<port>``. The page runs ``fetch()`` with a fixture access token (Bearer) alone,
as a browser app does (it holds no client secret), in online mode. Skipped as the dashboard's browser test is
(``tests/support/browser.py``).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from superoffice_emulator.settings import Settings, default_fixtures
from superoffice_emulator.testing import LiveServer
from tests.support.browser import chromium
from tests.support.database import read_row
from tests.support.http import send

TOKEN = "8A:Cust12345.DemoAdministratorAccessToken"
CALL = "/Cust12345/api/v1/Agents/Appointment/SetActivityStatus"
BODY = '{"ActivityIdentifier": ["appointment_id=7"], "ActivityStatus": "Completed"}'
STARTED, COMPLETED = 2, 3

FETCH = """async ([url, method, headers, body]) => {
    try {
        const answer = await fetch(url, {method, headers, body});
        return {status: answer.status, text: await answer.text()};
    } catch (error) {
        return {error: String(error)};
    }
}"""
"""What the app's page runs: a call, and what the page could read of its answer (or why not)."""


class Page(http.server.BaseHTTPRequestHandler):
    """An almost empty page: the app's script runs in it through Playwright."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>A browser app</title><p>app</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def pages() -> Iterator[int]:
    """The page server's port (the same for app.test and evil.test)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def emulator(settings: Settings, pages: int, tmp_path: Path) -> Iterator[LiveServer]:
    """Online mode, with the demo data whose demo-app also registered ``http://app.test:<port>``."""
    data = yaml.safe_load(default_fixtures().read_text(encoding="utf-8"))
    (demo_app,) = [a for a in data["applications"] if a["client_id"] == "demo-app"]
    demo_app["allowed_origins"] = [*demo_app["allowed_origins"], f"http://app.test:{pages}"]
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text(yaml.safe_dump(data), encoding="utf-8")
    with LiveServer(settings.replace(mode="online", fixtures=fixtures)) as live:
        yield live


def run(browser: Any, page_url: str, url: str, method: str, headers: dict[str, str], body: str | None) -> Any:
    """``fetch()`` in a page at ``page_url``: what the page could read of the answer, or the error."""
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(page_url)
        return tab.evaluate(FETCH, [url, method, headers, body])
    finally:
        context.close()


def set_status(browser: Any, page_url: str, emulator: LiveServer) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return run(browser, page_url, emulator.url(CALL), "POST", headers, BODY)


def status_of(db_path: Path) -> int:
    return int(read_row(db_path, "appointment", 7, tenant="Cust12345")["status"])


def test_the_registered_apps_page_sets_the_status_and_reads_the_answers(
    browser: Any, pages: int, emulator: LiveServer, db_path: Path
) -> None:
    app = f"http://app.test:{pages}/"

    answer = set_status(browser, app, emulator)

    assert answer == {"status": 204, "text": ""}
    assert status_of(db_path) == COMPLETED
    me = run(
        browser,
        app,
        emulator.url("/Cust12345/api/v1/User/currentPrincipal"),
        "GET",
        {"Authorization": f"Bearer {TOKEN}"},
        None,
    )
    assert me["status"] == 200 and '"Associate": "demo"' in me["text"]


def test_an_unregistered_sites_page_is_blocked_and_the_row_is_unchanged(
    browser: Any, pages: int, emulator: LiveServer, db_path: Path
) -> None:
    evil = f"http://evil.test:{pages}/"
    assert send(emulator, "POST", "/Cust12345/_emulator/reset")[0] == 200  # the tenant exists
    assert "error" in run(browser, evil, emulator.url("/api/state/Cust12345"), "GET", {}, None)  # unread
    before = status_of(db_path)

    answer = set_status(browser, evil, emulator)
    form = run(  # what a form may send with no preflight: text/plain, no credentials
        browser,
        evil,
        emulator.url(CALL),
        "POST",
        {"Content-Type": "text/plain"},
        BODY,
    )

    assert "error" in answer and "status" not in answer
    assert "error" in form
    assert before == STARTED
    assert status_of(db_path) == STARTED
