"""Webhooks through their REST endpoints, for tests: register a receiver, change an activity, wait
for the outbox to settle (the admin API says no event is pending)."""

from __future__ import annotations

import time
from typing import Any, Protocol

import requests

from tests.support.soap import DEMO_TICKET


class Server(Protocol):
    """A live emulator: a :class:`~superoffice_emulator.testing.LiveServer`, or one in a process."""

    def url(self, path: str = "") -> str: ...


class Port:
    """An emulator serving on ``127.0.0.1:port`` (a ``serve`` process)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


CALL = "/api/v1/Agents/Appointment/SetActivityStatus"
AUTH = {"Authorization": f"SOTicket {DEMO_TICKET}"}
SECRET = "s3cret-for-the-receiver"


def settled(live: Server, tenant: str = "") -> list[dict[str, Any]]:
    """The tenant's events in the outbox, once none is pending (each delivered, failed or dropped)."""
    prefix = f"/{tenant}" if tenant else ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pending = requests.get(live.url(f"{prefix}/_emulator/webhooks/events?outcome=pending"), timeout=30)
        if pending.json()["events"] == []:
            found = requests.get(live.url(f"{prefix}/_emulator/webhooks/events?limit=1000"), timeout=30)
            return list(reversed(found.json()["events"]))
        time.sleep(0.05)
    raise AssertionError("the outbox still holds pending events")


def register(live: Server, target: str, **fields: Any) -> requests.Response:
    carrier = {
        "Name": "receiver",
        "Events": ["activity.changed", "document.changed", "sale.*"],
        "TargetUrl": target,
        "Secret": SECRET,
        **fields,
    }
    return requests.post(live.url("/api/v1/Webhook"), json=carrier, headers=AUTH, timeout=30)


def complete(live: Server, ids: list[str], status: str = "Completed") -> int:
    answer = requests.post(
        live.url(CALL), json={"ActivityIdentifier": ids, "ActivityStatus": status}, headers=AUTH, timeout=30
    )
    return answer.status_code
