"""Online, an application sees and changes only its own webhooks, whatever credential it calls with:
an access token the sign-in granted it (Bearer, or as the ticket), or a ticket with its SO-AppToken.

In-process through werkzeug's client, with two applications registered in the fixtures, each with a
webhook of its own; a real receiver answers the test post of every registration.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text
from werkzeug.test import Client, TestResponse

from superoffice_emulator.app import create_app
from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import WebhookReceiver
from tests.support.clock import FakeClock

TENANT = "Cust12345"
ROOT = f"/{TENANT}/api/v1/Webhook"
AGENT = f"/{TENANT}/api/v1/Agents/Webhook"
REDIRECT = "http://127.0.0.1:3000/callback"
TICKET = "7T:1234abcxyzExample=="
FIXTURE_TOKEN = f"8A:{TENANT}.FixtureToken"
PLAIN = "1234567-1234-9876"
SESSION = "SuperOffice.Exceptions.SoSessionException"
FIXTURES = f"""\
roles:
  - {{role_id: 1, name: Administrator, rights: {{all: update}}}}
users:
  - {{associate_id: 1, name: demo, password: demo, role_id: 1, group_id: 1,
     tickets: ["{TICKET}"], access_tokens: ["{FIXTURE_TOKEN}"]}}
application_tokens: ["{PLAIN}"]
activities:
  appointment:
    - {{id: 41, title: Only one, status: NotStarted, associate_id: 1}}
applications:
  - {{client_id: demo-app, client_secret: demo-app-secret, name: Demo app, redirect_uris: ["{REDIRECT}"]}}
  - {{client_id: other-app, client_secret: other-app-secret, name: Other app, redirect_uris: ["{REDIRECT}"]}}
webhooks:
  - {{webhook_id: 1, name: others, events: [activity.changed], target_url: "http://127.0.0.1:9/o",
     secret: other-secret, application: other-app}}
  - {{webhook_id: 2, name: nobodys, events: [activity.changed], target_url: "http://127.0.0.1:9/n"}}
  - {{webhook_id: 3, name: plain, events: [activity.changed], target_url: "http://127.0.0.1:9/p",
     application: "{PLAIN}"}}
"""
SECRETS = {"demo-app": "demo-app-secret", "other-app": "other-app-secret"}


def _client(settings: Settings, clock: FakeClock, tmp_path: Path, mode: str) -> Iterator[Client]:
    fixtures = tmp_path / "two-apps.yaml"
    fixtures.write_text(FIXTURES)
    application = create_app(settings.replace(mode=mode, sign_in_as="demo", fixtures=fixtures), clock=clock)
    try:
        yield Client(application)
    finally:
        application.runtime.database.dispose()


@pytest.fixture
def online(settings: Settings, clock: FakeClock, tmp_path: Path) -> Iterator[Client]:
    yield from _client(settings, clock, tmp_path, "online")


@pytest.fixture
def onsite(settings: Settings, clock: FakeClock, tmp_path: Path) -> Iterator[Client]:
    yield from _client(settings, clock, tmp_path, "onsite")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as found:
        yield found


def access_token(client: Client, client_id: str) -> str:
    """An access token the sign-in grants ``client_id`` (code flow with PKCE, signed in as demo)."""
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    authorize = client.get(
        "/login/common/oauth/authorize",
        query_string={
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "acr_values": f"tenant:{TENANT}",
        },
    )
    assert authorize.status_code == 302
    code = parse_qs(urlsplit(authorize.headers["Location"]).query)["code"][0]
    tokens = client.post(
        "/login/common/oauth/tokens",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "client_secret": SECRETS[client_id],
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200
    token: str = json.loads(tokens.get_data())["access_token"]
    return token


def body(answer: TestResponse) -> Any:
    return json.loads(answer.get_data())


def ids(client: Client, headers: dict[str, str]) -> list[int]:
    answer = client.get(ROOT, headers=headers)
    assert answer.status_code == 200, answer.get_data()
    return [hook["WebhookId"] for hook in body(answer)]


def register(client: Client, headers: dict[str, str], target: str, name: str) -> TestResponse:
    carrier = {"Name": name, "Events": ["activity.changed"], "TargetUrl": target}
    return client.post(ROOT, json=carrier, headers=headers)


def refused(answer: TestResponse) -> bool:
    return answer.status_code == 401 and body(answer)["ExceptionType"] == SESSION


def test_an_apps_access_token_lists_reads_and_changes_only_its_own_webhooks(
    online: Client, receiver: WebhookReceiver
) -> None:
    demo = {"Authorization": f"Bearer {access_token(online, 'demo-app')}"}
    other = {"Authorization": f"Bearer {access_token(online, 'other-app')}"}
    assert ids(online, demo) == []  # neither the other app's, nor the one of no app, nor the plain token's
    assert ids(online, other) == [1]
    for path in (f"{ROOT}/1", f"{ROOT}/1/LastError", f"{ROOT}/2", f"{ROOT}/3"):
        assert online.get(path, headers=demo).status_code == 404
    changed = online.put(f"{ROOT}/1", json={"Name": "mine now"}, headers=demo)
    assert changed.status_code == 404
    assert online.delete(f"{ROOT}/1", headers=demo).status_code == 404
    assert online.post(f"{AGENT}/GetWebhook?webhookId=1", headers=demo).status_code == 404
    assert online.post(f"{AGENT}/DeleteWebhook?webhookId=1", headers=demo).status_code == 404
    assert body(online.post(f"{AGENT}/GetAllWebhooks", headers=demo)) == []
    assert [(h["Name"], h["Secret"]) for h in body(online.get(ROOT, headers=other))] == [
        ("others", "other-secret")
    ]

    created = register(online, demo, receiver.url, "demo's")
    assert created.status_code == 201
    mine = body(created)["WebhookId"]
    assert ids(online, demo) == [mine]
    assert ids(online, other) == [1]  # the other app does not see it
    assert online.get(f"{ROOT}/{mine}", headers=other).status_code == 404
    assert online.delete(f"{ROOT}/{mine}", headers=other).status_code == 404
    assert online.put(f"{ROOT}/{mine}", json={"Name": "renamed"}, headers=demo).status_code == 200
    assert online.delete(f"{ROOT}/{mine}", headers=demo).status_code == 204
    assert ids(online, other) == [1]


def test_an_app_is_the_same_by_its_access_token_as_a_ticket_and_by_its_client_secret(
    online: Client, receiver: WebhookReceiver
) -> None:
    token = access_token(online, "demo-app")
    bearer = {"Authorization": f"Bearer {token}"}
    as_ticket = {"Authorization": f"SOTicket {token}", "SO-AppToken": "demo-app-secret"}
    by_secret = {"Authorization": f"SOTicket {TICKET}", "SO-AppToken": "demo-app-secret"}
    fixture_token = {"Authorization": f"Bearer {FIXTURE_TOKEN}", "SO-AppToken": "demo-app-secret"}
    assert register(online, by_secret, receiver.url, "by secret").status_code == 201
    both = {**bearer, "SO-AppToken": "demo-app-secret"}
    for headers in (bearer, as_ticket, by_secret, fixture_token, both):
        assert [h["Name"] for h in body(online.get(ROOT, headers=headers))] == ["by secret"]


def test_a_plain_application_tokens_webhooks_are_its_own(online: Client, receiver: WebhookReceiver) -> None:
    plain = {"Authorization": f"SOTicket {TICKET}", "SO-AppToken": PLAIN}
    assert ids(online, plain) == [3]
    created = register(online, plain, receiver.url, "plain's")
    assert created.status_code == 201
    assert ids(online, plain) == [3, body(created)["WebhookId"]]
    assert ids(online, {"Authorization": f"Bearer {FIXTURE_TOKEN}", "SO-AppToken": PLAIN}) == [
        3,
        body(created)["WebhookId"],
    ]
    assert ids(online, {"Authorization": f"Bearer {access_token(online, 'demo-app')}"}) == []


def test_a_caller_naming_no_application_is_refused_online(online: Client, receiver: WebhookReceiver) -> None:
    nobody = {"Authorization": f"Bearer {FIXTURE_TOKEN}"}  # a fixture's token belongs to no app
    assert refused(online.get(ROOT, headers=nobody))
    assert refused(online.get(f"{ROOT}/2", headers=nobody))
    assert refused(online.delete(f"{ROOT}/2", headers=nobody))
    assert refused(online.post(f"{AGENT}/GetAllWebhooks", headers=nobody))
    assert refused(register(online, nobody, receiver.url, "nobody's"))
    assert receiver.posts == []  # refused before any test post
    assert ids(online, {"Authorization": f"Bearer {access_token(online, 'other-app')}"}) == [1]


@pytest.mark.parametrize("sent", ["other-app-secret", PLAIN])
def test_an_app_token_beside_another_apps_access_token_is_refused(online: Client, sent: str) -> None:
    mixed = {"Authorization": f"Bearer {access_token(online, 'demo-app')}", "SO-AppToken": sent}
    assert refused(online.get(ROOT, headers=mixed))
    assert refused(online.get(f"{ROOT}/1", headers=mixed))
    assert refused(online.delete(f"{ROOT}/1", headers=mixed))
    assert ids(online, {"Authorization": f"Bearer {access_token(online, 'other-app')}"}) == [1]


def test_onsite_every_caller_sees_every_webhook(onsite: Client, receiver: WebhookReceiver) -> None:
    ticket = {"Authorization": f"SOTicket {TICKET}"}
    assert ids(onsite, ticket) == [1, 2, 3]
    created = register(onsite, ticket, receiver.url, "onsite")
    assert created.status_code == 201
    with_token = {**ticket, "SO-AppToken": "demo-app-secret"}
    assert ids(onsite, with_token) == [1, 2, 3, body(created)["WebhookId"]]
    assert onsite.delete(f"{ROOT}/1", headers=with_token).status_code == 204


def test_the_admin_api_shows_each_webhooks_application(online: Client) -> None:
    assert ids(online, {"Authorization": f"SOTicket {TICKET}", "SO-AppToken": PLAIN}) == [
        3
    ]  # makes the tenant
    hooks = body(online.get(f"/{TENANT}/_emulator/webhooks"))["webhooks"]
    assert [(h["webhook_id"], h["application"]) for h in hooks] == [(1, "other-app"), (2, None), (3, PLAIN)]


def test_a_webhook_an_older_version_keyed_by_its_apps_secret_is_keyed_by_its_client_id(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    serving = contextmanager(_client)
    with serving(settings, clock, tmp_path, "online") as online:
        ids(online, {"Authorization": f"SOTicket {TICKET}", "SO-AppToken": PLAIN})  # makes the tenant
        with online.application.runtime.database.engine.begin() as older:  # type: ignore[attr-defined]
            # as an older version wrote a webhook registered online: its SO-AppToken, the client secret
            older.execute(text("UPDATE webhook SET application = 'other-app-secret' WHERE webhook_id = 1"))
    with serving(settings, clock, tmp_path, "online") as online:
        hooks = body(online.get(f"/{TENANT}/_emulator/webhooks"))["webhooks"]
        assert [(h["webhook_id"], h["application"]) for h in hooks] == [
            (1, "other-app"),
            (2, None),
            (3, PLAIN),
        ]
        assert "other-app-secret" not in json.dumps(hooks)
        assert ids(online, {"Authorization": f"Bearer {access_token(online, 'other-app')}"}) == [1]
