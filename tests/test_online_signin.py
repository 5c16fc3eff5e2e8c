"""The rest of the sign-in: the implicit and hybrid flows, revocation, logout, and the journal of it.

The id_tokens are checked with PyJWT against the JWKS, ``at_hash`` and ``c_hash`` with PyJWT's own
hash; hostile requests (no nonce, a forged hint, an unregistered way back, another client's token)
are refused with nothing minted or revoked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import yaml
from werkzeug.test import Client, TestResponse

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.settings import Settings, default_fixtures
from tests.support.clock import FakeClock
from tests.test_online import (
    AUTHORIZE,
    CLAIMS,
    CLIENT_ID,
    DISCOVERY,
    REDIRECT,
    SECRET,
    TENANT,
    body,
    code_for,
    exchange,
    granted,
)

REVOKE = "/login/common/oauth/revoke"
LOGOUT = "/login/logout"
PRINCIPAL = f"/{TENANT}/api/v1/User/currentPrincipal"
OTHER_ID, OTHER_SECRET = "other-app", "other-secret"
OTHER = {
    "client_id": OTHER_ID,
    "client_secret": OTHER_SECRET,
    "name": "Other app",
    "redirect_uris": [REDIRECT],
}


@pytest.fixture
def online(settings: Settings, tmp_path: Path) -> Settings:
    """Online, signing in as ``demo`` without a page, with a second application registered."""
    data = yaml.safe_load(default_fixtures().read_text(encoding="utf-8"))
    data["applications"].append(OTHER)
    fixtures = tmp_path / "two-apps.yaml"
    fixtures.write_text(yaml.safe_dump(data), encoding="utf-8")
    return settings.replace(mode="online", sign_in_as="demo", fixtures=fixtures)


@pytest.fixture
def emulator(online: Settings, clock: FakeClock) -> Iterator[EmulatorApp]:
    application = create_app(online, clock=clock)
    yield application
    application.runtime.database.dispose()


def authorize(client: Client, response_type: str, **changes: str | None) -> TestResponse:
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": response_type,
        "scope": "openid",
        "state": "s1",
        "nonce": "n-0S6_WzA2Mj",
        "acr_values": f"tenant:{TENANT}",
        **changes,
    }
    return client.get(AUTHORIZE, query_string={k: v for k, v in query.items() if v is not None})


def fragment(answer: TestResponse) -> dict[str, str]:
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert not location.query  # a token never travels in a query string
    return {name: values[0] for name, values in parse_qs(location.fragment).items()}


def half_hash(value: str) -> str:
    digest = jwt.get_algorithm_by_name("RS256").compute_hash_digest(value.encode())
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def verified(client: Client, id_token: str) -> dict[str, Any]:
    keys = jwt.PyJWKSet.from_dict(body(client.get("/login/.well-known/jwks")))
    issuer = body(client.get(DISCOVERY))["issuer"]
    key = next(k for k in keys.keys if k.key_id == jwt.get_unverified_header(id_token)["kid"])
    return dict(
        jwt.decode(
            id_token,
            key.key,
            algorithms=["RS256"],
            audience=CLIENT_ID,
            issuer=issuer,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},  # the fake clock
        )
    )


def journal(client: Client) -> list[dict[str, Any]]:
    return [e for e in body(client.get(f"/{TENANT}/_emulator/journal", query_string={"wire": "superid"}))]


# -- discovery -------------------------------------------------------------------------------------
def test_discovery_lists_the_flows_and_the_revoke_and_logout_endpoints(emulator: EmulatorApp) -> None:
    meta = body(Client(emulator).get(DISCOVERY))
    assert set(meta["response_types_supported"]) == {
        "code",
        "id_token",
        "code id_token",
        "token id_token",
        "token",
    }
    assert meta["revocation_endpoint"] == "http://localhost" + REVOKE
    assert meta["end_session_endpoint"] == "http://localhost" + LOGOUT
    assert "implicit" in meta["grant_types_supported"]


# -- the implicit and hybrid flows ---------------------------------------------------------------
def test_the_implicit_flow_answers_an_id_token_in_the_fragment(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    values = fragment(authorize(client, "id_token"))
    assert values["state"] == "s1" and "access_token" not in values and "code" not in values
    claims = verified(client, values["id_token"])
    assert claims["nonce"] == "n-0S6_WzA2Mj" and claims[CLAIMS + "ctx"] == TENANT
    assert "at_hash" not in claims and "c_hash" not in claims
    assert granted(emulator) == 0


def test_token_id_token_carries_an_access_token_and_its_at_hash(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    values = fragment(authorize(client, "token id_token"))
    access = values["access_token"]
    assert access.startswith(f"8A:{TENANT}.") and values["token_type"] == "Bearer"
    assert values["expires_in"] == "3600" and "refresh_token" not in values
    claims = verified(client, values["id_token"])
    assert claims["at_hash"] == half_hash(access) and "c_hash" not in claims
    answer = client.get(PRINCIPAL, headers={"Authorization": f"Bearer {access}"})
    assert answer.status_code == 200 and body(answer)["AssociateId"] == 1
    assert granted(emulator) == 1


def test_code_id_token_carries_a_code_and_its_c_hash_and_the_code_is_exchanged(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    values = fragment(
        authorize(client, "id_token code", code_challenge="v" * 50, code_challenge_method="plain")
    )
    claims = verified(client, values["id_token"])
    assert claims["c_hash"] == half_hash(values["code"]) and "at_hash" not in claims
    status, tokens = exchange(client, values["code"])
    assert status == 200
    again = verified(client, tokens["id_token"])
    assert again["nonce"] == "n-0S6_WzA2Mj" and again["at_hash"] == half_hash(tokens["access_token"])


def test_the_implicit_flow_posts_its_form_when_asked(emulator: EmulatorApp) -> None:
    answer = authorize(Client(emulator), "id_token", response_mode="form_post")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and f'action="{REDIRECT}"' in html and 'name="id_token"' in html


def _script_sources(answer: TestResponse) -> list[str]:
    """Where the page's policy lets scripts come from: its script-src, else its default-src."""
    parts = (part.split() for part in answer.headers["Content-Security-Policy"].split(";"))
    directives = {name: sources for name, *sources in parts if name}
    return directives.get("script-src", directives["default-src"])


def test_only_the_form_post_page_runs_a_script_and_only_its_own(emulator: EmulatorApp) -> None:
    posted = authorize(Client(emulator), "id_token", response_mode="form_post")
    (script,) = re.findall(r"<script>(.*?)</script>", posted.get_data(as_text=True), re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()

    assert _script_sources(posted) == [f"'sha256-{digest}'"]
    with_page = create_app(emulator.runtime.settings.replace(sign_in_as=None))
    try:
        page = Client(with_page).get(
            AUTHORIZE,
            query_string={
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "scope": "openid",
            },
        )
    finally:
        with_page.runtime.database.dispose()
    error = Client(emulator).get(AUTHORIZE, query_string={"client_id": "nobody"})
    for answer in (page, error):
        assert answer.status_code in (200, 400) and "<script" not in answer.get_data(as_text=True)
        assert _script_sources(answer) == ["'none'"], answer.headers["Content-Security-Policy"]


@pytest.mark.parametrize("response_type", ["id_token", "token id_token", "code id_token"])
def test_the_implicit_flow_without_a_nonce_is_refused(emulator: EmulatorApp, response_type: str) -> None:
    values = fragment(authorize(Client(emulator), response_type, nonce=None))
    assert values["error"] == "invalid_request" and values["state"] == "s1"
    assert "id_token" not in values and "code" not in values and granted(emulator) == 0


@pytest.mark.parametrize("response_type", ["id_token", "token id_token"])
def test_tokens_are_never_sent_in_a_query(emulator: EmulatorApp, response_type: str) -> None:
    values = fragment(authorize(Client(emulator), response_type, response_mode="query"))
    assert values["error"] == "invalid_request" and granted(emulator) == 0


@pytest.mark.parametrize("response_type", ["code token", "id_token token code", "none", "", "code code2"])
def test_an_unknown_response_type_is_refused(emulator: EmulatorApp, response_type: str) -> None:
    answer = authorize(Client(emulator), response_type)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    values = parse_qs(location.query or location.fragment)
    assert values["error"] == ["unsupported_response_type"] and granted(emulator) == 0


# -- revoke ----------------------------------------------------------------------------------------
def signed_in(client: Client) -> dict[str, str]:
    status, tokens = exchange(client, code_for(client))
    assert status == 200
    return tokens


def revoke(
    client: Client, token: str, secret: str = SECRET, client_id: str = CLIENT_ID, **more: str
) -> TestResponse:
    return client.post(REVOKE, data={"token": token, "client_id": client_id, "client_secret": secret, **more})


def test_a_revoked_access_token_is_refused_on_rest_and_soap(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    access = signed_in(client)["access_token"]
    assert client.get(PRINCIPAL, headers={"Authorization": f"Bearer {access}"}).status_code == 200
    answer = revoke(client, access, token_type_hint="access_token")
    assert answer.status_code == 200
    rest = client.post(
        f"/{TENANT}/api/v1/Agents/Appointment/SetActivityStatus",
        json={"ActivityIdentifier": ["appointment_id=1"], "ActivityStatus": "Completed"},
        headers={"Authorization": f"Bearer {access}", "SO-AppToken": SECRET},
    )
    assert rest.status_code == 401
    assert body(rest)["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"
    envelope = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:t="http://www.superoffice.net/ws/crm/NetServer/Services86" '
        'xmlns:a="http://schemas.microsoft.com/2003/10/Serialization/Arrays"><s:Header>'
        f"<t:ApplicationToken>{SECRET}</t:ApplicationToken><t:Credentials><t:Ticket>{access}</t:Ticket>"
        "</t:Credentials></s:Header><s:Body><t:SetActivityStatus><t:ActivityIdentifier>"
        "<a:string>appointment_id=1</a:string></t:ActivityIdentifier><t:ActivityStatus>Completed"
        "</t:ActivityStatus></t:SetActivityStatus></s:Body></s:Envelope>"
    )
    soap = client.post(
        f"/{TENANT}/Remote/Services86/Appointment.svc",
        data=envelope,
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"',
        },
    )
    text = soap.get_data(as_text=True)
    assert "SuperOffice.Exceptions.SoSessionException" in text and ">false</" in text
    assert revoke(client, access).status_code == 200  # again: still 200


def test_a_revoked_refresh_token_refreshes_no_more_and_takes_its_access_tokens(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    tokens = signed_in(client)
    assert revoke(client, tokens["refresh_token"], token_type_hint="refresh_token").status_code == 200
    answer = client.post(
        "/login/common/oauth/tokens",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
        },
    )
    assert (answer.status_code, body(answer)["error"]) == (400, "invalid_grant")
    assert (
        client.get(PRINCIPAL, headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code
        == 401
    )


@pytest.mark.parametrize(
    "token", ["8A:Cust777.unknown", "Cust777.unknown", "whatever", "8A:Cust0.x", "../x.y"]
)
def test_revoking_an_unknown_token_answers_200(emulator: EmulatorApp, token: str) -> None:
    assert revoke(Client(emulator), token).status_code == 200


def test_revoke_authenticates_the_client(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    access = signed_in(client)["access_token"]
    answer = revoke(client, access, secret="wrong")
    assert (answer.status_code, body(answer)["error"]) == (401, "invalid_client")
    assert revoke(client, "", secret=SECRET).status_code == 400
    basic = base64.b64encode(f"{CLIENT_ID}:wrong".encode()).decode()
    answer = client.post(REVOKE, data={"token": access}, headers={"Authorization": f"Basic {basic}"})
    assert answer.status_code == 401
    assert client.get(PRINCIPAL, headers={"Authorization": f"Bearer {access}"}).status_code == 200
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    answer = client.post(REVOKE, data={"token": access}, headers={"Authorization": f"Basic {basic}"})
    assert answer.status_code == 200
    assert client.get(PRINCIPAL, headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_another_client_cannot_revoke_a_token(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    tokens = signed_in(client)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        answer = revoke(client, token, client_id=OTHER_ID, secret=OTHER_SECRET)
        assert (answer.status_code, body(answer)["error"]) == (400, "invalid_grant")
    assert (
        client.get(PRINCIPAL, headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code
        == 200
    )


# -- logout ----------------------------------------------------------------------------------------
def test_logout_goes_back_to_a_registered_uri_with_the_state(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    id_token = signed_in(client)["id_token"]
    answer = client.get(
        LOGOUT, query_string={"id_token_hint": id_token, "post_logout_redirect_uri": REDIRECT, "state": "bye"}
    )
    assert answer.status_code == 302 and answer.headers["Location"] == REDIRECT + "?state=bye"
    last = journal(client)[0]
    assert (last["operation"], last["outcome"], last["user"]) == ("SignOut", "signed out", "demo")
    by_client = client.get(
        LOGOUT, query_string={"client_id": CLIENT_ID, "post_logout_redirect_uri": REDIRECT}
    )
    assert by_client.status_code == 302 and by_client.headers["Location"] == REDIRECT


def test_logout_without_a_way_back_shows_a_page(emulator: EmulatorApp) -> None:
    answer = Client(emulator).get(LOGOUT)
    assert answer.status_code == 200 and answer.mimetype == "text/html" and "Location" not in answer.headers


@pytest.mark.parametrize(
    "query",
    [
        {"client_id": CLIENT_ID, "post_logout_redirect_uri": "https://evil.example/"},
        {"client_id": CLIENT_ID, "post_logout_redirect_uri": REDIRECT + "/../evil"},
        {"post_logout_redirect_uri": REDIRECT},  # no client named
        {"client_id": "no-such-app", "post_logout_redirect_uri": REDIRECT},
    ],
)
def test_logout_never_redirects_to_an_unregistered_uri(emulator: EmulatorApp, query: dict[str, str]) -> None:
    answer = Client(emulator).get(LOGOUT, query_string=query)
    assert answer.status_code == 400 and "Location" not in answer.headers


def _forged(claims: dict[str, object]) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "forged"})


def test_logout_refuses_a_forged_id_token_hint(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    real = verified(client, signed_in(client)["id_token"])
    unsigned = (
        ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
            for part in ({"alg": "none"}, real)
        )
        + "."
    )
    for hint in (_forged(real), unsigned, "not a jwt"):
        answer = client.get(
            LOGOUT, query_string={"id_token_hint": hint, "post_logout_redirect_uri": REDIRECT}
        )
        assert answer.status_code == 400 and "Location" not in answer.headers
    mismatch = client.get(
        LOGOUT,
        query_string={
            "id_token_hint": signed_in(client)["id_token"],
            "client_id": "other",
            "post_logout_redirect_uri": REDIRECT,
        },
    )
    assert mismatch.status_code == 400 and "Location" not in mismatch.headers


# -- the journal -----------------------------------------------------------------------------------
def test_the_journal_records_sign_ins_grants_and_revocations_without_secrets(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    code = code_for(client)
    tokens = exchange(client, code)[1]
    assert exchange(client, code)[0] == 400  # used: refused
    revoke(client, tokens["access_token"])
    client.post(
        AUTHORIZE,
        data={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "acr_values": f"tenant:{TENANT}",
            "user": "sam",
            "tenant": TENANT,
            "decision": "deny",
        },
    )
    entries = list(reversed(journal(client)))
    seen = [(e["operation"], e["outcome"], e["user"], e["exception_type"]) for e in entries]
    assert seen == [
        ("SignIn", "approved", "demo", None),
        ("Token", "granted", "demo", None),
        ("Token", "refused", None, "invalid_grant"),
        ("Revoke", "revoked", "demo", None),
        ("SignIn", "denied", "sam", None),
    ]
    assert all(e["wire"] == "superid" and e["service"] == "SuperID" for e in entries)
    assert all(CLIENT_ID in (e["message"] or "") for e in entries)
    assert entries[1]["message"] == f"{CLIENT_ID}: authorization_code"
    text = json.dumps(body(client.get(f"/{TENANT}/_emulator/journal")))
    for secret in (code, SECRET, tokens["access_token"], tokens["refresh_token"], tokens["id_token"]):
        assert secret not in text
