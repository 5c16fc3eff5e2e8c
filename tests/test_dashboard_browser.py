"""The dashboard in a real browser: Debian's chromium, driven by Playwright, against a live emulator.

Needs the ``browser`` extra and the system chromium (the registries give no browser download; never
``playwright install``)::

    apt-get install -y chromium
    pip install -e '.[test,browser]'

The module is skipped, saying which is missing, when either is. It writes a screenshot of the page to
``artifacts/dashboard.png``; ``docs/dashboard.png`` (the README's copy) is written when it is missing,
or replaced when ``EMULATOR_UPDATE_SCREENSHOTS=1``, so a plain test run leaves the repository as it was.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zeep
from zeep.transports import Transport

from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer
from tests.support.paths import DATA
from tests.support.soap import APPOINTMENT, DEMO_TICKET, RITA_TICKET, TOKEN

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP evil.test 127.0.0.1",  # a site of its own, for the cross-site test
]
REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "artifacts" / "dashboard.png"
DOCS_SCREENSHOT = REPO / "docs" / "dashboard.png"
WAIT_MS = 10_000  # the page polls the journal every second and refreshes activities every four

if os.environ.get("CI") and not CHROMIUM.exists():  # CI installs both: a skip there would hide a gap
    raise RuntimeError(f"CI must install {CHROMIUM} (apt-get install -y chromium) for the browser test")
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright for Python is not installed: pip install -e '.[browser]' (uses /usr/bin/chromium)",
)
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: apt-get install -y chromium (Playwright drives the system browser)",
        allow_module_level=True,
    )

expect = sync_api.expect
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


class Watched:
    """A page, with everything it requested and every error it logged, to assert on at the end."""

    def __init__(self, page: Any, server: LiveServer) -> None:
        self.page = page
        self.server = server
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )

    def open(self, path: str) -> Any:
        self.page.goto(self.server.url(path))
        # A mark on the window: if the page reloads, it is gone.
        self.page.evaluate("window.__sameDocument = true")
        return self.page

    def assert_clean(self) -> None:
        assert self.page.evaluate("window.__sameDocument") is True, "the page was reloaded"
        assert self.errors == []
        outside = [url for url in self.requests if not url.startswith(self.server.url("/"))]
        assert outside == [], "the page fetched something outside the emulator"


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    """A live emulator on the real clock (the journal's times in the screenshot are real ones)."""
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def watched(browser: Any, server: LiveServer) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield Watched(context.new_page(), server)
    finally:
        context.close()


def soap(
    server: LiveServer,
    identifier: str,
    status: str = "Completed",
    *,
    ticket: str = DEMO_TICKET,
    tenant: str | None = None,
) -> Any:
    """SetActivityStatus through zeep, built from the served WSDL (of the tenant, if one is given)."""
    path = APPOINTMENT if tenant is None else f"/{tenant}{APPOINTMENT}"
    client = zeep.Client(server.url(path) + "?wsdl", transport=Transport(timeout=10, operation_timeout=10))
    return client.service.SetActivityStatus(
        ActivityIdentifier={"string": [identifier]},
        ActivityStatus=status,
        _soapheaders={"ApplicationToken": TOKEN, "Credentials": {"Ticket": ticket}},
    )


def test_a_status_change_and_its_call_show_up_live_and_reset_undoes_them(watched: Watched) -> None:
    page = watched.open("/_emulator/ui")
    expect(page.locator("#tenant-name")).to_have_text("default")
    expect(page.locator("#version")).to_contain_text("version ")

    page.locator("#search").fill("666")
    row = page.locator('#activities tr[data-identifier="appointment_id=666"]')
    expect(row).to_have_attribute("data-status", "NotStarted")
    expect(row.locator(".status")).to_have_text("Not started")
    expect(page.locator("#activities tr")).to_have_count(1)

    soap(watched.server, "appointment_id=666")

    expect(row).to_have_attribute("data-status", "Completed")
    expect(row.locator(".status")).to_have_text("Completed")
    entry = page.locator("#journal li").first
    expect(entry).to_have_attribute("data-outcome", "ok")
    expect(entry).to_contain_text("SetActivityStatus")
    expect(entry).to_contain_text("appointment_id=666")
    expect(entry).to_contain_text("→ Completed")

    # A fault armed from the page hits the next call on its identifier, and the journal says so.
    page.get_by_role("button", name="Inject fault").first.click()
    page.locator("#fault-kind").select_option("http503")
    page.locator("#fault-identifiers").fill("appointment_id=2")
    page.locator("#fault-submit").click()
    expect(page.locator("#faults-active")).to_have_text("1")
    with pytest.raises(Exception, match="503"):
        soap(watched.server, "appointment_id=2")
    expect(page.locator('#journal li[data-outcome="injected http503"]')).to_have_count(1)
    expect(page.locator("#faults-active")).to_be_hidden()

    # A refused call and a few more, so that the screenshot shows the journal's colours.
    soap(watched.server, "appointment_id=2", ticket=RITA_TICKET)  # read-only: Sentry refuses
    soap(watched.server, "appointment_id=1")
    soap(watched.server, "appointment_id=4", "Started")
    expect(page.locator("#journal li")).to_have_count(5)
    expect(page.locator('#journal li[data-outcome="failed"]')).to_have_count(1)

    page.locator("#filters-clear").click()
    expect(page.locator('#activities tr[data-identifier="appointment_id=1"]')).to_have_attribute(
        "data-status", "Completed"
    )
    expect(page.locator('#kinds [data-kind="appointment"] .kind-done')).not_to_have_text("")
    expect(page.locator("#toast")).to_be_hidden()
    screenshot(page)

    page.locator("#search").fill("666")
    expect(page.locator("#activities tr")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#reset-button").click()
    expect(row).to_have_attribute("data-status", "NotStarted")
    expect(row.locator(".status")).to_have_text("Not started")
    expect(page.locator("#journal li")).to_have_count(0)
    expect(page.locator("#journal-empty")).to_be_visible()
    watched.assert_clean()


def test_declining_the_confirmation_resets_nothing(watched: Watched) -> None:
    page = watched.open("/_emulator/ui/")
    soap(watched.server, "appointment_id=666")
    page.locator("#search").fill("appointment_id=666")
    row = page.locator('#activities tr[data-identifier="appointment_id=666"]')
    expect(row).to_have_attribute("data-status", "Completed")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#reset-button").click()
    expect(page.locator("#journal li")).to_have_count(1)
    expect(row).to_have_attribute("data-status", "Completed")
    watched.assert_clean()


def test_a_tenant_page_shows_that_tenant_only(watched: Watched) -> None:
    page = watched.open("/Cust1/_emulator/ui")
    expect(page.locator("#tenant-name")).to_have_text("Cust1")
    page.locator("#search").fill("666")
    row = page.locator('#activities tr[data-identifier="appointment_id=666"]')
    expect(row).to_have_attribute("data-status", "NotStarted")

    soap(watched.server, "appointment_id=666")  # the default tenant, not Cust1
    soap(watched.server, "appointment_id=666", "Started", tenant="Cust1")
    expect(row).to_have_attribute("data-status", "Started")
    expect(page.locator("#journal li")).to_have_count(1)
    expect(page.locator("#journal li").first).to_contain_text("→ Started")
    watched.assert_clean()


def test_a_call_netserver_would_refuse_is_marked_with_its_sentences(watched: Watched) -> None:
    page = watched.open("/_emulator/ui/")
    soap(watched.server, "appointment_id=1")  # as NetServer takes it: no mark
    seed = (DATA / "seed_request.xml").read_bytes()  # lenient reads it, and says where NetServer differs
    request = urllib.request.Request(
        watched.server.url(APPOINTMENT), data=seed, headers={"Content-Type": "application/soap+xml"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    expect(page.locator("#journal > li")).to_have_count(2)
    marked = page.locator("#journal > li.contract-warned")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-warnings", "3")
    expect(marked.locator(".badge.contract")).to_have_text("3 contract warnings")
    expect(marked.locator(".entry-warnings li")).to_have_count(3)
    expect(marked.locator(".entry-warnings li").first).to_contain_text("HTTP 415")
    expect(page.locator('#journal > li[data-warnings="0"]')).to_have_count(1)
    watched.assert_clean()


def test_a_protected_api_asks_for_the_token_once_and_remembers_it(browser: Any, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'crm.db'}", admin_token="s3cret-token")
    with LiveServer(settings) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            watched = Watched(context.new_page(), server)
            page = watched.open("/_emulator/ui/")
            dialog = page.locator("#token-dialog")
            expect(dialog).to_be_visible()
            page.locator("#token-input").fill("s3cret-token")
            page.get_by_role("button", name="Use token").click()
            expect(dialog).to_be_hidden()
            expect(page.locator("#tenant-name")).to_have_text("default")
            page.locator("#search").fill("666")
            expect(page.locator('#activities tr[data-identifier="appointment_id=666"]')).to_have_count(1)
            assert page.evaluate("localStorage.getItem('superoffice-emulator.admin-token')") == "s3cret-token"

            page.reload()
            expect(page.locator("#tenant-name")).to_have_text("default")
            expect(page.locator("#users tr")).to_have_count(5)
            expect(dialog).to_be_hidden()
            # The browser logs the first 401 answers as failed loads; nothing else may go wrong.
            watched.errors = [e for e in watched.errors if "401" not in e]
            assert watched.errors == []
        finally:
            context.close()


def screenshot(page: Any) -> None:
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    if not DOCS_SCREENSHOT.exists() or os.environ.get("EMULATOR_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCREENSHOT, DOCS_SCREENSHOT)


@pytest.mark.parametrize("width", [390, 800, 1440])
def test_the_dashboard_fits_phones_to_wide_screens_and_shows_activity_rows(
    browser: Any, server: LiveServer, width: int
) -> None:
    """No sideways scrolling of the page, the kind cards and filters on screen, rows in the table."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = Watched(context.new_page(), server).open("/_emulator/ui/")
        rows = page.locator("table.activities tbody tr")
        expect(rows.first).to_be_visible()
        # the kind cards are drawn again when their totals arrive: measure the ones that stay
        for total in page.locator("#kinds .kind-total").all():
            expect(total).not_to_have_text("\u2013")  # the placeholder of a total not known yet
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # measured in one go in the page: the kind cards are drawn again every few seconds, and a
        # card measured one by one from here may be replaced between finding and measuring it
        boxes = page.evaluate(
            """() => [...document.querySelectorAll('#kinds .kind, #filters select, #filters input')]
                     .map(e => { const r = e.getBoundingClientRect(); return {
                         name: e.id || e.dataset.kind, x: r.x, width: r.width, height: r.height}; })"""
        )
        assert len([b for b in boxes if b["name"] in {"all", "appointment", "sale", "document", "todo"}]) == 5
        assert {"filter-status", "filter-owner", "search"} <= {b["name"] for b in boxes}
        for box in boxes:
            assert box["width"] > 0 and box["height"] > 0, box  # shown
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
        table = page.locator("table.activities").locator("xpath=..").bounding_box()
        assert table is not None and table["height"] >= 200  # several rows, not a sliver
        visible = page.evaluate(
            """() => { const wrap = document.querySelector('table.activities').parentElement;
                       const top = wrap.getBoundingClientRect().top, bottom = top + wrap.clientHeight;
                       return [...wrap.querySelectorAll('tbody tr')].filter(r => {
                         const b = r.getBoundingClientRect(); return b.top >= top && b.bottom <= bottom;
                       }).length; }"""
        )
        assert visible >= 4
    finally:
        context.close()


def test_a_page_on_another_site_cannot_change_the_emulator_with_a_form(
    browser: Any, server: LiveServer
) -> None:
    """A real cross-site page (evil.test, resolved to this machine) auto-submits a text/plain form.

    No JavaScript and no click are needed for such a form; the body is valid YAML. The emulator
    refuses it (403), and the tenant's faults and journal are as they were.
    """
    import http.server
    import threading

    target = server.url("/_emulator/faults")
    page = (
        '<form id="f" method="post" enctype="text/plain" action="' + target + '">'
        '<input name=\'{"kind": "http503", "count": null, "x": "\' value=\'"}\'></form>'
        "<script>document.getElementById('f').submit()</script>"
    ).encode()

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        context = browser.new_context()
        try:
            tab = context.new_page()
            with tab.expect_response(lambda r: r.url == target) as answered:
                tab.goto(f"http://evil.test:{evil.server_address[1]}/")
            assert answered.value.status == 403
        finally:
            context.close()
    finally:
        evil.shutdown()
        evil.server_close()
    faults = admin_json(server, "/_emulator/faults")
    assert faults == []


def admin_json(server: LiveServer, path: str) -> Any:
    import json
    import urllib.request

    with urllib.request.urlopen(server.url(path), timeout=10) as answer:
        return json.loads(answer.read())


def test_clicking_a_call_shows_its_request_and_response_bodies(watched: Watched) -> None:
    page = watched.open("/_emulator/ui/")
    soap(watched.server, "appointment_id=1")
    entry = page.locator("#journal > li")
    expect(entry).to_have_count(1)
    bodies = entry.locator(".entry-bodies")
    expect(bodies).to_be_hidden()

    entry.locator(".operation").click()

    expect(bodies.locator("pre.body")).to_have_count(2)
    expect(bodies.locator("h3")).to_have_text(["Request", "Response"])
    expect(bodies.locator("pre.body").first).to_contain_text("appointment_id=1")
    expect(bodies.locator("pre.body").last).to_contain_text("SetActivityStatusResponse")
    box = bodies.locator("pre.body").first.bounding_box()
    assert box is not None and box["height"] <= 260  # scrolls instead of pushing the journal away
    bodies.locator("pre.body").first.click()  # reading a body (selecting text) keeps it open
    expect(bodies).to_be_visible()
    entry.locator(".operation").click()
    expect(bodies).to_be_hidden()
    watched.assert_clean()
