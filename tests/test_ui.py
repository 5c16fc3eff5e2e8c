"""The dashboard files at /_emulator/ui/: the right types and caching, and nothing else reachable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import pytest
from werkzeug.test import Client

from superoffice_emulator import __version__
from superoffice_emulator.admin import dashboard as ui
from superoffice_emulator.app import create_app
from superoffice_emulator.settings import Settings
from tests.support.database import database_url

STATIC = Path(ui.__file__).parent / "static"
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@pytest.mark.parametrize("prefix", ["", "/Cust1"])
def test_the_page_is_served_under_every_tenant(client: Client, prefix: str) -> None:
    response = client.get(f"{prefix}/_emulator/ui/")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert '<script src="app.js" defer></script>' in page
    assert '<link rel="stylesheet" href="style.css">' in page
    assert page == (STATIC / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/_emulator/ui", "ui/"),
        ("/Cust1/_emulator/ui", "ui/"),
        ("/_emulator/ui?tab=journal", "ui/?tab=journal"),
    ],
)
def test_the_address_without_a_slash_redirects_so_relative_urls_work(
    client: Client, path: str, location: str
) -> None:
    response = client.get(path)
    assert response.status_code == 308
    assert response.headers["Location"] == location


@pytest.mark.parametrize(("name", "content_type"), sorted(ASSETS.items()))
def test_each_asset_has_its_content_type_and_revalidates(
    client: Client, name: str, content_type: str
) -> None:
    response = client.get(f"/_emulator/ui/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.get_data() == (STATIC / name).read_bytes()
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    etag = response.headers["ETag"]
    again = client.get(f"/_emulator/ui/{name}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_the_policy_allows_nothing_outside_the_emulator(client: Client) -> None:
    policy = client.get("/_emulator/ui/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "img-src", "connect-src"):
        assert directives[name] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


XML_NAMESPACES = (
    "http://schemas.xmlsoap.org/soap/envelope/",
    "http://schemas.microsoft.com/2003/10/Serialization/Arrays",
    "http://www.superoffice.net/ws/crm/NetServer/Services86",
)


def test_no_asset_refers_to_anything_outside_the_emulator() -> None:
    """Works offline: no CDN, no web font, no absolute URL in the page, its script or its style."""
    for name in ASSETS:
        text = (STATIC / name).read_text(encoding="utf-8")
        if name == "favicon.svg":
            text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        for namespace in XML_NAMESPACES:  # names in the SOAP envelope the page sends, never fetched
            text = text.replace(f'"{namespace}"', "")
        assert not re.search(r"https?://|(?:src|href)=[\"']//|@import|url\(", text), name


def test_head_is_answered_without_a_body_and_changes_are_refused(client: Client) -> None:
    head = client.head("/_emulator/ui/app.js")
    assert head.status_code == 200
    assert head.get_data() == b""
    assert client.post("/_emulator/ui/").status_code == 405
    assert client.delete("/_emulator/ui/app.js").status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/_emulator/ui/../app.py",
        "/_emulator/ui/..%2fapp.py",
        "/_emulator/ui/..%2F..%2Fpyproject.toml",
        "/_emulator/ui/%2e%2e/ui.py",
        "/_emulator/ui/%2e%2e%2fui.py",
        "/_emulator/ui/..%5cui.py",
        "/_emulator/ui/static/app.js",
        "/_emulator/ui/./app.js",
        "/_emulator/ui/app.js/",
        "/_emulator/ui/app.js%00.css",
        "/_emulator/ui//etc/passwd",
        "/_emulator/ui/%2fetc%2fpasswd",
        "/_emulator/ui/....//ui.py",
        "/_emulator/ui/.gitignore",
        "/_emulator/ui/__init__.py",
        "/_emulator/ui/py.typed",
        "/_emulator/ui/nothing.js",
        "/Cust1/_emulator/ui/../../superoffice_emulator/admin/dashboard.py",
    ],
)
def test_nothing_but_the_listed_files_is_reachable(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (404, 308)  # 308 only for werkzeug's own slash handling
    body = response.get_data(as_text=True)
    assert "import" not in body
    assert "root:" not in body
    if response.status_code == 308:
        assert "/.." not in response.headers["Location"]


@pytest.mark.parametrize("name", ["../ui.py", "..\\ui.py", "/etc/passwd", "static/app.js", ".", "", "APP.JS"])
def test_load_looks_names_up_never_joins_them(name: str) -> None:
    if name == "":
        assert ui.load(name).name == "index.html"
        return
    with pytest.raises(Exception, match="has no file"):
        ui.load(name)


def test_the_listing_is_the_shipped_files() -> None:
    assert set(ui.listing()) == set(ASSETS)


@pytest.mark.parametrize("tenant", ["-bad", "a.b", "x" * 65])
def test_a_bad_tenant_name_is_not_found(client: Client, tenant: str) -> None:
    assert client.get(f"/{tenant}/_emulator/ui/").status_code == 404


def test_the_admin_api_is_still_reached_around_the_page(client: Client) -> None:
    assert client.get("/_emulator/health").json == {
        "status": "ok",
        "version": __version__,
        "tenant": "default",
    }
    assert cast("dict[str, Any]", client.get("/Cust1/_emulator/health").json)["tenant"] == "Cust1"
    other = client.get("/_emulator/uix")
    assert other.status_code == 404
    assert other.content_type == "application/json"


def test_the_page_needs_no_token_but_its_data_does(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=database_url(tmp_path / "crm.db"), admin_token="s3cret"))
    try:
        client = Client(app)
        assert client.get("/_emulator/ui/").status_code == 200
        assert client.get("/_emulator/ui/app.js").status_code == 200
        assert client.get("/_emulator/activities").status_code == 401
        authorized = client.get("/_emulator/activities", headers={"Authorization": "Bearer s3cret"})
        assert authorized.status_code == 200
    finally:
        app.runtime.database.dispose()


def test_the_script_sends_the_stored_token_and_asks_for_one_on_401() -> None:
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    assert 'headers.Authorization = "Bearer " + token' in script
    assert "response.status === 401" in script
    assert "localStorage" in script
    assert "innerHTML" not in script  # server data goes in as text only
