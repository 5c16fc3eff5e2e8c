"""System users of Online apps, driven as SuperOffice's samples drive them.

The app signs ``systemToken.yyyyMMddHHmm`` with its RSA private key (``cryptography``, PKCS#1 v1.5,
SHA-256), posts the exchange over REST (``urllib``) or SOAP (zeep, against the served WSDL), verifies
the answer's JWT with PyJWT against the JWKS and calls SetActivityStatus with the ticket it holds.
Hostile exchanges are refused with SuperOffice's error codes and mint nothing.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
import zeep
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzzing
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.test import Client
from zeep.transports import Transport

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.pytest_plugin import demo_private_key, sign_system_token
from superoffice_emulator.settings import Settings
from superoffice_emulator.storage import schema
from superoffice_emulator.storage.fixtures import FixtureError, parse_fixtures
from superoffice_emulator.testing import LiveServer
from tests.support.clock import FakeClock
from tests.support.database import read_row
from tests.support.soap import set_status

TENANT = "Cust777"
SECRET = "demo-app-secret"
SYSTEM_TOKEN = "Demo Online App-DemoSystemToken"
EXCHANGE = "/Login/api/PartnerSystemUser/Authenticate"
SERVICE = "/login/services/PartnerSystemUserService.svc"
ACTION = "http://www.superoffice.com/superid/partnersystemuser/0.1/IPartnerSystemUserService/Authenticate"
PSU = "http://www.superoffice.com/superid/partnersystemuser/0.1"
CLAIMS = "http://schemes.superoffice.net/identity/"
IDS = {"ActivityIdentifier": ["appointment_id=1"], "ActivityStatus": "Completed"}


def private_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(demo_private_key().encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def sign(token: str, at: datetime, key: rsa.RSAPrivateKey | None = None) -> str:
    """As the samples sign: ``token.yyyyMMddHHmm`` and base64 of its RSA SHA-256 signature."""
    payload = f"{token}.{at:%Y%m%d%H%M}"
    signature = (key or private_key()).sign(payload.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{payload}.{base64.b64encode(signature).decode()}"


def request_body(signed: str, *, secret: str = SECRET, tenant: str = TENANT, **more: Any) -> dict[str, Any]:
    return {
        "SignedSystemToken": signed,
        "ApplicationToken": secret,
        "ContextIdentifier": tenant,
        "ReturnTokenType": "JWT",
        **more,
    }


def verified(server: LiveServer, token: str, serial: str = "777") -> dict[str, Any]:
    """The JWT's claims, verified with PyJWT against the key the JWKS publishes."""
    keys = requests.get(server.url("/login/.well-known/jwks"), timeout=10).json()["keys"]
    assert jwt.get_unverified_header(token)["kid"] == keys[0]["kid"]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(keys[0]).key,
        algorithms=["RS256"],
        audience=f"spn:{serial}",
        issuer="SuperOffice AS",
    )
    return claims


@pytest.fixture
def online(settings: Settings) -> Settings:
    return settings.replace(mode="online", sign_in_as="demo")


@pytest.fixture
def server(online: Settings) -> Iterator[LiveServer]:
    with LiveServer(online) as live:  # the real clock: the token is signed for the current minute
        yield live


@pytest.fixture
def emulator(online: Settings, clock: FakeClock) -> Iterator[EmulatorApp]:
    application = create_app(online, clock=clock)
    yield application
    application.runtime.database.dispose()


def minted(app: EmulatorApp) -> int:
    """Tickets made since the tenant was (the fixtures' fixed ones are not)."""
    t = schema.ticket
    with app.runtime.database.engine.connect() as connection:
        count = select(func.count()).select_from(t).where(t.c.fixed.is_(False))
        return int(connection.execute(count).scalar_one())


def post(client: Client, body: object) -> tuple[int, dict[str, Any]]:
    answer = client.post(EXCHANGE, json=body)
    return answer.status_code, json.loads(answer.get_data())


# -- end to end, with the clients the samples use ---------------------------------------------------
def test_rest_exchange_gives_a_jwt_whose_ticket_calls_soap_and_rest(
    server: LiveServer, db_path: Path
) -> None:
    signed = sign(SYSTEM_TOKEN, datetime.now(UTC))
    request = urllib.request.Request(
        server.url(EXCHANGE),
        data=json.dumps(request_body(signed)).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
    assert answer["IsSuccessful"] is True and answer["ErrorMessage"] is None
    claims = verified(server, answer["Token"])
    ticket = claims[CLAIMS + "ticket"]
    assert ticket.startswith("7T:")
    assert claims[CLAIMS + "ctx"] == TENANT and claims[CLAIMS + "associateid"] == "1"
    assert claims[CLAIMS + "is_administrator"] == "True"
    assert claims[CLAIMS + "webapi_url"] == server.url(f"/{TENANT}/api/")

    soap = zeep.Client(
        claims[CLAIMS + "netserver_url"] + "Appointment.svc?wsdl",
        transport=Transport(timeout=10, operation_timeout=10),
    )
    result = soap.service.SetActivityStatus(
        ActivityIdentifier={"string": ["appointment_id=1"]},
        ActivityStatus="Completed",
        _soapheaders={"ApplicationToken": SECRET, "Credentials": {"Ticket": ticket}},
    )
    assert result.header.Succeeded is True
    assert read_row(db_path, "appointment", 1, tenant=TENANT)["status"] == 3

    rest = requests.post(
        claims[CLAIMS + "webapi_url"] + "v1/Agents/Appointment/SetActivityStatus",
        json={"ActivityIdentifier": ["todo_id=1"], "ActivityStatus": "Started"},
        headers={"Authorization": f"SOTicket {ticket}", "SO-AppToken": SECRET},
        timeout=10,
    )
    assert rest.status_code == 204
    assert read_row(db_path, "todo", 1, tenant=TENANT)["status"] == 2


def test_soap_exchange_through_zeep_against_the_served_wsdl(server: LiveServer) -> None:
    client = zeep.Client(server.url(SERVICE + "?wsdl"), transport=Transport(timeout=10, operation_timeout=10))
    answer = client.service.Authenticate(
        SignedSystemToken=sign(SYSTEM_TOKEN, datetime.now(UTC)),
        ReturnTokenType="Jwt",
        _soapheaders={"ApplicationToken": SECRET, "ContextIdentifier": TENANT},
    )
    assert answer.IsSuccessful is True and answer.ErrorMessage is None
    assert verified(server, answer.Token)[CLAIMS + "ticket"].startswith("7T:")

    refused = client.service.Authenticate(
        SignedSystemToken=sign(SYSTEM_TOKEN, datetime.now(UTC) - timedelta(hours=1)),
        ReturnTokenType="Jwt",
        _soapheaders={"ApplicationToken": SECRET, "ContextIdentifier": TENANT},
    )
    assert refused.IsSuccessful is False and refused.Token is None
    assert refused.ErrorMessage.startswith("InvalidTimestamp (6)")


def test_the_samples_spellings_of_the_paths_answer(emulator: EmulatorApp, clock: FakeClock) -> None:
    client = Client(emulator)
    for path in ("/login/api/PartnerSystemUser/Authenticate", EXCHANGE):
        answer = client.post(path, json=request_body(sign(SYSTEM_TOKEN, clock.now)))
        assert answer.status_code == 200 and answer.json is not None and answer.json["IsSuccessful"] is True
    for path in (SERVICE, "/Login/Services/PartnerSystemUserService.svc"):
        wsdl = client.get(path + "?wsdl")
        assert wsdl.status_code == 200 and b"IPartnerSystemUserService" in wsdl.get_data()
        assert f'location="http://localhost{path}"'.encode() in wsdl.get_data()
    assert client.get(EXCHANGE).status_code == 405


# -- the id_token carries the system token --------------------------------------------------------
def sign_in(client: Client) -> dict[str, Any]:
    redirect = "http://127.0.0.1:3000/callback"
    answer = client.get(
        "/login/common/oauth/authorize",
        query_string={
            "client_id": "demo-app",
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "openid",
            "acr_values": f"tenant:{TENANT}",
        },
    )
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    tokens = client.post(
        "/login/common/oauth/tokens",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": "demo-app",
            "client_secret": SECRET,
        },
    )
    body = tokens.json
    assert body is not None
    claims: dict[str, Any] = jwt.decode(body["id_token"], options={"verify_signature": False})
    return claims


def test_the_id_token_carries_the_system_token_while_the_consent_exists(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    assert sign_in(client)[CLAIMS + "system_token"] == SYSTEM_TOKEN
    assert client.delete(f"/{TENANT}/_emulator/consents/demo-app").status_code == 200
    assert CLAIMS + "system_token" not in sign_in(client)


# -- hostile exchanges: the documented code, nothing minted -------------------------------------------
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    ("signed", "code"),
    [
        (lambda now: sign(SYSTEM_TOKEN, now - timedelta(minutes=6)), "InvalidTimestamp (6)"),
        (lambda now: sign(SYSTEM_TOKEN, now + timedelta(minutes=6)), "InvalidTimestamp (6)"),
        (lambda now: sign(SYSTEM_TOKEN, now, other_key()), "InvalidSignature (7)"),
        (lambda now: sign("Demo Online App-SomeoneElses", now), "Revoked (1)"),
        (lambda now: "", "InvalidSignature (7)"),
        (lambda now: SYSTEM_TOKEN, "InvalidSignature (7)"),
        (lambda now: f"{SYSTEM_TOKEN}.20260105", "InvalidSignature (7)"),
        (lambda now: f"{SYSTEM_TOKEN}.2026010509.AAAA", "InvalidTimestamp (6)"),
        (lambda now: f"{SYSTEM_TOKEN}.202613450900.AAAA", "InvalidTimestamp (6)"),
        (lambda now: f"{SYSTEM_TOKEN}.{now:%Y%m%d%H%M}.not*base64!", "InvalidSignature (7)"),
        (lambda now: f"{SYSTEM_TOKEN}.{now:%Y%m%d%H%M}.AAAA", "InvalidSignature (7)"),
        (lambda now: sign(SYSTEM_TOKEN, now)[:-8] + "AAAAAAA=", "InvalidSignature (7)"),
        (lambda now: "x" * 100_000 + sign(SYSTEM_TOKEN, now), "InvalidSignature (7)"),
        (lambda now: "\ud800" + sign(SYSTEM_TOKEN, now), "InvalidSignature (7)"),
        (lambda now: sign(SYSTEM_TOKEN + "\x00", now), "InvalidSignature (7)"),
    ],
    ids=[
        "stale",
        "future",
        "another-key",
        "another-system-token",
        "empty",
        "no-stamp",
        "no-signature",
        "short-stamp",
        "no-such-month",
        "not-base64",
        "short-signature",
        "tampered",
        "huge",
        "lone-surrogate",
        "nul",
    ],
)
def test_a_bad_signed_token_is_refused_with_its_code_and_mints_nothing(
    emulator: EmulatorApp, clock: FakeClock, signed: Any, code: str
) -> None:
    client = Client(emulator)
    emulator.runtime.database.ensure_tenant(TENANT)
    status, answer = post(client, request_body(signed(clock.now)))
    assert status == 200
    assert answer["IsSuccessful"] is False and answer["Token"] is None
    assert answer["ErrorMessage"].startswith(code)
    assert minted(emulator) == 0


def test_four_minutes_either_way_is_inside_the_window(emulator: EmulatorApp, clock: FakeClock) -> None:
    client = Client(emulator)
    for minutes in (-4, 4):
        status, answer = post(
            client, request_body(sign(SYSTEM_TOKEN, clock.now + timedelta(minutes=minutes)))
        )
        assert status == 200
        assert answer["IsSuccessful"] is True, answer["ErrorMessage"]
    assert minted(emulator) == 2


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"secret": "wrong-secret"}, "Denied (4)"),
        ({"secret": ""}, "Denied (4)"),
        ({"secret": "1234567-1234-9876"}, "Denied (4)"),  # an application token, but no app's secret
        ({"tenant": "../Cust777"}, "Denied (4)"),
        ({"tenant": ""}, "Denied (4)"),
        ({"secret": "demo-app-secret\x00"}, "Denied (4)"),
        ({"secret": "\udfff"}, "Denied (4)"),
        ({"tenant": "Cust\x00777"}, "Denied (4)"),
    ],
    ids=[
        "wrong-secret",
        "no-secret",
        "not-a-client-secret",
        "bad-tenant-name",
        "no-tenant",
        "nul-secret",
        "surrogate-secret",
        "nul-tenant",
    ],
)
def test_a_wrong_application_token_or_tenant_is_denied(
    emulator: EmulatorApp, clock: FakeClock, changes: dict[str, str], code: str
) -> None:
    emulator.runtime.database.ensure_tenant(TENANT)
    status, answer = post(Client(emulator), request_body(sign(SYSTEM_TOKEN, clock.now), **changes))
    assert status == 200 and answer["IsSuccessful"] is False
    assert answer["ErrorMessage"].startswith(code)
    assert "wrong-secret" not in answer["ErrorMessage"]
    assert minted(emulator) == 0


def test_an_unknown_tenant_is_denied_and_not_made(emulator: EmulatorApp, clock: FakeClock) -> None:
    # a system token the fixtures do not give: no tenant is made for it
    status, answer = post(
        Client(emulator), request_body(sign("Other App-abcdefghij", clock.now), tenant="Cust999")
    )
    assert status == 200
    assert answer["IsSuccessful"] is False and answer["ErrorMessage"].startswith("Denied (4)")
    assert "Cust999" not in emulator.runtime.database.tenants()
    assert minted(emulator) == 0


def test_a_revoked_consent_refuses_and_a_suspended_tenant_denies(
    emulator: EmulatorApp, clock: FakeClock
) -> None:
    client = Client(emulator)
    assert post(client, request_body(sign(SYSTEM_TOKEN, clock.now)))[1]["IsSuccessful"] is True
    assert minted(emulator) == 1
    assert client.delete(f"/{TENANT}/_emulator/consents/demo-app").status_code == 200
    answer = post(client, request_body(sign(SYSTEM_TOKEN, clock.now)))[1]
    assert answer["IsSuccessful"] is False and answer["ErrorMessage"].startswith("Revoked (1)")
    assert minted(emulator) == 1
    client.post(f"/{TENANT}/_emulator/reset")  # the consent back, the tickets gone
    client.post(f"/{TENANT}/_emulator/state", json={"state": "Suspended"})
    answer = post(client, request_body(sign(SYSTEM_TOKEN, clock.now)))[1]
    assert answer["IsSuccessful"] is False and answer["ErrorMessage"].startswith("Denied (4)")
    assert minted(emulator) == 0


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"SignedSystemToken": 5}', b'{"ContextIdentifier": ["Cust777"]}', b"\xff\xfe"],
)
def test_an_unreadable_request_is_a_400_in_the_answer_shape(emulator: EmulatorApp, body: bytes) -> None:
    answer = Client(emulator).post(EXCHANGE, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json is not None and answer.json["IsSuccessful"] is False and answer.json["ErrorMessage"]
    assert minted(emulator) == 0


def test_a_huge_body_is_refused_before_it_is_read(settings: Settings, clock: FakeClock) -> None:
    application = create_app(settings.replace(mode="online", max_body_bytes=4096), clock=clock)
    try:
        body = json.dumps(request_body(sign(SYSTEM_TOKEN, clock.now), Padding="x" * 10_000)).encode()
        answer = Client(application).post(EXCHANGE, data=body, content_type="application/json")
        assert answer.status_code == 413 and answer.json is not None and answer.json["IsSuccessful"] is False
        soap = Client(application).post(
            SERVICE, data=b"<x>" + b" " * 10_000, content_type="text/xml", headers={"SOAPAction": ACTION}
        )
        assert soap.status_code == 413 and b"Fault" in soap.get_data()
        assert minted(application) == 0
    finally:
        application.runtime.database.dispose()


def test_property_names_are_read_in_any_case_and_saml_is_refused(
    emulator: EmulatorApp, clock: FakeClock
) -> None:
    client = Client(emulator)
    lower = {key.lower(): value for key, value in request_body(sign(SYSTEM_TOKEN, clock.now)).items()}
    assert post(client, lower)[1]["IsSuccessful"] is True
    saml = post(client, request_body(sign(SYSTEM_TOKEN, clock.now), ReturnTokenType="Saml"))[1]
    assert saml["IsSuccessful"] is False and "Saml" in saml["ErrorMessage"]
    assert minted(emulator) == 1


def soap_call(
    client: Client, token: str, *, action: str = ACTION, kind: str = "Jwt", tenant: str = TENANT
) -> Any:
    envelope = f"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="{PSU}">
      <s:Header><p:ApplicationToken>{SECRET}</p:ApplicationToken>
        <p:ContextIdentifier>{tenant}</p:ContextIdentifier></s:Header>
      <s:Body><p:AuthenticationRequest><p:SignedSystemToken>{token}</p:SignedSystemToken>
        <p:ReturnTokenType>{kind}</p:ReturnTokenType></p:AuthenticationRequest></s:Body></s:Envelope>"""
    return client.post(
        SERVICE, data=envelope, content_type="text/xml; charset=utf-8", headers={"SOAPAction": action}
    )


def test_soap_refusals_and_faults(emulator: EmulatorApp, clock: FakeClock) -> None:
    client = Client(emulator)
    refused = soap_call(client, sign(SYSTEM_TOKEN, clock.now, other_key()))
    assert refused.status_code == 200
    assert b"<IsSuccessful>false</IsSuccessful>" in refused.get_data()
    assert b"InvalidSignature (7)" in refused.get_data()
    wrong_action = soap_call(client, sign(SYSTEM_TOKEN, clock.now), action="urn:nothing")
    assert wrong_action.status_code == 500 and b"a:ActionNotSupported" in wrong_action.get_data()
    wrong_kind = soap_call(client, sign(SYSTEM_TOKEN, clock.now), kind="Opaque")
    assert wrong_kind.status_code == 500 and b"a:DeserializationFailed" in wrong_kind.get_data()
    dtd = client.post(
        SERVICE,
        data=b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>',
        content_type="text/xml",
        headers={"SOAPAction": ACTION},
    )
    assert dtd.status_code == 400 and b"Fault" in dtd.get_data()
    assert minted(emulator) == 0


# -- the ticket: 6 hours, sliding; the journal ------------------------------------------------------
def test_the_ticket_slides_and_then_expires_with_a_session_exception(
    emulator: EmulatorApp, clock: FakeClock
) -> None:
    client = Client(emulator)
    token = post(client, request_body(sign(SYSTEM_TOKEN, clock.now)))[1]["Token"]
    ticket = jwt.decode(token, options={"verify_signature": False})[CLAIMS + "ticket"]
    headers = {"Authorization": f"SOTicket {ticket}", "SO-AppToken": SECRET}
    path = f"/{TENANT}/api/v1/Agents/Appointment/SetActivityStatus"
    for _ in range(2):
        clock.advance(hours=5)
        assert client.post(path, json=IDS, headers=headers).status_code == 204
    soap = set_status(client, ["appointment_id=2"], ticket=ticket, token=SECRET, tenant=TENANT)
    assert soap.succeeded is True
    clock.advance(hours=6, seconds=1)
    expired = client.post(path, json=IDS, headers=headers)
    assert expired.status_code == 401
    assert "SoSessionException" in expired.get_data(as_text=True)
    refused = set_status(client, ["appointment_id=2"], ticket=ticket, token=SECRET, tenant=TENANT)
    assert refused.succeeded is False
    assert refused.info["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"


def test_the_journal_records_each_exchange_without_its_secrets(
    emulator: EmulatorApp, clock: FakeClock
) -> None:
    client = Client(emulator)
    good = sign(SYSTEM_TOKEN, clock.now)
    post(client, request_body(good))
    post(client, request_body(sign(SYSTEM_TOKEN, clock.now, other_key())))
    entries = client.get(f"/{TENANT}/_emulator/journal?operation=SystemUser").json
    assert entries is not None
    assert [(e["service"], e["outcome"], e["exception_type"], e["user"]) for e in entries] == [
        ("SuperID", "refused", "InvalidSignature", None),
        ("SuperID", "granted", None, "demo"),
    ]
    assert all(e["message"].startswith("demo-app: ") for e in entries)
    text = json.dumps(entries)
    assert SECRET not in text and good.rsplit(".", 1)[1] not in text and "7T:" not in text


# -- keys, fixtures and the admin API ------------------------------------------------------------------
def xml_public_key(key: rsa.RSAPrivateKey) -> str:
    numbers = key.public_key().public_numbers()

    def b64(number: int) -> str:
        return base64.b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).decode()

    return (
        f"<RSAKeyValue><Modulus>{b64(numbers.n)}</Modulus><Exponent>{b64(numbers.e)}</Exponent></RSAKeyValue>"
    )


XML_APP_FIXTURES = """
roles: [{role_id: 1, name: Administrator, rights: {all: update}}]
users: [{associate_id: 1, name: admin, password_hash: x, role_id: 1, group_id: 1}]
applications:
  - {client_id: xml-app, client_secret: xml-secret, name: XML App, redirect_uris: [], system_user: true,
     public_key: "%s"}
consents: [{client_id: xml-app, user: admin}]
"""


def test_an_rsa_xml_public_key_is_accepted(settings: Settings, clock: FakeClock, tmp_path: Path) -> None:
    key = other_key()
    fixtures = tmp_path / "xml.yaml"
    fixtures.write_text(XML_APP_FIXTURES % xml_public_key(key))
    application = create_app(settings.replace(fixtures=fixtures), clock=clock)
    try:
        client = Client(application)
        consents = client.get(f"/{TENANT}/_emulator/consents").json
        assert consents is not None
        [consent] = consents
        assert consent["system_token"].startswith("XML App-") and len(consent["system_token"]) == 18
        answer = post(
            client, request_body(sign(consent["system_token"], clock.now, key), secret="xml-secret")
        )[1]
        assert answer["IsSuccessful"] is True, answer["ErrorMessage"]
        other_tenant = client.get("/Cust778/_emulator/consents").json
        assert other_tenant is not None and other_tenant[0]["system_token"] != consent["system_token"]
    finally:
        application.runtime.database.dispose()


@pytest.mark.parametrize(
    ("old", "new", "kind", "field"),
    [
        ("<RSAKeyValue>", "<RSAKey>", "bad_value", "public_key"),
        ("system_user: true", "system_user: false", "bad_value", "client_id"),
        ("system_user: true", "system_user: yes please", "bad_type", "system_user"),
        ("client_id: xml-app, user", "client_id: nope, user", "unknown_reference", "client_id"),
        ("user: admin}", "user: nobody}", "unknown_reference", "user"),
        ("user: admin}", "user: admin, token: x}", "unknown_key", "token"),
        ("user: admin}", "user: admin, system_token: ' padded '}", "bad_value", "system_token"),
    ],
)
def test_bad_system_user_fixtures_are_refused_by_kind(old: str, new: str, kind: str, field: str) -> None:
    valid = XML_APP_FIXTURES % xml_public_key(private_key())
    assert parse_fixtures(valid, "test").consents
    with pytest.raises(FixtureError) as caught:
        parse_fixtures(valid.replace(old, new), "test")
    assert (caught.value.kind, caught.value.field) == (kind, field)


def test_admin_api_lists_adds_and_revokes_consents(emulator: EmulatorApp) -> None:
    client = Client(emulator)
    base = f"/{TENANT}/_emulator/consents"
    assert client.get(base).json == [
        {"client_id": "demo-app", "system_token": SYSTEM_TOKEN, "associate_id": 1, "user": "demo"}
    ]
    assert client.post(base, json={"client_id": "demo-app", "user": "demo"}).status_code == 409
    assert client.delete(base + "/demo-app").status_code == 200
    assert client.delete(base + "/demo-app").status_code == 404
    added = client.post(base, json={"client_id": "demo-app", "user": "sam"})
    assert added.status_code == 201 and added.json is not None
    assert added.json["system_token"].startswith("Demo Online App-") and added.json["user"] == "sam"
    assert client.post(base, json={"client_id": "nope", "user": "sam"}).status_code == 404
    assert client.post(base, json={"client_id": "demo-app"}).status_code == 400
    assert client.post(base, json={"client_id": "demo-app", "user": "sam", "x": 1}).status_code == 400
    assert client.post(base, json={"client_id": "demo-app", "user": "s\x00m"}).status_code == 400
    apps = client.get(f"/{TENANT}/_emulator/applications").json
    assert apps is not None and apps[0]["system_user"] is True


def test_the_plugin_helper_signs_as_the_samples_do(emulator: EmulatorApp, clock: FakeClock) -> None:
    signed = sign_system_token(SYSTEM_TOKEN, at=clock.now.replace(tzinfo=UTC))
    assert signed == sign(SYSTEM_TOKEN, clock.now)  # PKCS#1 v1.5 is deterministic
    assert post(Client(emulator), request_body(signed))[1]["IsSuccessful"] is True


def test_a_new_tenant_beyond_the_limit_is_denied_not_made(settings: Settings, clock: FakeClock) -> None:
    application = create_app(settings.replace(mode="online", max_tenants=1), clock=clock)
    try:
        application.runtime.database.ensure_tenant("Cust1")
        answer = post(Client(application), request_body(sign(SYSTEM_TOKEN, clock.now), tenant="Cust2"))[1]
        assert answer["IsSuccessful"] is False and answer["ErrorMessage"].startswith("Denied (4)")
        assert application.runtime.database.tenants() == ["Cust1"]
        assert minted(application) == 0
    finally:
        application.runtime.database.dispose()


def test_an_older_database_gets_the_column_and_the_table(
    settings: Settings, db_path: Path, clock: FakeClock
) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the old database is made by dropping a column with sqlite3")
    first = create_app(settings, clock=clock)
    first.runtime.database.ensure_tenant(TENANT)
    first.runtime.database.dispose()
    with closing(sqlite3.connect(db_path)) as connection, connection:  # as made before system users
        connection.execute("ALTER TABLE application DROP COLUMN system_user")
        connection.execute("DROP TABLE consent")
    again = create_app(settings, clock=clock)
    try:
        apps = Client(again).get(f"/{TENANT}/_emulator/applications").json
        assert apps is not None and apps[0]["system_user"] is False
        answer = post(Client(again), request_body(sign(SYSTEM_TOKEN, clock.now)))[1]
        assert answer["IsSuccessful"] is False and answer["ErrorMessage"].startswith("Denied (4)")
    finally:
        again.runtime.database.dispose()


# -- anything a client may send: a refusal in the answer's shape, never a crash, nothing minted ----------
_FUZZ = fuzzing(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from([SYSTEM_TOKEN, SECRET, TENANT, "", "Cust777.", "...", "\x00", "\ud800"]),
)


@_FUZZ
@given(signed=_TEXT, secret=_TEXT, tenant=_TEXT, kind=st.one_of(_TEXT, st.integers(-2, 3), st.none()))
def test_generated_exchanges_are_refused_in_the_answers_shape(
    emulator: EmulatorApp, signed: str, secret: str, tenant: str, kind: object
) -> None:
    body = {"SignedSystemToken": signed, "ApplicationToken": secret, "ContextIdentifier": tenant}
    answer = Client(emulator).post(EXCHANGE, json={**body, "ReturnTokenType": kind})
    assert answer.status_code in (200, 400)
    assert answer.json is not None and answer.json["IsSuccessful"] is False and answer.json["ErrorMessage"]
    assert b"Traceback" not in answer.data
    assert minted(emulator) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", "text/xml", 400),
        (b"not xml", "text/xml", 400),
        (b"<a>" * 300 + b"</a>" * 300, "text/xml", 400),
        (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>', "text/xml", 500),
        (b'<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body/></Envelope>', "text/xml", 400),
        (b"<x/>", "application/soap+xml", 415),
        (b"<x/>", "application/json", 415),
    ],
)
def test_an_unreadable_soap_request_is_a_fault(
    emulator: EmulatorApp, body: bytes, content_type: str, status: int
) -> None:
    answer = Client(emulator).post(
        SERVICE, data=body, content_type=content_type, headers={"SOAPAction": ACTION}
    )
    assert answer.status_code == status and b"Fault" in answer.data and b"Traceback" not in answer.data
    assert minted(emulator) == 0
