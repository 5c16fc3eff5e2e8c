"""Webhook delivery by real ``serve`` processes on a SQLite file: an event committed before a
SIGKILL is delivered after the restart, with its EventId; several workers post each event once;
the outbox and the deliveries log stay within their cap, and a reset empties them."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from superoffice_emulator.settings import Settings
from superoffice_emulator.storage.fixtures import FixtureError, parse_fixtures
from superoffice_emulator.testing import LiveServer, WebhookReceiver
from superoffice_emulator.webhooks.delivery import TRIM_EVERY
from tests.support.database import database_url, query
from tests.support.http import free_port
from tests.support.paths import ROOT
from tests.support.servers import kill_hard, server_process
from tests.support.webhooks import AUTH, Port, complete, register, settled

FAST = {"EMULATOR_WEBHOOK_FAST_RETRIES": "true"}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as found:
        yield found


def with_appointments(path: Path, count: int) -> Path:
    """The default fixtures plus ``count`` appointments (ids 1001...) the demo user may complete."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "fixtures" / "default.yaml").read_text())
    data["activities"]["appointment"].extend(
        {"id": 1001 + n, "title": f"hook {n}", "status": "NotStarted", "associate_id": 1}
        for n in range(count)
    )
    path.write_text(json.dumps(data, default=str))
    return path


def test_an_event_committed_before_a_sigkill_is_delivered_after_the_restart_with_its_event_id(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    database, log, port = tmp_path / "crm.db", tmp_path / "server.log", free_port()
    server = Port(port)
    with server_process(database, port, log=log, env=FAST) as process:
        assert register(server, receiver.url).status_code == 201
        receiver.hold()  # the first try waits at the receiver, unanswered
        assert complete(server, ["appointment_id=1"]) == 204  # committed, with its event
        [first] = receiver.wait_for(1)
        kill_hard(process)  # before the try's outcome is written
    receiver.release()
    with server_process(database, port, log=log, env=FAST):
        second = receiver.wait_for(2)[1]
        assert [(e["event_id"], e["outcome"]) for e in settled(server)] == [(first.event_id, "delivered")]
    assert second.event_id == first.event_id and second.retry == 1
    assert second.body == first.body and first.json["PrimaryKey"] == 1


def test_two_workers_post_every_event_exactly_once(tmp_path: Path, receiver: WebhookReceiver) -> None:
    calls, clients = 60, 4
    fixtures = with_appointments(tmp_path / "fixtures.json", calls)
    database, log, port = tmp_path / "crm.db", tmp_path / "server.log", free_port()
    server = Port(port)
    with server_process(database, port, log=log, fixtures=fixtures, workers=2):
        assert register(server, receiver.url, Events=["activity.changed"]).status_code == 201
        answers: list[int] = []

        def client(first: int) -> None:
            for n in range(first, calls, clients):
                answers.append(complete(server, [f"appointment_id={1001 + n}"]))

        threads = [threading.Thread(target=client, args=(first,)) for first in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [204] * calls
        events = settled(server)
    assert [e["outcome"] for e in events] == ["delivered"] * calls
    posted = Counter(posted.event_id for posted in receiver.events())
    assert set(posted) == {e["event_id"] for e in events}
    assert set(posted.values()) == {1}  # each event once, by one of the workers
    assert sorted(p.json["PrimaryKey"] for p in receiver.events()) == [1001 + n for n in range(calls)]


def test_the_outbox_and_the_deliveries_log_keep_their_cap_and_a_reset_empties_them(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    keep, calls = 5, TRIM_EVERY + 10
    fixtures = with_appointments(tmp_path / "fixtures.json", calls)
    db = tmp_path / "crm.db"
    settings = Settings(database_url=database_url(db), fixtures=fixtures, webhook_log_size=keep)
    with LiveServer(settings) as live:
        assert register(live, receiver.url, Events=["activity.changed"]).status_code == 201
        for n in range(calls):
            assert complete(live, [f"appointment_id={1001 + n}"]) == 204
        settled(live)
        assert len(receiver.events()) == calls
        events = query(db, "SELECT COUNT(*) FROM emulator_webhook_event")[0][0]
        tries = query(db, "SELECT COUNT(*) FROM emulator_webhook_delivery")[0][0]
        assert events <= keep + TRIM_EVERY and tries <= keep + TRIM_EVERY  # trimmed every TRIM_EVERY tries
        assert events < calls and tries < calls
        shown = requests.get(live.url("/_emulator/webhooks/deliveries"), timeout=30).json()["deliveries"]
        assert keep <= len(shown) == tries
        assert requests.post(live.url("/_emulator/reset"), timeout=30).status_code == 200
        assert query(db, "SELECT COUNT(*) FROM emulator_webhook_event")[0][0] == 0
        assert query(db, "SELECT COUNT(*) FROM emulator_webhook_delivery")[0][0] == 0


def test_webhooks_of_the_fixtures_get_events_and_come_back_with_a_reset(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    data: dict[str, Any] = yaml.safe_load((ROOT / "fixtures" / "default.yaml").read_text())
    data["webhooks"] = [
        {"name": "from-fixtures", "events": ["activity.changed"], "target_url": receiver.url, "secret": "s"}
    ]
    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text(json.dumps(data, default=str))
    settings = Settings(database_url=database_url(tmp_path / "crm.db"), fixtures=fixtures)
    with LiveServer(settings) as live:
        listed = requests.get(live.url("/api/v1/Webhook"), headers=AUTH, timeout=30).json()
        assert [(h["WebhookId"], h["Name"], h["State"]) for h in listed] == [(1, "from-fixtures", "Active")]
        assert complete(live, ["appointment_id=1"]) == 204
        [posted] = receiver.wait_for(1)
        assert posted.json["WebhookName"] == "from-fixtures" and posted.signed_with("s")
        gone = requests.delete(live.url("/api/v1/Webhook/1"), headers=AUTH, timeout=30)
        assert gone.status_code == 204
        assert requests.post(live.url("/_emulator/reset"), timeout=30).status_code == 200
        listed = requests.get(live.url("/api/v1/Webhook"), headers=AUTH, timeout=30).json()
        assert [h["Name"] for h in listed] == ["from-fixtures"]
        added = register(live, receiver.url, Name="added").json()
        assert added["WebhookId"] == 2  # after the fixtures' ids


@pytest.mark.parametrize(
    "hook, field",
    [
        ({"name": "x", "events": ["activity.changed"], "target_url": "ftp://x"}, None),
        ({"name": "x", "events": [], "target_url": "http://x"}, None),
        ({"name": "x", "events": ["a"], "target_url": "http://x", "state": "Sleeping"}, "state"),
        ({"name": "x", "events": ["a"], "target_url": "http://x", "webhook_id": 0}, "webhook_id"),
    ],
    ids=["not http", "no events", "unknown state", "id 0"],
)
def test_a_fixture_webhook_that_could_not_be_registered_is_refused(
    hook: dict[str, Any], field: str | None
) -> None:
    with pytest.raises(FixtureError) as refused:
        parse_fixtures(json.dumps({"webhooks": [hook]}), "f.json", json_format=True)
    assert refused.value.kind == "bad_value" and refused.value.field == field
