"""Browser apps on other origins (CORS): the REST API answers the origins an app registered or
``--cors-origin`` names; every other origin, and the admin API and dashboard, stay as guarded as before.

In-process through werkzeug's client, in online mode with the demo data, whose ``demo-app``
registered ``http://localhost:3000`` and ``http://127.0.0.1:3000``. A browser sends ``Origin`` and,
from another site, ``Sec-Fetch-Site: cross-site``; the requests here send what it would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import Client, TestResponse

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.domain.online import origin_allowed, origin_key
from superoffice_emulator.settings import OriginList, SettingError, Settings
from tests.support.clock import FakeClock
from tests.support.database import read_row, snapshot

APP = "http://localhost:3000"
"""An origin demo-app registered (the demo data's ``allowed_origins``)."""
EVIL = "https://evil.example"
CALL = "/Cust12345/api/v1/Agents/Appointment/SetActivityStatus"
TOKEN = "8A:Cust12345.DemoAdministratorAccessToken"
APP_TOKEN = "demo-app-secret"
BODY = {"ActivityIdentifier": ["appointment_id=7"], "ActivityStatus": "Completed"}
STARTED, COMPLETED = 2, 3
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers",
)


def emulator(settings: Settings, clock: FakeClock, **changes: object) -> Iterator[Client]:
    application: EmulatorApp = create_app(settings.replace(**changes), clock=clock)
    yield Client(application)
    application.runtime.database.dispose()


@pytest.fixture
def online(settings: Settings, clock: FakeClock) -> Iterator[Client]:
    yield from emulator(settings, clock, mode="online", sign_in_as="demo")


def preflight(client: Client, path: str, origin: str, method: str = "POST") -> TestResponse:
    return client.open(
        path,
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type,so-apptoken",
            "Sec-Fetch-Site": "cross-site",
        },
    )


def from_page(origin: str, **headers: str) -> dict[str, str]:
    """What a page at ``origin`` on another site sends with a call of the REST API."""
    return {"Origin": origin, "Sec-Fetch-Site": "cross-site", **headers}


def call(client: Client, origin: str, path: str = CALL) -> TestResponse:
    headers = from_page(origin, Authorization=f"Bearer {TOKEN}", **{"SO-AppToken": APP_TOKEN})
    return client.post(path, json=BODY, headers=headers)


def cors_headers(response: TestResponse) -> dict[str, str]:
    return {name: response.headers[name] for name in CORS_HEADERS if name in response.headers}


def status_of(db_path: Path, activity_id: int = 7) -> int:
    return int(read_row(db_path, "appointment", activity_id, tenant="Cust12345")["status"])


# -- a registered origin ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "method"),
    [
        (CALL, "POST"),
        ("/api/v1/Agents/Appointment/SetActivityStatus", "POST"),
        ("/cust12345/API/v1/agents/appointment/setactivitystatus", "POST"),
        ("/Cust12345/api/v1/User/currentPrincipal", "GET"),
        ("/Cust12345/api/v1/Webhook", "POST"),
        ("/Cust12345/api/v1/Webhook/12", "DELETE"),
        ("/Cust12345/api/v1", "GET"),
        ("/api/state/Cust12345", "GET"),
        ("/login/common/oauth/tokens", "POST"),
        ("/login/common/oauth/revoke", "POST"),
        ("/login/.well-known/openid-configuration", "GET"),
        ("/login/.well-known/jwks", "GET"),
    ],
)
def test_a_registered_origins_preflight_gets_204_and_the_cors_headers(
    online: Client, path: str, method: str
) -> None:
    response = preflight(online, path, APP, method)

    assert response.status_code == 204
    assert response.data == b""
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert method in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {
        "authorization",
        "content-type",
        "so-apptoken",
        "so-language",
        "so-culture",
        "so-timezone",
        "accept",
    } <= allowed
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_a_public_sites_page_may_reach_this_machine_when_its_origin_is_allowed(online: Client) -> None:
    """Chromium asks (Private Network Access) before a public site's page calls a local address."""
    asked = {"Access-Control-Request-Private-Network": "true"}
    for origin, answer in [(APP, "true"), (EVIL, None)]:
        response = online.open(
            CALL,
            method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST", **asked},
        )
        assert response.headers.get("Access-Control-Allow-Private-Network") == answer
    plain = preflight(online, CALL, APP)
    assert "Access-Control-Allow-Private-Network" not in plain.headers


def test_a_registered_origins_call_changes_the_row_and_the_page_may_read_the_answer(
    online: Client, db_path: Path
) -> None:
    response = call(online, APP)

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert "Origin" in response.headers["Vary"]
    assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert status_of(db_path) == COMPLETED


def test_a_registered_origin_reads_failures_currentprincipal_and_the_tenant_status(online: Client) -> None:
    refused = online.post(CALL, json=BODY, headers=from_page(APP, Authorization="Bearer 8A:Cust12345.nope"))
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == APP
    assert json.loads(refused.data)["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"

    me = online.get(
        "/Cust12345/api/v1/User/currentPrincipal", headers=from_page(APP, Authorization=f"Bearer {TOKEN}")
    )
    assert me.status_code == 200
    assert me.headers["Access-Control-Allow-Origin"] == APP
    assert me.json is not None and me.json["Associate"] == "demo"

    state = online.get("/api/state/Cust12345", headers=from_page(APP))
    assert state.headers["Access-Control-Allow-Origin"] == APP
    assert state.json is not None and state.json["IsRunning"] is True


def test_a_browser_apps_code_and_pkce_exchange_passes_from_a_registered_origin(online: Client) -> None:
    """An SPA posts the token request itself: form-encoded, no preflight, from its own origin."""
    verifier = "v" * 43
    redirect = "http://localhost:3000/callback"
    authorize = online.get(
        "/login/common/oauth/authorize",
        query_string={
            "client_id": "demo-app",
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "openid",
            "code_challenge": verifier,
            "code_challenge_method": "plain",
            "acr_values": "tenant:Cust12345",
        },
    )
    code = parse_qs(urlsplit(authorize.headers["Location"]).query)["code"][0]

    response = online.post(
        "/login/common/oauth/tokens",
        data={
            "grant_type": "authorization_code",
            "client_id": "demo-app",
            "client_secret": APP_TOKEN,
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        },
        headers=from_page(APP),
    )

    assert response.status_code == 200, response.data
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.json is not None and response.json["token_type"] == "Bearer"


# -- any other origin -------------------------------------------------------------------------
def test_another_origins_preflight_is_refused_without_cors_headers(online: Client) -> None:
    for path in (CALL, "/Cust12345/api/v1/User/currentPrincipal", "/login/common/oauth/tokens"):
        response = preflight(online, path, EVIL)
        assert response.status_code == 403, path
        assert cors_headers(response) == {}, path
        assert b"--cors-origin" in response.data


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps(BODY)),
        ("text/plain", json.dumps(BODY)),  # a form's enctype: sent with no preflight
        ("application/x-www-form-urlencoded", "ActivityIdentifier=appointment_id%3D7&ActivityStatus=3"),
    ],
)
@pytest.mark.parametrize("origin", [EVIL, "null"])
def test_another_origins_call_is_refused_by_the_guard_and_changes_nothing(
    online: Client, db_path: Path, content_type: str, body: str, origin: str
) -> None:
    online.post(CALL, json={"ActivityIdentifier": [], "ActivityStatus": "Completed"}, headers=_bearer())
    before = snapshot(db_path)
    headers = from_page(origin, Authorization=f"Bearer {TOKEN}", **{"SO-AppToken": APP_TOKEN})

    response = online.post(CALL, data=body, content_type=content_type, headers=headers)

    assert response.status_code == 403
    assert cors_headers(response) == {}
    assert b"--cors-origin" in response.data  # the way to allow it, if that page is the user's app
    assert snapshot(db_path) == before


def _bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "SO-AppToken": APP_TOKEN}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_even_a_registered_origins_form_post_changes_nothing(
    online: Client, db_path: Path, content_type: str
) -> None:
    """A form carries no Authorization (credentials are headers only), and REST reads JSON only."""
    online.post(CALL, json={"ActivityIdentifier": [], "ActivityStatus": "Completed"}, headers=_bearer())
    before = snapshot(db_path)

    response = online.post(CALL, data=json.dumps(BODY), content_type=content_type, headers=from_page(APP))

    assert response.status_code in (401, 415)
    assert snapshot(db_path) == before


def test_an_origin_counts_only_for_the_tenants_whose_applications_registered_it(
    online: Client, db_path: Path
) -> None:
    without_apps = "roles: [{role_id: 1, name: A, rights: {all: update}}]\nusers: []\nactivities: {}\n"
    assert online.post("/Cust2/_emulator/fixtures", data=without_apps).status_code == 200

    assert preflight(online, "/Cust2/api/v1/Agents/Appointment/SetActivityStatus", APP).status_code == 403
    assert preflight(online, "/api/state/Cust2", APP).status_code == 403
    assert preflight(online, CALL, APP).status_code == 204  # Cust12345: not made yet, the fixtures'
    assert preflight(online, "/login/common/oauth/tokens", APP).status_code == 204  # any application's


# -- the admin API and the dashboard: no CORS, ever -------------------------------------------
ADMIN_PATHS = [
    "/_emulator/reset",
    "/Cust12345/_emulator/reset",
    "/_emulator/faults",
    "/Cust12345/_emulator/state",
    "/_emulator/ui/",
    "/Cust12345/_emulator/ui/",
]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_the_admin_api_and_the_dashboard_answer_no_preflight_even_with_any_origin_allowed(
    settings: Settings, clock: FakeClock, path: str
) -> None:
    for client in emulator(settings, clock, mode="online", cors_origins=("*",)):
        plain = client.open(path, method="OPTIONS")
        response = preflight(client, path, APP)
        assert response.status_code == plain.status_code
        assert cors_headers(response) == {}
        assert client.get(path, headers=from_page(APP)).headers.get("Access-Control-Allow-Origin") is None


@pytest.mark.parametrize("path", [p for p in ADMIN_PATHS if "/ui/" not in p])
def test_the_admin_api_refuses_a_registered_origins_page_as_before(
    settings: Settings, clock: FakeClock, db_path: Path, path: str
) -> None:
    for client in emulator(settings, clock, mode="online", cors_origins=("*",)):
        assert client.post("/Cust12345/_emulator/reset").status_code == 200
        before = snapshot(db_path)
        for origin in (APP, "https://app.example.com"):
            response = client.post(path, data="{}", content_type="text/plain", headers=from_page(origin))
            assert response.status_code == 403
            assert cors_headers(response) == {}
            assert b"--cors-origin" not in response.data  # no way to allow it
        assert snapshot(db_path) == before


@pytest.mark.parametrize(
    "path", ["/login/api/PartnerSystemUser/Authenticate", "/Login/API/PartnerSystemUser/Authenticate"]
)
def test_superids_system_user_exchange_is_no_tenants_api_for_browser_apps(online: Client, path: str) -> None:
    response = preflight(online, path, APP)
    assert cors_headers(response) == {}


def test_an_implicit_flow_page_revokes_its_token_from_a_registered_origin(online: Client) -> None:
    response = online.post(
        "/login/common/oauth/revoke",
        data={"token": TOKEN, "client_id": "demo-app", "client_secret": APP_TOKEN},
        headers=from_page(APP),
    )

    assert response.status_code == 200, response.data
    assert response.headers["Access-Control-Allow-Origin"] == APP


def test_soap_is_not_for_browser_apps(online: Client) -> None:
    response = preflight(online, "/Cust12345/Remote/Services86/Appointment.svc", APP)
    assert cors_headers(response) == {}


# -- modes and the setting ----------------------------------------------------------------------
def test_onsite_the_setting_alone_decides(settings: Settings, clock: FakeClock) -> None:
    for client in emulator(settings, clock):
        assert preflight(client, "/api/v1/Agents/Appointment/SetActivityStatus", APP).status_code == 403
    for client in emulator(settings, clock, cors_origins=("https://app.example.com",)):
        ok = preflight(client, "/api/v1/Agents/Appointment/SetActivityStatus", "https://app.example.com")
        assert ok.status_code == 204
        assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert preflight(client, "/api/v1/Agents/Appointment/SetActivityStatus", APP).status_code == 403


def test_onsite_a_configured_origins_page_calls_with_a_ticket(
    settings: Settings, clock: FakeClock, db_path: Path
) -> None:
    for client in emulator(settings, clock, cors_origins=("https://app.example.com",)):
        headers = from_page("https://app.example.com", Authorization="SOTicket 7T:1234abcxyzExample==")
        response = client.post("/api/v1/Agents/Appointment/SetActivityStatus", json=BODY, headers=headers)
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert read_row(db_path, "appointment", 7)["status"] == COMPLETED


def test_a_star_allows_any_origin_but_never_an_opaque_one(settings: Settings, clock: FakeClock) -> None:
    for client in emulator(settings, clock, cors_origins=("*",)):
        for origin in ("https://anything.example", "http://localhost:5173"):
            response = preflight(client, "/api/v1/Agents/Appointment/SetActivityStatus", origin)
            assert response.headers["Access-Control-Allow-Origin"] == origin  # echoed, never "*"
        assert preflight(client, "/api/v1/Agents/Appointment/SetActivityStatus", "null").status_code == 403


def test_a_plain_options_request_is_answered_as_before(online: Client) -> None:
    """No Access-Control-Request-Method: not a preflight, whatever its Origin."""
    response = online.open(CALL, method="OPTIONS", headers={"Origin": APP})
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("text", "origins"),
    [
        ("https://app.example.com", ("https://app.example.com",)),
        (
            "HTTPS://App.Example.com/ http://localhost:3000",
            ("https://app.example.com", "http://localhost:3000"),
        ),
        ("*", ("*",)),
        ("  ", ()),
    ],
)
def test_the_setting_reads_space_separated_origins(text: str, origins: tuple[str, ...]) -> None:
    assert OriginList().parse(text) == origins


@pytest.mark.parametrize(
    "text",
    ["app.example.com", "https://app.example.com/callback", "https://a.example?x=1", "null", "http://:x"],
)
def test_the_setting_refuses_what_is_no_origin(text: str) -> None:
    with pytest.raises(SettingError):
        OriginList().parse(text)


def test_origins_compare_in_any_case_and_with_or_without_a_trailing_slash() -> None:
    assert origin_key("HTTP://LocalHost:3000/") == "http://localhost:3000"
    assert origin_allowed("http://localhost:3000", ["http://LOCALHOST:3000/"])
    assert not origin_allowed("http://localhost:3001", ["http://localhost:3000"])
    assert not origin_allowed("null", ["*"])


@pytest.mark.parametrize(
    "origin",
    ["http://[::1", "http://localhost:99999", "http://localhost:3000/x", "ftp://", "x" * 10_000, "", " "],
)
def test_a_malformed_origin_is_no_origin_and_never_fails_the_server(
    settings: Settings, clock: FakeClock, origin: str
) -> None:
    for client in emulator(settings, clock, mode="online", cors_origins=("*",)):
        answer = preflight(client, CALL, origin)
        assert answer.status_code == 403
        assert cors_headers(answer) == {}
        call = client.post(CALL, json=BODY, headers=from_page(origin))
        assert call.status_code == 403


def test_a_call_answered_without_wsgi_carries_the_same_headers(
    settings: Settings, clock: FakeClock, db_path: Path
) -> None:
    """Under granian a call takes :meth:`EmulatorApp.reply_to_call`, with the headers by lower-case name."""
    application = create_app(settings.replace(mode="online"), clock=clock)
    try:
        headers = {
            "origin": APP,
            "sec-fetch-site": "cross-site",
            "authorization": f"Bearer {TOKEN}",
            "so-apptoken": APP_TOKEN,
            "content-type": "application/json",
        }
        body = json.dumps(BODY).encode()
        reply = application.reply_to_call("POST", CALL, "127.0.0.1:8080", headers, lambda: body)
        other = application.reply_to_call(
            "POST", CALL, "127.0.0.1:8080", {**headers, "origin": EVIL}, lambda: body
        )
    finally:
        application.runtime.database.dispose()

    assert reply is not None and reply.status == 204
    assert ("Access-Control-Allow-Origin", APP) in reply.headers
    assert other is not None and other.status == 403
    assert not any(name.startswith("Access-Control-") for name, _ in other.headers)
    assert status_of(db_path) == COMPLETED
