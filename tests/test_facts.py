"""What a process remembers of a tenant (superoffice_emulator.storage.facts) is never stale: two server
processes on one SQLite file, each with its own memory, and a real zeep client calling both in turn.

Each test first calls both servers, so that both remember the tenant's application token, the
fixture ticket and its empty fault plan; then it changes the tenant through one of them and
checks the next call of the other."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zeep
from zeep.transports import Transport

from tests.support.database import read_row
from tests.support.http import free_port
from tests.support.servers import server_process
from tests.support.soap import APPOINTMENT, DEMO_TICKET, SOPRINCIPAL, TOKEN

SESSION = "SuperOffice.Exceptions.SoSessionException"
SENTRY = "SuperOffice.Exceptions.SoSentryException"


class Server:
    """One emulator process on the shared database, and zeep clients of its two services."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        transport = Transport(timeout=10, operation_timeout=10)
        self.appointment = zeep.Client(f"{self.base}{APPOINTMENT}?wsdl", transport=transport)
        self.principal = zeep.Client(f"{self.base}{SOPRINCIPAL}?wsdl", transport=transport)

    def set_status(self, identifier: str, ticket: str = DEMO_TICKET, token: str = TOKEN) -> str | None:
        """``None`` when the call succeeded, else the .NET exception type NetServer answered."""
        headers = {"ApplicationToken": token, "Credentials": {"Ticket": ticket}}
        answer = self.appointment.service.SetActivityStatus(
            ActivityIdentifier={"string": [identifier]}, ActivityStatus="Completed", _soapheaders=headers
        )
        if answer.header.Succeeded:
            return None
        return str(answer.header.ExceptionInfo.ExceptionType)

    def login(self, user: str, token: str = TOKEN) -> str:
        answer = self.principal.service.AuthenticateUsernamePassword(
            UserName=user, Password=user, _soapheaders={"ApplicationToken": token}
        )
        assert answer.body.AuthenticationSucceeded is True
        return str(answer.body.Credentials.Ticket)

    def admin(self, method: str, path: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(f"{self.base}/_emulator/{path}", data=body, method=method)
        request.add_header("Content-Type", "application/json" if body and body[:1] == b"{" else "text/yaml")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, Server, Path]]:
    """Two servers in online mode (application tokens checked) on one database, both warmed up."""
    monkeypatch.setenv("EMULATOR_MODE", "online")
    database = tmp_path / "shared.db"
    ports = free_port(), free_port()
    with (
        server_process(database, ports[0], log=tmp_path / "first.log") as _first,
        server_process(database, ports[1], log=tmp_path / "second.log") as _second,
    ):
        first, second = Server(ports[0]), Server(ports[1])
        for server in (first, second):
            assert server.set_status("appointment_id=1") is None  # remembered: token, ticket, no faults
        yield first, second, database


FIXTURES_WITHOUT_DEMO = """
roles: [{role_id: 1, name: Administrator, rights: {all: update}}]
users:
- {associate_id: 1, name: demo, password: demo, group_id: 1, role_id: 1, tickets: ['7T:OtherTicket==']}
application_tokens: [other-token]
activities:
  appointment: [{id: 1, title: Call, status: NotStarted, associate_id: 1}]
"""


def test_new_fixtures_in_one_are_seen_by_the_others_next_call(pair: tuple[Server, Server, Path]) -> None:
    first, second, _ = pair
    first.admin("POST", "fixtures", FIXTURES_WITHOUT_DEMO.encode())
    assert second.set_status("appointment_id=1", token=TOKEN) == SESSION  # the token is gone
    assert second.set_status("appointment_id=1", token="other-token") == SESSION  # and the ticket
    assert second.set_status("appointment_id=1", ticket="7T:OtherTicket==", token="other-token") is None


def test_a_reset_in_one_is_seen_by_the_others_next_call(pair: tuple[Server, Server, Path]) -> None:
    first, second, database = pair
    first.admin("POST", "fixtures", FIXTURES_WITHOUT_DEMO.encode())
    other = {"ticket": "7T:OtherTicket==", "token": "other-token"}
    assert second.set_status("appointment_id=1", **other) is None  # remembered under these fixtures
    ticket = second.login("demo", token="other-token")
    assert first.set_status("appointment_id=1", ticket=ticket, token="other-token") is None  # a login
    first.admin("POST", "reset")  # back to the default fixtures: the other token and tickets are gone
    assert second.set_status("appointment_id=1", **other) == SESSION
    assert second.set_status("appointment_id=1", ticket=ticket) == SESSION
    assert second.set_status("appointment_id=1") is None
    assert read_row(database, "appointment", 1)["status"] == 3


def test_a_new_denial_in_one_is_seen_by_the_others_next_call(pair: tuple[Server, Server, Path]) -> None:
    first, second, _ = pair
    denied = FIXTURES_WITHOUT_DEMO.replace("'7T:OtherTicket=='", f"'{DEMO_TICKET}'").replace(
        "other-token", TOKEN
    )
    first.admin("POST", "fixtures", (denied + 'denials: [{activity: "appointment_id=1"}]\n').encode())
    assert second.set_status("appointment_id=1") == SENTRY


def test_a_fault_added_through_one_fires_count_times_across_both(pair: tuple[Server, Server, Path]) -> None:
    first, second, _ = pair
    first.admin("POST", "faults", b'{"kind": "session", "count": 3}')
    outcomes = [server.set_status("appointment_id=1") for server in (second, first, second, first)]
    assert outcomes == [SESSION, SESSION, SESSION, None]
    assert first.admin("GET", "faults") == []


def test_a_tenant_dropped_and_made_again_elsewhere_is_the_new_one(pair: tuple[Server, Server, Path]) -> None:
    first, second, database = pair
    first.admin("POST", "fixtures", FIXTURES_WITHOUT_DEMO.encode())
    other = {"ticket": "7T:OtherTicket==", "token": "other-token"}
    assert second.set_status("appointment_id=1", **other) is None  # remembered under these fixtures
    first.admin("DELETE", "tenants/default")
    first.admin("POST", "tenants/default")  # made again, from the default fixtures
    assert second.set_status("appointment_id=1", **other) == SESSION
    assert second.set_status("appointment_id=2") is None
    assert read_row(database, "appointment", 2)["status"] == 3
