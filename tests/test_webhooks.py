"""Webhooks over real sockets: a receiver registered through the REST endpoints, the signed events a
status change posts to it, retries and the state machine; on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from superoffice_emulator.testing import LiveServer
from superoffice_emulator.webhooks.posting import Answer, post
from tests.support.soap import DEMO_TICKET

CALL = "/api/v1/Agents/Appointment/SetActivityStatus"
AUTH = {"Authorization": f"SOTicket {DEMO_TICKET}"}
SECRET = "s3cret-for-the-receiver"


class Receiver:
    """A threaded HTTP receiver on a free port that records every POST and answers ``answer()``."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.answer: Callable[[dict[str, str]], int] = lambda headers: 200
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.posts.append((headers, body))
                status = receiver.answer(headers)
                if status == 0:  # hang until released
                    receiver.release.wait(30)
                    status = 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in self.posts if h.get("x-hook-test") != "true"]

    def wait_for(self, count: int, within: float = 30) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if len(self.events()) >= count:
                return self.events()
            time.sleep(0.05)
        raise AssertionError(f"{len(self.events())} events arrived, not {count}")

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def register(live: LiveServer, target: str, **fields: Any) -> requests.Response:
    carrier = {
        "Name": "receiver",
        "Events": ["activity.changed", "document.changed", "sale.*"],
        "TargetUrl": target,
        "Secret": SECRET,
        **fields,
    }
    return requests.post(live.url("/api/v1/Webhook"), json=carrier, headers=AUTH, timeout=30)


def complete(live: LiveServer, ids: list[str], status: str = "Completed") -> int:
    answer = requests.post(
        live.url(CALL), json={"ActivityIdentifier": ids, "ActivityStatus": status}, headers=AUTH, timeout=30
    )
    return answer.status_code


def signed(secret: str, body: bytes) -> str:
    """As SuperOffice's docs show a receiver checking it: base64 of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_registration_posts_a_test_event_and_is_refused_unless_the_target_answers_200(
    live: LiveServer, receiver: Receiver
) -> None:
    receiver.answer = lambda headers: 500
    refused = register(live, receiver.url)
    assert refused.status_code == 400
    assert receiver.posts[0][0]["x-hook-test"] == "true"
    assert json.loads(receiver.posts[0][1])["Event"] == "test"
    receiver.answer = lambda headers: 200
    created = register(live, receiver.url)
    assert created.status_code == 201
    carrier = created.json()
    assert carrier["State"] == "Active" and carrier["WebhookId"] >= 1
    listed = requests.get(live.url("/api/v1/Webhook"), headers=AUTH, timeout=30).json()
    assert [hook["WebhookId"] for hook in listed] == [carrier["WebhookId"]]
    one = requests.get(live.url(f"/api/v1/Webhook/{carrier['WebhookId']}"), headers=AUTH, timeout=30)
    assert one.json()["TargetUrl"] == receiver.url
    agent = requests.post(live.url("/api/v1/Agents/Webhook/GetAllWebhooks"), headers=AUTH, timeout=30)
    assert len(agent.json()) == 1
    unsigned = requests.get(live.url("/api/v1/Webhook"), timeout=30)
    assert unsigned.status_code == 401
    gone = requests.delete(live.url(f"/api/v1/Webhook/{carrier['WebhookId']}"), headers=AUTH, timeout=30)
    assert gone.status_code == 204
    assert requests.get(live.url("/api/v1/Webhook"), headers=AUTH, timeout=30).json() == []


def test_a_mixed_batch_posts_one_signed_event_of_each_kind(live: LiveServer, receiver: Receiver) -> None:
    assert register(live, receiver.url).status_code == 201
    assert complete(live, ["appointment_id=666", "sale_id=4", "document_id=4", "todo_id=5"]) == 204
    events = receiver.wait_for(5)
    time.sleep(0.5)  # nothing more is on its way
    assert len(receiver.events()) == 5
    bodies = [json.loads(body) for _, body in events]
    assert sorted((b["Event"], b["PrimaryKey"]) for b in bodies) == [
        ("activity.changed", 5),
        ("activity.changed", 666),
        ("document.changed", 4),
        ("sale.changed", 4),
        ("sale.completed", 4),
    ]
    for headers, body in events:
        assert headers["x-superoffice-signature"] == signed(SECRET, body)
        assert headers["x-superoffice-event"] == json.loads(body)["Event"]
        assert headers["x-superoffice-eventid"] == json.loads(body)["EventId"]
        assert headers["content-type"].startswith("application/json")
    appointment = next(b for b in bodies if b["PrimaryKey"] == 666)
    assert list(appointment) == [
        "EventId",
        "Timestamp",
        "Changes",
        "Event",
        "PrimaryKey",
        "Entity",
        "ContextIdentifier",
        "ChangedByAssociateId",
        "WebhookName",
        "FieldValues",
    ]
    assert {"appointment_id", "status", "done", "updatedCount"} <= set(appointment["Changes"])
    assert appointment["ContextIdentifier"] == "Default" and appointment["WebhookName"] == "receiver"
    sale = next(b for b in bodies if b["Event"] == "sale.changed")
    assert sale["FieldValues"]["status"] == 3


def test_a_refused_or_no_op_call_posts_nothing(live: LiveServer, receiver: Receiver) -> None:
    assert register(live, receiver.url).status_code == 201
    assert complete(live, ["appointment_id=666", "appointment_id=424242"]) == 204  # nonexistent: no-op
    assert complete(live, ["sale_id=13"]) == 403  # locked: refused
    assert complete(live, ["appointment_id=666"], "NotStarted") == 204  # already so: no change
    assert complete(live, ["todo_id=5"]) == 204  # a real change, after the others
    events = receiver.wait_for(1)
    time.sleep(0.5)
    assert [json.loads(body)["PrimaryKey"] for _, body in receiver.events()] == [5]
    assert len(events) == 1


def test_a_failing_receiver_gets_three_tries_with_one_event_id(live: LiveServer, receiver: Receiver) -> None:
    assert register(live, receiver.url).status_code == 201
    receiver.answer = lambda headers: 500
    assert complete(live, ["appointment_id=666"]) == 204
    events = receiver.wait_for(3)
    assert len({headers["x-superoffice-eventid"] for headers, _ in events}) == 1
    assert [headers["x-superoffice-retry"] for headers, _ in events] == ["0", "1", "2"]
    deliveries = _deliveries(live, 3)
    assert [d["status"] for d in deliveries] == [500, 500, 500]
    last = requests.get(live.url("/api/v1/Webhook/1/LastError"), headers=AUTH, timeout=30).json()
    assert last["Status"] == 500


def test_410_stops_the_webhook_at_once(live: LiveServer, receiver: Receiver) -> None:
    assert register(live, receiver.url).status_code == 201
    receiver.answer = lambda headers: 410
    assert complete(live, ["appointment_id=666"]) == 204
    receiver.wait_for(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = requests.get(live.url("/api/v1/Webhook/1"), headers=AUTH, timeout=30).json()["State"]
        if state == "Stopped":
            break
        time.sleep(0.05)
    assert state == "Stopped"
    assert complete(live, ["sale_id=4"]) == 204
    time.sleep(0.5)
    assert len(receiver.events()) == 1


def test_a_hanging_receiver_blocks_neither_calls_nor_other_receivers(
    live: LiveServer, receiver: Receiver
) -> None:
    other = Receiver()
    try:
        assert register(live, receiver.url, Name="slow").status_code == 201
        assert register(live, other.url, Name="fast").status_code == 201
        receiver.answer = lambda headers: 0  # hangs
        assert complete(live, ["appointment_id=666"]) == 204
        assert complete(live, ["sale_id=4"]) == 204
        assert len(other.wait_for(3)) == 3
    finally:
        other.close()


def test_a_deleted_webhooks_id_is_not_given_again(live: LiveServer, receiver: Receiver) -> None:
    first = register(live, receiver.url, Name="first").json()["WebhookId"]
    second = register(live, receiver.url, Name="second").json()["WebhookId"]
    gone = requests.delete(live.url(f"/api/v1/Webhook/{second}"), headers=AUTH, timeout=30)
    assert gone.status_code == 204
    third = register(live, receiver.url, Name="third").json()["WebhookId"]
    assert third not in (first, second)


@pytest.mark.parametrize("trickled", ["status-line", "body"])
def test_a_receiver_trickling_its_answer_fails_the_post_at_its_timeout(trickled: str) -> None:
    """A byte every 0.3 s would take a minute; the post's timeout is for all of it, not per byte."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n"
    answer_bytes = head + b"x" * 200
    at_once = len(head) if trickled == "body" else 0
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            try:
                connection.sendall(answer_bytes[:at_once])
                for byte in answer_bytes[at_once:]:
                    if stop.wait(0.3):
                        return
                    connection.sendall(bytes([byte]))
            except OSError:
                return  # the poster gave up

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    answers: list[Answer] = []
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    poster = threading.Thread(target=lambda: answers.append(post(url, b"{}", {}, timeout=1.0)), daemon=True)
    poster.start()
    poster.join(30)
    stop.set()
    listener.close()
    assert not poster.is_alive(), "the post outlasted its timeout by far"
    assert answers[0].status is None and answers[0].error


def _deliveries(live: LiveServer, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = requests.get(live.url("/_emulator/webhooks/deliveries"), timeout=30).json()["deliveries"]
        if len(found) >= count:
            return list(reversed(found))
        time.sleep(0.05)
    raise AssertionError(f"{count} deliveries were not logged")
