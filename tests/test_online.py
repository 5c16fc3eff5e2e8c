"""The Online front door, driven by OpenID Connect clients written elsewhere (authlib, PyJWT, zeep).

A sign-in with authorization code + PKCE through authlib's OAuth2Session, the id_token verified
against the JWKS with PyJWT, a refresh, then SetActivityStatus with the granted access token on REST
(Bearer) and on SOAP (the ticket). Hostile inputs are refused with nothing granted.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
import zeep
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import func, select
from werkzeug.test import Client, TestResponse
from zeep.transports import Transport

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.settings import Settings
from superoffice_emulator.storage import schema
from superoffice_emulator.testing import LiveServer
from tests.support.clock import FakeClock
from tests.support.database import read_row

CLIENT_ID, SECRET = "demo-app", "demo-app-secret"
REDIRECT = "http://127.0.0.1:3000/callback"
TENANT = "Cust777"
CLAIMS = "http://schemes.superoffice.net/identity/"
DISCOVERY = "/login/.well-known/openid-configuration"
AUTHORIZE = "/login/common/oauth/authorize"
TOKENS = "/login/common/oauth/tokens"


@pytest.fixture
def online(settings: Settings) -> Settings:
    return settings.replace(mode="online", sign_in_as="demo")


@pytest.fixture
def server(online: Settings) -> Iterator[LiveServer]:
    with LiveServer(online) as live:  # the real clock: the client checks the id_token's times
        yield live


@pytest.fixture
def emulator(online: Settings, clock: FakeClock) -> Iterator[EmulatorApp]:
    application = create_app(online, clock=clock)
    yield application
    application.runtime.database.dispose()


def granted(app: EmulatorApp) -> int:
    """Access tokens the sign-in granted (the fixtures' have no client)."""
    a = schema.access_token
    with app.runtime.database.engine.connect() as connection:
        count = select(func.count()).select_from(a).where(a.c.client_id.is_not(None))
        return int(connection.execute(count).scalar_one())


def body(answer: TestResponse) -> Any:
    return json.loads(answer.get_data())


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def code_for(client: Client, verifier: str = "v" * 50, method: str = "S256", tenant: str = TENANT) -> str:
    answer = client.get(
        AUTHORIZE,
        query_string={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "s1",
            "code_challenge": challenge(verifier) if method == "S256" else verifier,
            "code_challenge_method": method,
            "acr_values": f"tenant:{tenant}",
        },
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def exchange_form(code: str, verifier: str = "v" * 50, **changes: str) -> dict[str, str]:
    """The token request of ``code``, as the demo app sends it."""
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code_verifier": verifier,
        **changes,
    }


def exchange(
    client: Client, code: str, verifier: str = "v" * 50, **changes: str
) -> tuple[int, dict[str, str]]:
    answer = client.post(TOKENS, data=exchange_form(code, verifier, **changes))
    return answer.status_code, body(answer)


# -- a real client, end to end ------------------------------------------------------------------
def test_authlib_signs_in_with_pkce_refreshes_and_calls_rest_and_soap(
    server: LiveServer, db_path: Path
) -> None:
    meta = requests.get(server.url(DISCOVERY), timeout=10).json()
    assert meta["issuer"] == server.url()
    session = OAuth2Session(
        CLIENT_ID, SECRET, scope="openid", redirect_uri=REDIRECT, code_challenge_method="S256"
    )
    verifier, nonce = generate_token(48), generate_token(16)
    uri, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, acr_values=f"tenant:{TENANT}"
    )
    redirect = requests.get(uri, allow_redirects=False, timeout=10)
    assert redirect.status_code == 302 and redirect.headers["Location"].startswith(REDIRECT + "?")
    assert parse_qs(urlsplit(redirect.headers["Location"]).query)["state"] == [state]
    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=redirect.headers["Location"], code_verifier=verifier
    )
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert token["access_token"].startswith(f"8A:{TENANT}.")

    keys = jwt.PyJWKSet.from_dict(requests.get(meta["jwks_uri"], timeout=10).json())
    header = jwt.get_unverified_header(token["id_token"])
    key = next(k for k in keys.keys if k.key_id == header["kid"])
    claims = jwt.decode(
        token["id_token"], key.key, algorithms=["RS256"], audience=CLIENT_ID, issuer=meta["issuer"]
    )
    assert claims["nonce"] == nonce
    assert claims[CLAIMS + "ctx"] == TENANT and claims[CLAIMS + "associateid"] == "1"
    assert claims[CLAIMS + "netserver_url"] == server.url(f"/{TENANT}/Remote/Services86/")
    webapi = claims[CLAIMS + "webapi_url"]
    assert webapi == server.url(f"/{TENANT}/api/")

    refreshed = session.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    access = refreshed["access_token"]
    assert access.startswith(f"8A:{TENANT}.") and access != token["access_token"]

    principal = requests.get(
        webapi + "v1/User/currentPrincipal", headers={"Authorization": f"Bearer {access}"}, timeout=10
    )
    assert principal.status_code == 200 and principal.json()["AssociateId"] == 1

    rest = requests.post(
        webapi + "v1/Agents/Appointment/SetActivityStatus",
        json={"ActivityIdentifier": ["appointment_id=1"], "ActivityStatus": "Completed"},
        headers={"Authorization": f"Bearer {access}", "SO-AppToken": SECRET},
        timeout=10,
    )
    assert rest.status_code == 204
    assert read_row(db_path, "appointment", 1, tenant=TENANT)["status"] == 3

    soap = zeep.Client(
        claims[CLAIMS + "netserver_url"] + "Appointment.svc?wsdl",
        transport=Transport(timeout=10, operation_timeout=10),
    )
    result = soap.service.SetActivityStatus(
        ActivityIdentifier={"string": ["todo_id=1"]},
        ActivityStatus="Started",
        _soapheaders={"ApplicationToken": SECRET, "Credentials": {"Ticket": access}},
    )
    assert result.header.Succeeded is True
    assert read_row(db_path, "todo", 1, tenant=TENANT)["status"] == 2


# -- hostile inputs: refused, nothing granted ---------------------------------------------------
@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [
        (CLIENT_ID, "http://127.0.0.1:3000/callback/../evil"),
        (CLIENT_ID, "https://evil.example/callback"),
        (CLIENT_ID, REDIRECT + "?next=https://evil.example"),
        ("no-such-app", REDIRECT),
        ("", REDIRECT),
    ],
)
def test_an_unregistered_client_or_redirect_gets_an_error_page_never_a_redirect(
    emulator: EmulatorApp, client_id: str, redirect_uri: str
) -> None:
    answer = Client(emulator).get(
        AUTHORIZE,
        query_string={
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "openid",
            "acr_values": f"tenant:{TENANT}",
        },
    )
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert answer.mimetype == "text/html"
    assert granted(emulator) == 0


def _authorize_params(**changes: str) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code id_token",
        "response_mode": "fragment",
        "scope": "openid",
        "state": "s1",
        "nonce": "n1",
        "acr_values": f"tenant:{TENANT}",
        **changes,
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("state", "s" * 2049),
        ("nonce", "n" * 2049),
        ("login_hint", "demo" + " " * 2045),
        ("acr_values", f"tenant:{TENANT} " + "x" * 2040),
        ("redirect_uri", REDIRECT + "?" + "x" * 2048),
    ],
)
def test_an_overlong_authorize_parameter_gets_an_error_page_never_a_redirect(
    server: LiveServer, name: str, value: str
) -> None:
    answer = requests.get(
        server.url(AUTHORIZE), params=_authorize_params(**{name: value}), allow_redirects=False, timeout=60
    )

    assert answer.status_code == 400 and "Location" not in answer.headers
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "invalid_request" in answer.text and value not in answer.text


def test_a_large_state_posted_to_authorize_is_refused_and_the_limit_itself_is_accepted(
    server: LiveServer,
) -> None:
    posted = requests.post(
        server.url(AUTHORIZE),
        data={**_authorize_params(state="s" * 900_000), "decision": "approve", "user": "demo"},
        allow_redirects=False,
        timeout=60,
    )
    at_limit = requests.get(
        server.url(AUTHORIZE),
        params=_authorize_params(state="s" * 2048, nonce="n" * 2048),
        allow_redirects=False,
        timeout=60,
    )

    assert posted.status_code == 400 and "Location" not in posted.headers
    assert len(posted.content) < 10_000, "the page does not echo the value"
    assert at_limit.status_code == 302
    fragment = parse_qs(urlsplit(at_limit.headers["Location"]).fragment)
    assert fragment["state"] == ["s" * 2048]
    claims = jwt.decode(fragment["id_token"][0], options={"verify_signature": False})
    assert claims["nonce"] == "n" * 2048


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("post_logout_redirect_uri", REDIRECT + "?" + "x" * 2048),
        ("state", "s" * 2049),
        ("id_token_hint", "e" * 8193),
    ],
)
def test_an_overlong_logout_parameter_gets_an_error_page_never_a_redirect(
    server: LiveServer, name: str, value: str
) -> None:
    params = {"client_id": CLIENT_ID, "post_logout_redirect_uri": REDIRECT, "state": "bye", name: value}
    answer = requests.get(server.url("/login/logout"), params=params, allow_redirects=False, timeout=60)

    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "invalid_request" in answer.text


def test_a_code_is_used_once(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    code = code_for(client)
    assert exchange(client, code)[0] == 200
    status, body = exchange(client, code)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert granted(emulator) == 1


def test_a_code_exchanged_by_many_at_once_grants_one_token(server: LiveServer) -> None:
    form = exchange_form(code_for(Client(server.app)))
    start = threading.Barrier(8)

    def exchange_at_once(_: int) -> tuple[int, str | None]:
        start.wait()
        answer = requests.post(server.url(TOKENS), data=form, timeout=60)
        return answer.status_code, answer.json().get("error")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = sorted(pool.map(exchange_at_once, range(8)), key=lambda answer: answer[0])

    assert answers == [(200, None)] + [(400, "invalid_grant")] * 7


def test_a_code_lives_ten_minutes(emulator: EmulatorApp, clock: FakeClock) -> None:
    client = Client(emulator)
    code = code_for(client)
    clock.advance(minutes=9, seconds=59)
    assert exchange(client, code)[0] == 200 and granted(emulator) == 1


def test_an_expired_code_is_refused(emulator: EmulatorApp, clock: FakeClock) -> None:
    client = Client(emulator)
    code = code_for(client)
    clock.advance(minutes=10, seconds=1)
    status, body = exchange(client, code)
    assert (status, body["error"]) == (400, "invalid_grant") and granted(emulator) == 0


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_a_pkce_verifier_that_does_not_match_is_refused(emulator: EmulatorApp, method: str) -> None:
    client = Client(emulator)
    status, body = exchange(client, code_for(client, "v" * 50, method), "w" * 50)
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = exchange(client, code_for(client, "v" * 50, method), "")
    assert (status, body["error"]) == (400, "invalid_grant")
    assert exchange(client, code_for(client, "v" * 50, method))[0] == 200
    assert granted(emulator) == 1


def test_the_client_secret_is_checked_by_post_and_by_basic(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    code = code_for(client)
    status, body = exchange(client, code, client_secret="wrong")
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = exchange(client, code, client_id="no-such-app")
    assert (status, body["error"]) == (401, "invalid_client")
    assert granted(emulator) == 0
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": "v" * 50,
    }
    answer = client.post(TOKENS, data=form, headers={"Authorization": f"Basic {basic}"})
    assert answer.status_code == 200 and granted(emulator) == 1


@pytest.mark.parametrize("code", ["", "no-dot", "Cust999.unknown", "../x.y", "Cust777." + "x" * 40])
def test_an_unknown_code_or_tenant_is_refused(emulator: EmulatorApp, code: str) -> None:
    status, body = exchange(Client(emulator), code)
    assert status in (400, 401) and body["error"] in ("invalid_grant", "invalid_client")
    assert granted(emulator) == 0


def test_an_invalid_tenant_at_authorize_gets_an_error_page(emulator: EmulatorApp) -> None:
    answer = Client(emulator).get(
        AUTHORIZE,
        query_string={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "acr_values": "tenant:../etc",
        },
    )
    assert answer.status_code == 400 and "Location" not in answer.headers


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    "token",
    [
        _unsigned({"sub": "demo", CLAIMS + "ctx": TENANT}),
        "8A:Cust777.forged",
        jwt.encode({"sub": "demo"}, "not the key at all, but long enough for hs256", algorithm="HS256"),
    ],
)
def test_a_forged_token_as_bearer_is_refused(emulator: EmulatorApp, token: str) -> None:
    client = Client(emulator)
    answer = client.post(
        f"/{TENANT}/api/v1/Agents/Appointment/SetActivityStatus",
        json={"ActivityIdentifier": ["appointment_id=1"], "ActivityStatus": "Completed"},
        headers={"Authorization": f"Bearer {token}", "SO-AppToken": SECRET},
    )
    assert answer.status_code == 401
    assert body(answer)["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"
    principal = client.get(
        f"/{TENANT}/api/v1/User/currentPrincipal", headers={"Authorization": f"Bearer {token}"}
    )
    assert principal.status_code == 401


def test_a_bearer_token_needs_no_application_token_but_a_ticket_does(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    access = exchange(client, code_for(client))[1]["access_token"]
    call = f"/{TENANT}/api/v1/Agents/Appointment/SetActivityStatus"
    payload = {"ActivityIdentifier": ["appointment_id=1"], "ActivityStatus": "Completed"}
    bearer = {"Authorization": f"Bearer {access}"}
    assert client.post(call, json=payload, headers=bearer).status_code == 204  # as a browser app calls
    wrong = client.post(call, json=payload, headers={**bearer, "SO-AppToken": "not-registered"})
    assert wrong.status_code == 401  # sent, it is still checked
    assert body(wrong)["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"
    ticket = client.post(call, json=payload, headers={"Authorization": "SOTicket 7T:1234abcxyzExample=="})
    assert ticket.status_code == 401  # a ticket is a server's credential: SO-AppToken required
    assert body(ticket)["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"


def test_a_granted_access_token_expires_after_an_hour(emulator: EmulatorApp, clock: FakeClock) -> None:
    client = Client(emulator)
    access = exchange(client, code_for(client))[1]["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    assert client.get(f"/{TENANT}/api/v1/User/currentPrincipal", headers=headers).status_code == 200
    clock.advance(seconds=3600)
    answer = client.get(f"/{TENANT}/api/v1/User/currentPrincipal", headers=headers)
    assert answer.status_code == 401
    assert body(answer)["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"


def test_a_token_of_another_tenant_is_refused(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    access = exchange(client, code_for(client))[1]["access_token"]
    answer = client.get("/Cust1/api/v1/User/currentPrincipal", headers={"Authorization": f"Bearer {access}"})
    assert answer.status_code == 401


# -- the sign-in page ---------------------------------------------------------------------------
def test_the_sign_in_page_lists_the_users_and_its_approval_grants_a_code(settings: Settings) -> None:
    app = create_app(settings.replace(mode="online"))
    try:
        client = Client(app)
        query = {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "abc",
            "response_mode": "form_post",
            "acr_values": f"tenant:{TENANT}",
        }
        page = client.get(AUTHORIZE, query_string=query)
        assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
        assert "Sam Salesrep" in page.get_data(as_text=True)
        approved = client.post(
            AUTHORIZE, data={**query, "user": "sam", "tenant": TENANT, "decision": "approve"}
        )
        assert approved.status_code == 200  # form_post: a form the browser posts to the redirect URI
        html = approved.get_data(as_text=True)
        assert f'action="{REDIRECT}"' in html and 'name="state" value="abc"' in html
        code = html.split('name="code" value="')[1].split('"')[0]
        status, body = exchange(client, code, code_verifier="")
        assert status == 200
        assert (
            jwt.decode(body["id_token"], options={"verify_signature": False})[CLAIMS + "associateid"] == "2"
        )
        denied = client.post(
            AUTHORIZE,
            data={**query, "response_mode": "query", "user": "sam", "tenant": TENANT, "decision": "deny"},
        )
        assert parse_qs(urlsplit(denied.headers["Location"]).query)["error"] == ["access_denied"]
        cross = client.post(
            AUTHORIZE,
            data={**query, "user": "sam", "tenant": TENANT, "decision": "approve"},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert cross.status_code == 403
    finally:
        app.runtime.database.dispose()


# -- tenant state, applications, the key --------------------------------------------------------
def test_a_tenant_that_is_not_running_refuses_calls_until_reset(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    access = exchange(client, code_for(client))[1]["access_token"]
    status = body(client.get(f"/api/state/{TENANT}"))
    assert (status["State"], status["IsRunning"]) == ("Running", True)
    assert status["Api"] == f"http://localhost/{TENANT}/api"
    assert client.post(f"/{TENANT}/_emulator/state", json={"state": "Suspended"}).status_code == 200
    status = body(client.get(f"/api/state/{TENANT}"))
    assert (status["State"], status["IsRunning"]) == ("Suspended", False)
    answer = client.post(
        f"/{TENANT}/api/v1/Agents/Appointment/SetActivityStatus",
        json={"ActivityIdentifier": ["appointment_id=1"], "ActivityStatus": "Completed"},
        headers={"Authorization": f"Bearer {access}", "SO-AppToken": SECRET},
    )
    assert answer.status_code == 401
    assert body(answer)["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"
    assert client.post(f"/{TENANT}/_emulator/state", json={"state": "Sleeping"}).status_code == 400
    client.post(f"/{TENANT}/_emulator/reset")
    assert body(client.get(f"/{TENANT}/_emulator/state"))["state"] == "Running"


def test_the_admin_api_lists_the_applications(emulator: EmulatorApp) -> None:
    apps = body(Client(emulator).get(f"/{TENANT}/_emulator/applications"))
    assert [(a["client_id"], a["client_secret"]) for a in apps] == [(CLIENT_ID, SECRET)]
    assert REDIRECT in apps[0]["redirect_uris"]


def test_the_signing_key_is_kept_across_restarts(online: Settings) -> None:
    kids = []
    for _ in range(2):
        app = create_app(online)
        try:
            kids.append(body(Client(app).get("/login/.well-known/jwks"))["keys"][0]["kid"])
        finally:
            app.runtime.database.dispose()
    assert kids[0] == kids[1] and kids[0]
