"""Bad input to the sign-in, the Webhook endpoints and the admin API: refused with our own answer,
never a 500, never a tenant made by it. In-process, through the WSGI app."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import Client

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.settings import Settings

AUTHORIZE = "/login/common/oauth/authorize"
TOKENS = "/login/common/oauth/tokens"
REDIRECT = "http://127.0.0.1:3000/callback"
REST = {"Authorization": "SOTicket 7T:1234abcxyzExample==", "SO-AppToken": "1234567-1234-9876"}


@pytest.fixture
def emulator(settings: Settings) -> Iterator[EmulatorApp]:
    app = create_app(settings.replace(mode="online", max_tenants=2))
    yield app
    app.runtime.database.dispose()


def authorize(**changes: str) -> dict[str, str]:
    return {
        "client_id": "demo-app",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "s1",
        "acr_values": "tenant:Cust1",
        **changes,
    }


@pytest.mark.parametrize(
    "path", ["/a%20b/api/v1/Webhook", "/a%20b/api/v1/User/currentPrincipal", "/-x/api/v1/Webhook/default"]
)
def test_a_path_whose_tenant_is_no_tenant_name_is_not_found_and_makes_nothing(
    emulator: EmulatorApp, path: str
) -> None:
    answer = Client(emulator).get(path, headers=REST)

    assert answer.status_code == 404
    assert emulator.runtime.database.tenants() == []


def test_the_sign_in_page_is_a_read_and_makes_no_tenant(emulator: EmulatorApp) -> None:
    answer = Client(emulator).get(AUTHORIZE, query_string=authorize())

    assert answer.status_code == 200 and b"demo" in answer.data  # the fixtures' users to pick from
    assert emulator.runtime.database.tenants() == []


def test_a_sign_in_beyond_the_tenant_limit_is_an_error_page_not_a_failure(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    for tenant in ("Cust1", "Cust2"):
        emulator.runtime.database.ensure_tenant(tenant)

    answer = client.post(
        AUTHORIZE,
        data={**authorize(acr_values="tenant:Cust3"), "user": "demo", "decision": "approve"},
        headers={"Origin": "http://localhost"},
    )

    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert "Cust3" not in emulator.runtime.database.tenants()


@pytest.mark.parametrize(
    "path", ["/Cust3/api/v1/Webhook", "/Cust3/api/v1/User/currentPrincipal"], ids=["webhooks", "principal"]
)
def test_a_call_beyond_the_tenant_limit_is_a_netserver_error(emulator: EmulatorApp, path: str) -> None:
    for tenant in ("Cust1", "Cust2"):
        emulator.runtime.database.ensure_tenant(tenant)

    answer = Client(emulator).get(path, headers=REST)

    assert answer.status_code != 500
    assert answer.json is not None and answer.json["ExceptionType"] == "SuperOffice.Exceptions.SoException"


def test_a_pkce_challenge_longer_than_the_rfc_allows_is_refused_and_mints_no_code(
    emulator: EmulatorApp,
) -> None:
    answer = Client(emulator).get(
        AUTHORIZE, query_string=authorize(code_challenge="c" * 300, code_challenge_method="plain")
    )

    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["invalid_request"] and "code" not in query


def test_head_is_no_way_into_the_token_endpoint(emulator: EmulatorApp) -> None:
    answer = Client(emulator).head(TOKENS, query_string={"grant_type": "authorization_code", "code": "x"})

    assert answer.status_code == 405


@pytest.mark.parametrize(
    ("carrier", "field"),
    [
        ({"Name": "n", "Events": ["sale.changed"], "TargetUrl": "http://[::1/x"}, "TargetUrl"),
        ({"Name": "n", "Events": ["sale.changed"], "TargetUrl": "http://h:port/"}, "TargetUrl"),
        ({"Name": "n" * 201, "Events": ["sale.changed"], "TargetUrl": "http://h/"}, "Name"),
        (
            {"WebhookId": 10**20, "Name": "n", "Events": ["sale.changed"], "TargetUrl": "http://h/"},
            "WebhookId",
        ),
    ],
)
def test_a_webhook_carrier_the_emulator_cannot_store_is_a_400_naming_the_field(
    settings: Settings, carrier: dict[str, object], field: str
) -> None:
    path = "/api/v1/Agents/Webhook/SaveWebhook" if "WebhookId" in carrier else "/api/v1/Webhook"
    app = create_app(settings)
    try:
        answer = Client(app).post(path, json=carrier, headers=REST)
    finally:
        app.runtime.database.dispose()

    assert answer.status_code == 400
    assert field in answer.get_data(as_text=True)


@pytest.mark.parametrize("state", [[], {"x": 1}, 7, None])
def test_a_tenant_state_that_is_not_a_name_is_a_400(emulator: EmulatorApp, state: object) -> None:
    answer = Client(emulator).post("/_emulator/state", json={"state": state})

    assert answer.status_code == 400
    assert "error" in (answer.json or {})
