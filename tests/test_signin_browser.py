"""The sign-in page in a real browser (Debian's chromium, driven by Playwright), back to a real app.

From the application's authorize URL a person picks a user and a tenant and approves; the browser
lands on the application's redirect URI (an HTTP server of its own on a socket) with the code and
the state, and the code is exchanged with PKCE. The dashboard's Apps tab then shows the application
(never its secret) and who signed in. Skipped as ``test_dashboard_browser.py`` is, when Playwright
or ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
import yaml

from superoffice_emulator.settings import Settings, default_fixtures
from superoffice_emulator.testing import LiveServer
from tests.support.browser import chromium, sync_api

CLAIMS = "http://schemes.superoffice.net/identity/"
CLIENT_ID, SECRET = "browser-app", "browser-app-secret"
TENANT = "Cust4242"


expect = sync_api.expect


class Callback:
    """The application's redirect URI: a real HTTP server that keeps the queries it was sent."""

    def __init__(self) -> None:
        received: list[dict[str, list[str]]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path == "/callback":  # not the browser's /favicon.ico
                    received.append(parse_qs(urlsplit(self.path).query))
                page = b"<!doctype html><title>Signed in</title><h1>Back in the app</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def do_POST(self) -> None:  # response_mode=form_post
                length = int(self.headers.get("Content-Length", "0"))
                received.append(parse_qs(self.rfile.read(length).decode()))
                self.path = "/posted"
                self.do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/callback"

    def __enter__(self) -> Callback:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def callback() -> Iterator[Callback]:
    with Callback() as app:
        yield app


@pytest.fixture
def server(settings: Settings, tmp_path: Path, callback: Callback) -> Iterator[LiveServer]:
    """Online, with the page (no --sign-in-as), and an application whose redirect URI is ``callback``."""
    data = yaml.safe_load(default_fixtures().read_text(encoding="utf-8"))
    data["applications"].append(
        {
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "name": "Browser Test App",
            "redirect_uris": [callback.url],
            "allowed_origins": ["http://127.0.0.1:5173"],
        }
    )
    fixtures = tmp_path / "browser-app.yaml"
    fixtures.write_text(yaml.safe_dump(data), encoding="utf-8")
    with LiveServer(settings.replace(mode="online", fixtures=fixtures)) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_person_signs_in_on_the_page_and_the_app_gets_a_code_to_exchange(
    page: Any, server: LiveServer, callback: Callback
) -> None:
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": callback.url,
        "response_type": "code",
        "scope": "openid",
        "state": state,
        "nonce": "n1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page.goto(server.url("/login/common/oauth/authorize?" + urlencode(query)))
    expect(page.locator("h1")).to_have_text("Sign in to SuperOffice")
    expect(page.locator("p.app")).to_contain_text("Browser Test App")
    page.locator("#user").select_option("sam")
    page.locator("#tenant").fill(TENANT)
    page.get_by_role("button", name="Approve").click()

    page.wait_for_url(callback.url + "?*")
    expect(page.locator("h1")).to_have_text("Back in the app")
    assert len(callback.received) == 1
    arrived = callback.received[0]
    assert arrived["state"] == [state] and "error" not in arrived

    answer = requests.post(
        server.url("/login/common/oauth/tokens"),
        data={
            "grant_type": "authorization_code",
            "code": arrived["code"][0],
            "redirect_uri": callback.url,
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert answer.status_code == 200
    tokens = answer.json()
    assert tokens["access_token"].startswith(f"8A:{TENANT}.")
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert (claims[CLAIMS + "ctx"], claims[CLAIMS + "associateid"], claims["nonce"]) == (TENANT, "2", "n1")


def test_form_post_answers_reach_the_app_by_the_pages_one_allowed_script(
    page: Any, server: LiveServer, callback: Callback
) -> None:
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security" in message.text else None,
    )
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": callback.url,
        "response_type": "code",
        "response_mode": "form_post",
        "scope": "openid",
        "state": "s3",
    }
    page.goto(server.url("/login/common/oauth/authorize?" + urlencode(query)))
    page.locator("#tenant").fill(TENANT)
    page.get_by_role("button", name="Approve").click()

    expect(page.locator("h1")).to_have_text("Back in the app")  # posted by the script, not a click
    assert len(callback.received) == 1 and callback.received[0]["state"] == ["s3"]
    assert callback.received[0]["code"][0].startswith(TENANT)
    assert blocked == []


def test_denying_on_the_page_sends_the_app_access_denied(
    page: Any, server: LiveServer, callback: Callback
) -> None:
    query = {"client_id": CLIENT_ID, "redirect_uri": callback.url, "response_type": "code", "scope": "openid"}
    page.goto(server.url("/login/common/oauth/authorize?" + urlencode({**query, "state": "s2"})))
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(callback.url + "?*")
    assert callback.received[0]["error"] == ["access_denied"] and callback.received[0]["state"] == ["s2"]
    assert "code" not in callback.received[0]


def test_the_apps_tab_shows_the_applications_and_who_signed_in(
    page: Any, server: LiveServer, callback: Callback
) -> None:
    for user in ("sam", "olav"):
        page.goto(
            server.url(
                "/login/common/oauth/authorize?"
                + urlencode(
                    {
                        "client_id": CLIENT_ID,
                        "redirect_uri": callback.url,
                        "response_type": "code",
                        "scope": "openid",
                        "acr_values": f"tenant:{TENANT}",
                    }
                )
            )
        )
        page.locator("#user").select_option(user)
        page.get_by_role("button", name="Deny" if user == "olav" else "Approve").click()
        page.wait_for_url(callback.url + "?*")

    page.goto(server.url(f"/{TENANT}/_emulator/ui/"))
    page.locator("#tab-apps").click()
    card = page.locator(f'#apps li[data-app="{CLIENT_ID}"]')
    expect(card.locator(".client-id .value")).to_have_text(CLIENT_ID)
    expect(card.locator(".redirect-uris .value")).to_have_text(callback.url)
    expect(card.locator(".origins .value")).to_have_text("http://127.0.0.1:5173")
    expect(page.locator('#apps li[data-app="demo-app"]')).to_be_visible()
    rows = page.locator("#signins tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-user", "olav")
    expect(rows.nth(0)).to_have_attribute("data-outcome", "denied")
    expect(rows.nth(1)).to_have_attribute("data-user", "sam")
    expect(rows.nth(1)).to_have_attribute("data-outcome", "approved")
    expect(rows.nth(1)).to_contain_text(CLIENT_ID)
    event = page.locator('#journal li.entry[data-wire="superid"]').first
    expect(event.locator(".operation")).to_have_text("Sign-in")
    expect(event.locator(".badge.wire")).to_have_text("SuperID")
    for shown in (page.locator("#view-apps").inner_text(), page.locator("#journal").inner_text()):
        assert SECRET not in shown and "demo-app-secret" not in shown
