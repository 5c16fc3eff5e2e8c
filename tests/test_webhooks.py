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
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer, WebhookReceiver
from superoffice_emulator.webhooks.posting import Answer, Connections, post
from tests.support.clock import FakeClock
from tests.support.webhooks import AUTH, SECRET, complete, register, settled


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as found:
        yield found


def signed(secret: str, body: bytes) -> str:
    """As SuperOffice's docs show a receiver checking it: base64 of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_registration_posts_a_test_event_and_is_refused_unless_the_target_answers_200(
    live: LiveServer, receiver: WebhookReceiver
) -> None:
    receiver.answer = lambda posted: 500
    refused = register(live, receiver.url)
    assert refused.status_code == 400
    assert receiver.posts[0].test and receiver.posts[0].headers["x-hook-test"] == "true"
    assert receiver.posts[0].json["Event"] == "test"
    receiver.answer = lambda posted: 200
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


def test_a_mixed_batch_posts_one_signed_event_of_each_kind(
    live: LiveServer, receiver: WebhookReceiver
) -> None:
    assert register(live, receiver.url).status_code == 201
    assert complete(live, ["appointment_id=666", "sale_id=4", "document_id=4", "todo_id=5"]) == 204
    assert [e["outcome"] for e in settled(live)] == ["delivered"] * 5
    events = receiver.events()
    assert len(events) == 5
    bodies = [posted.json for posted in events]
    assert sorted((b["Event"], b["PrimaryKey"]) for b in bodies) == [
        ("activity.changed", 5),
        ("activity.changed", 666),
        ("document.changed", 4),
        ("sale.changed", 4),
        ("sale.completed", 4),
    ]
    for posted in events:
        headers, body = posted.headers, posted.body
        assert headers["x-superoffice-signature"] == signed(SECRET, body) and posted.signed_with(SECRET)
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


def test_a_refused_or_no_op_call_posts_nothing(live: LiveServer, receiver: WebhookReceiver) -> None:
    assert register(live, receiver.url).status_code == 201
    assert complete(live, ["appointment_id=666", "appointment_id=424242"]) == 204  # nonexistent: no-op
    assert complete(live, ["sale_id=13"]) == 403  # locked: refused
    assert complete(live, ["appointment_id=666"], "NotStarted") == 204  # already so: no change
    assert complete(live, ["todo_id=5"]) == 204  # a real change, after the others
    assert len(settled(live)) == 1
    assert [posted.json["PrimaryKey"] for posted in receiver.events()] == [5]


def test_a_failing_receiver_gets_three_tries_with_one_event_id(
    live: LiveServer, receiver: WebhookReceiver
) -> None:
    assert register(live, receiver.url).status_code == 201
    receiver.answer = lambda posted: 500
    assert complete(live, ["appointment_id=666"]) == 204
    events = receiver.wait_for(3)
    assert len({posted.event_id for posted in events}) == 1
    assert [posted.retry for posted in events] == [0, 1, 2]
    deliveries = _deliveries(live, 3)
    assert [d["status"] for d in deliveries] == [500, 500, 500]
    last = requests.get(live.url("/api/v1/Webhook/1/LastError"), headers=AUTH, timeout=30).json()
    assert last["Status"] == 500


def test_410_stops_the_webhook_at_once(live: LiveServer, receiver: WebhookReceiver) -> None:
    assert register(live, receiver.url).status_code == 201
    receiver.answer = lambda posted: 410
    assert complete(live, ["appointment_id=666"]) == 204
    receiver.wait_for(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = requests.get(live.url("/api/v1/Webhook/1"), headers=AUTH, timeout=30).json()["State"]
        if state == "Stopped":
            break
        time.sleep(0.05)
    assert state == "Stopped"
    assert complete(live, ["sale_id=4"]) == 204  # a stopped webhook gets no event
    assert [e["outcome"] for e in settled(live)] == ["failed"]
    assert len(receiver.events()) == 1


@pytest.fixture
def fast(settings: Settings, clock: FakeClock) -> Iterator[LiveServer]:
    """A live server whose failed posts are tried again at once (``--webhook-fast-retries``)."""
    with LiveServer(settings.replace(webhook_fast_retries=True), clock=clock) as server:
        yield server


def _hook(live: LiveServer) -> dict[str, Any]:
    (hook,) = requests.get(live.url("/_emulator/webhooks"), timeout=30).json()["webhooks"]
    return dict(hook)


def _events(live: LiveServer, count: int, first: int = 0) -> None:
    """``count`` calls that each change appointment 1 (Completed, NotStarted in turn): one event each."""
    for n in range(first, first + count):
        assert complete(live, ["appointment_id=1"], "Completed" if n % 2 == 0 else "NotStarted") == 204


def test_nine_events_dropped_in_a_row_set_too_many_errors_and_a_success_resets_the_count(
    fast: LiveServer, receiver: WebhookReceiver
) -> None:
    assert register(fast, receiver.url, Events=["activity.changed"]).status_code == 201
    receiver.answer = lambda posted: 500
    _events(fast, 8)
    settled(fast)
    assert (_hook(fast)["state"], _hook(fast)["errors"]) == ("Active", 8)
    receiver.answer = lambda posted: 200
    _events(fast, 1, first=8)
    settled(fast)
    assert (_hook(fast)["state"], _hook(fast)["errors"]) == ("Active", 0)  # a success resets the count
    receiver.answer = lambda posted: 500
    _events(fast, 8, first=9)
    settled(fast)
    assert (_hook(fast)["state"], _hook(fast)["errors"]) == ("Active", 8)
    _events(fast, 1, first=17)
    settled(fast)
    assert (_hook(fast)["state"], _hook(fast)["errors"]) == ("TooManyErrors", 9)
    carrier = requests.get(fast.url("/api/v1/Webhook/1"), headers=AUTH, timeout=30).json()
    assert carrier["State"] == "TooManyErrors"
    posts = len(receiver.events())
    assert posts == 17 * 3 + 1  # three tries of each dropped event, one of the delivered one
    _events(fast, 1, first=18)
    assert len(settled(fast)) == 18  # no event for a webhook with too many errors
    assert len(receiver.events()) == posts


def test_410_stops_the_webhook_without_another_try(fast: LiveServer, receiver: WebhookReceiver) -> None:
    assert register(fast, receiver.url, Events=["activity.changed"]).status_code == 201
    receiver.answer = lambda posted: 410
    _events(fast, 1)
    assert [(e["outcome"], e["tries"]) for e in settled(fast)] == [("failed", 1)]
    assert _hook(fast)["state"] == "Stopped"
    assert [posted.retry for posted in receiver.events()] == [0]


def test_a_hanging_receiver_blocks_neither_calls_nor_other_receivers(
    live: LiveServer, receiver: WebhookReceiver
) -> None:
    other = WebhookReceiver()
    try:
        assert register(live, receiver.url, Name="slow").status_code == 201
        assert register(live, other.url, Name="fast").status_code == 201
        receiver.hold()  # hangs
        assert complete(live, ["appointment_id=666"]) == 204
        assert complete(live, ["sale_id=4"]) == 204
        assert len(other.wait_for(3)) == 3
    finally:
        other.close()


def test_a_deleted_webhooks_id_is_not_given_again(live: LiveServer, receiver: WebhookReceiver) -> None:
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


def test_a_try_out_while_the_tenant_is_reset_writes_nothing_into_the_new_tenant(
    live: LiveServer, receiver: WebhookReceiver
) -> None:
    assert register(live, receiver.url, Name="old").status_code == 201
    receiver.hold()
    assert complete(live, ["appointment_id=666"]) == 204
    [old] = receiver.wait_for(1)
    assert requests.post(live.url("/_emulator/reset"), timeout=30).status_code == 200
    receiver.release()  # the old try ends after the reset
    assert register(live, receiver.url, Name="new").status_code == 201
    assert complete(live, ["appointment_id=666"]) == 204
    new = receiver.wait_for(2)[1]
    assert [e["outcome"] for e in settled(live)] == ["delivered"]
    deliveries = _deliveries(live, 1)  # written after the old try's outcome was skipped
    assert [d["event_id"] for d in deliveries] == [new.event_id] != [old.event_id]
    hook = requests.get(live.url("/api/v1/Webhook/1"), headers=AUTH, timeout=30).json()
    assert (hook["Name"], hook["State"]) == ("new", "Active")


def test_a_kept_connection_the_receiver_closed_is_replaced_and_the_event_posted_once() -> None:
    """The receiver answers one post per connection with keep-alive, then closes it unannounced."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    closed = threading.Event()

    def serve() -> None:
        for _ in range(2):
            connection, _ = listener.accept()
            with connection:
                received.append(connection.recv(65536))
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            closed.set()  # closed after the answer, the client still keeping it

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    kept = Connections()
    try:
        first = post(url, b"{}", {}, 5.0, kept)
        assert closed.wait(30), "the receiver did not close the first connection"
        second = post(url, b"{}", {}, 5.0, kept)
        server.join(30)
    finally:
        kept.close()
        listener.close()
    assert not server.is_alive(), "the receiver did not get its second post"
    assert (first.status, second.status) == (200, 200)
    assert len(received) == 2


def _answering(answer: bytes, closes: bool) -> tuple[str, list[bytes], socket.socket]:
    """A receiver answering ``answer`` to each post (closing after it when ``closes``): its URL, the
    requests of each connection it accepted, its listener."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed
            with connection:
                connections.append(b"")
                while True:
                    data = b""
                    while not data.endswith(b"\r\n\r\n{}"):
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if not data:
                        break
                    connections[-1] += data
                    connection.sendall(answer)
                    if closes:
                        break

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/hook", connections, listener


@pytest.mark.parametrize(
    ("answer", "closes"),
    [
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 5\r\nX-Why: full\r\n\r\nbusy!", False),
        (
            b"HTTP/1.1 500 Oops\r\nX-Why: full\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nbus\r\n2\r\ny!\r\n0\r\n\r\n",
            False,
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 500 Oops\r\nX-Why: full\r\nContent-Length: 5\r\n\r\nbusy!",
            False,
        ),
        (b"HTTP/1.0 500 Oops\r\nX-Why: full\r\n\r\nbusy!", True),
        (b"HTTP/1.1 500 Oops\r\nX-Why: full\r\nConnection: close\r\nContent-Length: 5\r\n\r\nbusy!", True),
    ],
    ids=["content-length", "chunked", "after-100-continue", "http-1.0-until-close", "connection-close"],
)
def test_an_answer_is_read_whole_and_its_connection_kept_unless_it_closes(
    answer: bytes, closes: bool
) -> None:
    url, connections, listener = _answering(answer, closes)
    kept = Connections()
    try:
        answers = [post(url, b"{}", {"X-Mine": "1"}, 5.0, kept) for _ in range(2)]
    finally:
        kept.close()
        listener.close()
    for got in answers:
        assert (got.status, got.headers["X-Why"], got.body) == (500, "full", "busy!")
    assert len(connections) == (2 if closes else 1)
    first = connections[0].split(b"\r\n")
    assert first[0] == b"POST /hook HTTP/1.1" and b"X-Mine: 1" in first and b"Content-Length: 2" in first


def test_a_header_that_would_split_the_request_is_not_sent() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts nothing: a connection waits
        answer = post(f"http://127.0.0.1:{listener.getsockname()[1]}/", b"{}", {"X-Mine": "1\r\nX-: 1"}, 5.0)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # no connection was made at all
            listener.accept()
    assert answer.status is None and answer.error
