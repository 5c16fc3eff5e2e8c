"""No web page can change the emulator's state: cross-site requests and DNS rebinding, on a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import create_environ
from werkzeug.wrappers import Response

from superoffice_emulator.app import EmulatorApp
from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer
from tests.support.database import snapshot
from tests.support.http import send
from tests.support.soap import APPOINTMENT, SOAP11_HEADERS, envelope

EVIL = "http://evil.example"


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as live:
        yield live


def test_a_cross_site_text_plain_form_post_changes_nothing(server: LiveServer, db_path: Path) -> None:
    """A form on another site can send text/plain with no preflight; YAML reads it. Refused, 403."""
    assert send(server, "POST", "/_emulator/reset")[0] == 200  # the tenant exists, as after any use
    before = snapshot(db_path)
    form = b"roles: []\nusers: []\nactivities: {}\n"
    for path, body in [
        ("/_emulator/fixtures", form),
        ("/_emulator/reset", b""),
        ("/_emulator/faults", json.dumps({"kind": "http503", "count": None}).encode()),
        ("/_emulator/tenants/Planted", b""),
    ]:
        status, answer = send(server, "POST", path, body, **{"Content-Type": "text/plain", "Origin": EVIL})
        assert status == 403, (path, answer)
        assert b"--allowed-host" in answer
    status, _ = send(server, "DELETE", "/_emulator/tenants/default", Origin=EVIL)
    assert status == 403
    assert snapshot(db_path) == before
    assert json.loads(send(server, "GET", "/_emulator/faults")[1]) == []
    assert [t["name"] for t in json.loads(send(server, "GET", "/_emulator/tenants")[1])] == ["default"]


@pytest.mark.parametrize("headers", [{"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}])
def test_a_soap_call_from_another_sites_page_is_refused_and_changes_nothing(
    server: LiveServer, db_path: Path, headers: dict[str, str]
) -> None:
    send(server, "POST", "/_emulator/reset")
    before = snapshot(db_path)
    status, _ = send(server, "POST", APPOINTMENT, envelope(["appointment_id=7"]), **SOAP11_HEADERS, **headers)
    assert status == 403
    assert snapshot(db_path) == before


def test_a_rebinding_host_name_gets_421_from_the_admin_api_and_the_dashboard(server: LiveServer) -> None:
    rebound = f"evil.example:{server.port}"
    for method, path in [
        ("GET", "/_emulator/ui/"),
        ("GET", "/_emulator/journal"),
        ("DELETE", "/_emulator/tenants/default"),
    ]:
        status, answer = send(server, method, path, Host=rebound)
        assert status == 421, path
        assert b"--allowed-host evil.example" in answer
    status, _ = send(server, "GET", "/_emulator/tenants")
    assert status == 200


def test_clients_without_origin_and_the_emulators_own_pages_work_as_before(server: LiveServer) -> None:
    assert send(server, "POST", "/_emulator/reset")[0] == 200  # curl, test code, the pytest plugin
    for own in (f"http://127.0.0.1:{server.port}", f"http://localhost:{server.port}"):
        status, _ = send(server, "POST", "/_emulator/reset", Origin=own, **{"Sec-Fetch-Site": "same-origin"})
        assert status == 200, own
    status, _ = send(server, "GET", "/_emulator/ui/", Host=f"localhost:{server.port}")
    assert status == 200
    status, _ = send(server, "POST", APPOINTMENT, envelope(["appointment_id=7"]), **SOAP11_HEADERS)
    assert status == 200


def test_an_allowed_host_serves_the_dashboard_and_its_pages_may_change_state(settings: Settings) -> None:
    with LiveServer(settings.replace(allowed_hosts=("crm.test",))) as server:
        host = f"crm.test:{server.port}"
        assert send(server, "GET", "/_emulator/ui/", Host=host)[0] == 200
        status, _ = send(server, "POST", "/_emulator/reset", Host=host, Origin=f"http://{host}")
        assert status == 200
        assert send(server, "GET", "/_emulator/ui/", Host=f"other.test:{server.port}")[0] == 421


@pytest.mark.parametrize(
    "path", ["//_emulator/consents", "///_emulator/applications", "//default/_emulator/journal"]
)
def test_a_rebinding_host_name_gets_421_from_the_admin_api_in_any_run_of_slashes(
    app: EmulatorApp, path: str
) -> None:
    """granian hands a path as sent (werkzeug's server would read ``//x`` as a host), and the
    router merges the slashes: the admin API is the admin API there too."""
    environ = create_environ("/", base_url="http://evil.example:8080")
    environ["PATH_INFO"] = path
    answer = Response.from_app(app, environ)
    assert answer.status_code == 421
    assert b"--allowed-host evil.example" in answer.get_data()
