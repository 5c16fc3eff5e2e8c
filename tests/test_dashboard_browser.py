"""The dashboard in a real browser: Debian's chromium, driven by Playwright, against a live emulator.

Needs the ``browser`` extra and the system chromium, and is skipped without them
(``tests/support/browser.py``). It writes screenshots of the page to
``artifacts/`` (``dashboard.png``, and ``dashboard-1400.png`` and ``dashboard-390.png`` of a tried
call and an injected fault); ``docs/dashboard.png`` (the README's copy, the 1400 px one) is written
when it is missing, or replaced when ``EMULATOR_UPDATE_SCREENSHOTS=1``, so a plain test run leaves
the repository as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zeep
from zeep.transports import Transport

from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer, WebhookReceiver
from tests.support.browser import chromium, sync_api
from tests.support.paths import DATA
from tests.support.soap import APPOINTMENT, DEMO_TICKET, RITA_TICKET, TOKEN
from tests.support.webhooks import complete, register

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
DOCS_SCREENSHOT = REPO / "docs" / "dashboard.png"
WAIT_MS = 10_000  # the page polls the journal every second and refreshes activities every four

expect = sync_api.expect
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


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

    def assert_clean(self, *statuses: int) -> None:
        """Nothing went wrong but the logged answers with ``statuses`` (calls refused on purpose)."""
        assert self.page.evaluate("window.__sameDocument") is True, "the page was reloaded"
        expected = [f"status of {status} " for status in statuses]
        assert [e for e in self.errors if not any(mark in e for mark in expected)] == []
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
    screenshot(page, "dashboard")

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


def screenshot(page: Any, name: str, *, docs: bool = False) -> None:
    """``artifacts/{name}.png``; with ``docs``, the README's copy too (see the module's docstring)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(shot))
    if docs and (not DOCS_SCREENSHOT.exists() or os.environ.get("EMULATOR_UPDATE_SCREENSHOTS") == "1"):
        shutil.copyfile(shot, DOCS_SCREENSHOT)


def assert_no_sideways_scrolling(page: Any) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= page.evaluate("innerWidth"), f"the page scrolls sideways ({width} px)"


def assert_whole(locator: Any) -> None:
    """The element shows all its text: nothing cut off with an ellipsis or hidden overflow."""
    assert locator.evaluate("e => e.scrollWidth <= e.clientWidth && e.getClientRects().length > 0")


@pytest.mark.parametrize("width", [1400, 390])
def test_a_call_tried_from_the_page_changes_the_row_and_an_injected_fault_is_marked(
    browser: Any, server: LiveServer, width: int
) -> None:
    """No terminal: the presenter finds appointment 666, sends SetActivityStatus over SOAP as demo,
    sees the row change and the call arrive; then arms a Sentry fault and meets it over REST."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        watched = Watched(context.new_page(), server)
        page = watched.open("/_emulator/ui/")
        one_column = width < 1000
        expect(page.locator("#try-user option")).to_have_count(5)
        expect(page.locator("#tab-journal")).to_be_visible() if one_column else expect(
            page.locator("#tab-journal")
        ).to_be_hidden()

        page.locator("#search").fill("appointment 666")
        row = page.locator('#activities tr[data-identifier="appointment_id=666"]')
        expect(row).to_have_attribute("data-status", "NotStarted")
        expect(page.locator("#activities tr")).to_have_count(1)
        status = row.locator("td.status")
        expect(status).to_be_visible()
        box = status.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width  # on screen, not off to the side
        assert_whole(row.locator("td.identifier"))
        assert_no_sideways_scrolling(page)
        for tab in page.locator(".tabs .tab:visible").all():  # every tab on screen, none to swipe to
            box = tab.bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, tab.get_attribute("id")

        if one_column:  # the journal and the form above it: one tap away
            page.locator("#tab-journal").click()
        expect(page.locator("#try")).to_be_visible()
        page.locator("#try-user").select_option(label="demo (Administrator)")
        page.locator("#try-wire").select_option("soap")
        page.locator("#try-identifiers").fill("appointment_id=666")
        page.locator("#try-status").select_option("Started")
        page.locator("#try-send").click()

        expect(page.locator("#try-result")).to_have_attribute("data-ok", "true")
        expect(page.locator("#try-result")).to_contain_text("Succeeded")
        entry = page.locator("#journal > li").first
        expect(entry).to_have_attribute("data-outcome", "ok")
        expect(entry).to_have_attribute("data-injected", "")
        expect(entry.locator(".operation")).to_have_text("SetActivityStatus")
        assert_whole(entry.locator(".operation"))
        expect(entry.locator(".badge.wire")).to_have_text("SOAP")
        expect(entry.locator(".user")).to_have_text("demo")
        expect(entry).to_contain_text("appointment_id=666")
        assert_no_sideways_scrolling(page)
        if one_column:
            page.locator("#tab-activities").click()
        expect(row).to_have_attribute("data-status", "Started")
        expect(row).to_have_attribute("data-changed", "true")  # the page saw the change (and flashed it)
        expect(page.locator('#recent-list .chip[data-identifier="appointment_id=666"]')).to_have_count(1)

        # A Sentry fault armed from the page, met over REST: refused as the real thing, marked here.
        page.get_by_role("button", name="Inject fault").first.click()
        page.locator("#fault-kind").select_option("sentry")
        page.locator("#fault-identifiers").fill("appointment_id=666")
        page.locator("#fault-submit").click()
        expect(page.locator("#faults-active")).to_have_text("1")
        if one_column:
            page.locator("#tab-journal").click()
        page.locator("#try-wire").select_option("rest")
        page.locator("#try-status").select_option("Completed")
        page.locator("#try-send").click()

        expect(page.locator("#try-result")).to_have_attribute("data-ok", "false")
        expect(page.locator("#try-result")).to_contain_text("REST 403")
        injected = page.locator("#journal > li").first
        expect(injected).to_have_attribute("data-injected", "sentry")
        expect(injected).to_have_attribute("data-outcome", "failed")
        expect(injected).to_have_class(re.compile(r"\boutcome-injected\b"))
        expect(injected.locator(".badge.injected")).to_have_text("injected sentry")
        expect(injected.locator(".badge.wire")).to_have_text("REST")
        expect(injected.locator(".user")).to_have_text("user not checked")
        assert_whole(injected.locator(".operation"))
        expect(page.locator("#journal > li")).to_have_count(2)
        expect(page.locator("#faults-active")).to_be_hidden()
        assert_no_sideways_scrolling(page)
        screenshot(page, f"dashboard-{width}-journal")
        if one_column:
            page.locator("#tab-activities").click()
        expect(row).to_have_attribute("data-status", "Started")  # refused: nothing was written

        for tab in ("users", "faults", "activities"):
            page.locator(f"#tab-{tab}").click()
            expect(page.locator(f"#view-{tab}")).to_be_visible()
            assert_no_sideways_scrolling(page)
        page.locator("#filters-clear").click()
        expect(page.locator("#activities tr")).to_have_count(50)
        assert_no_sideways_scrolling(page)
        expect(page.locator("#toast")).to_be_hidden()
        screenshot(page, f"dashboard-{width}", docs=width == 1400)
        watched.assert_clean(403)
    finally:
        context.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_the_users_tab_shows_logins_tickets_tokens_and_denials_to_copy(
    browser: Any, server: LiveServer, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        watched = Watched(context.new_page(), server)
        page = watched.open("/_emulator/ui/")
        page.locator("#tab-users").click()
        demo = page.locator('#logins li[data-user="demo"]')
        expect(demo.locator(".login .value")).to_have_text("demo")
        expect(demo.locator(".password .value")).to_have_text("demo")  # the demo data publishes it
        expect(demo.locator(".tickets .value")).to_have_text(DEMO_TICKET)
        expect(demo.locator(".tokens .value")).to_have_text("8A:Cust12345.DemoAdministratorAccessToken")
        expect(page.locator('#logins li[data-user="sam"] .denials code')).to_have_text("appointment_id=99")
        expect(page.locator('#logins li[data-user="olav"] .tickets')).to_contain_text("none fixed")
        expect(page.locator("#denied-everyone code")).to_have_text("sale_id=13")
        expect(page.locator("#tenant-access")).to_contain_text(TOKEN)
        for value in page.locator("#view-users .copyable .value").all():
            assert_whole(value)
        assert_no_sideways_scrolling(page)

        demo.locator(".tickets button.copy").click()
        expect(page.locator("#toast")).to_have_text(f"Copied {DEMO_TICKET}")
        assert page.evaluate("navigator.clipboard.readText()") == DEMO_TICKET
        screenshot(page, f"dashboard-{width}-users")
        watched.assert_clean()
    finally:
        context.close()


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


def test_the_webhooks_tab_shows_the_tenants_webhooks_and_their_recent_deliveries(watched: Watched) -> None:
    with WebhookReceiver() as receiver:
        assert register(watched.server, receiver.url, Name="my-app").status_code == 201
        page = watched.open("/_emulator/ui/")
        page.locator("#tab-webhooks").click()
        row = page.locator('#webhooks tr[data-webhook="1"]')
        expect(row).to_contain_text("my-app")
        expect(row).to_contain_text(receiver.url)
        expect(row).to_contain_text("Active")
        expect(page.locator("#webhooks-count")).to_have_text("1")
        expect(page.locator("#deliveries-empty")).to_be_visible()
        assert complete(watched.server, ["appointment_id=666"]) == 204
        receiver.wait_for(1)
        delivery = page.locator("#deliveries tr").first
        expect(delivery).to_contain_text("activity.changed")
        expect(delivery).to_contain_text("HTTP 200")
        expect(delivery).to_contain_text(receiver.url)
        screenshot(page, "dashboard-webhooks")
        watched.assert_clean()
