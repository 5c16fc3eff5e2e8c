"""The journal keeps each call's raw request and response body, on both wires, cut to a cap."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests

from superoffice_emulator.settings import Settings
from superoffice_emulator.storage.sqlite import driver as sqlite3  # the library the app in this process uses
from superoffice_emulator.testing import LiveServer
from tests.support.soap import APPOINTMENT, DEMO_TICKET, SOAP11_HEADERS, envelope

REST_CALL = "/api/v1/Agents/Appointment/SetActivityStatus"


def serve(settings: Settings, **changes: Any) -> LiveServer:
    return LiveServer(dataclasses.replace(settings, **changes))


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    with serve(settings) as server:
        yield server


def journal(server: LiveServer, query: str = "") -> list[dict[str, Any]]:
    answer = requests.get(server.url(f"/_emulator/journal{query}"), timeout=30)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()
    return entries


def soap_post(server: LiveServer, body: bytes) -> requests.Response:
    return requests.post(server.url(APPOINTMENT), data=body, headers=SOAP11_HEADERS, timeout=30)


def rest_post(server: LiveServer, body: bytes, ticket: str = DEMO_TICKET) -> requests.Response:
    headers = {"Content-Type": "application/json", "Authorization": f"SOTicket {ticket}"}
    return requests.post(server.url(REST_CALL), data=body, headers=headers, timeout=30)


def test_both_wires_journal_the_bodies_as_sent_and_answered(live: LiveServer) -> None:
    soap_ok = envelope(["appointment_id=1"])
    soap_failed = envelope(["appointment_id=1"], ticket="no-such-ticket")
    rest_ok = json.dumps({"ActivityIdentifier": ["appointment_id=2"], "ActivityStatus": "Completed"}).encode()
    rest_failed = json.dumps({"ActivityIdentifier": ["appointment_id=2"], "ActivityStatus": "Done"}).encode()
    answers = [
        soap_post(live, soap_ok),
        soap_post(live, soap_failed),
        rest_post(live, rest_ok),
        rest_post(live, rest_failed),
    ]

    entries = list(reversed(journal(live)))
    assert [(e["wire"], e["outcome"]) for e in entries] == [
        ("soap", "ok"),
        ("soap", "failed"),
        ("rest", "ok"),
        ("rest", "fault"),
    ]
    for entry, sent, answer in zip(
        entries, [soap_ok, soap_failed, rest_ok, rest_failed], answers, strict=True
    ):
        assert entry["request_body"] == sent.decode()
        assert entry["response_body"] == answer.content.decode()
    assert "SetActivityStatusResponse" in entries[0]["response_body"]
    assert "SoSessionException" in entries[1]["response_body"]
    assert entries[2]["response_body"] == ""  # REST's 204
    assert json.loads(entries[3]["response_body"])["ExceptionType"] == "ClientFault"


def test_a_login_and_an_unreadable_request_keep_their_bodies_too(live: LiveServer) -> None:
    login = (
        b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        b'<s:Body><AuthenticateUsernamePassword xmlns="http://www.superoffice.net/ws/crm/NetServer/Services86">'
        b"<userName>demo</userName><password>demo</password></AuthenticateUsernamePassword></s:Body></s:Envelope>"
    )
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"http://www.superoffice.net/ws/crm/NetServer/Services86/SoPrincipal/'
        'AuthenticateUsernamePassword"',
    }
    logged_in = requests.post(
        live.url("/Remote/Services86/SoPrincipal.svc"), data=login, headers=headers, timeout=30
    )
    garbage = b"<not xml \xff\xfe"
    refused = soap_post(live, garbage)

    unreadable, authenticated = journal(live)
    assert authenticated["operation"] == "AuthenticateUsernamePassword", authenticated
    assert authenticated["request_body"] == login.decode()
    assert authenticated["response_body"] == logged_in.content.decode()
    assert "<AuthenticationSucceeded>" in authenticated["response_body"]  # journaled after its transaction
    assert unreadable["outcome"] == "fault"
    assert unreadable["request_body"] == garbage.decode("utf-8", "replace")  # not UTF-8: replaced
    assert unreadable["response_body"] == refused.content.decode()


def test_bodies_over_the_cap_are_cut_and_say_so(settings: Settings) -> None:
    sent = envelope(["appointment_id=1"])
    with serve(settings, journal_body_bytes=100) as server:
        answer = soap_post(server, sent)
        (entry,) = journal(server)
    assert len(sent) > 100 and len(answer.content) > 100
    assert entry["request_body"] == sent[:100].decode() + f"\n[cut: {len(sent)} bytes in all]"
    assert (
        entry["response_body"]
        == answer.content[:100].decode() + f"\n[cut: {len(answer.content)} bytes in all]"
    )


def test_a_cap_of_zero_keeps_no_bodies(settings: Settings) -> None:
    with serve(settings, journal_body_bytes=0) as server:
        assert soap_post(server, envelope(["appointment_id=1"])).status_code == 200
        (entry,) = journal(server)
    assert entry["outcome"] == "ok"
    assert (entry["request_body"], entry["response_body"]) == (None, None)


def test_bodies_false_leaves_them_out_of_the_list(live: LiveServer) -> None:
    soap_post(live, envelope(["appointment_id=1"]))
    (light,) = journal(live, "?bodies=false")
    (full,) = journal(live, "?bodies=true")
    assert "request_body" not in light and "response_body" not in light
    assert {key: value for key, value in full.items() if not key.endswith("_body")} == light
    bad = requests.get(live.url("/_emulator/journal?bodies=maybe"), timeout=30)
    assert bad.status_code == 400


def test_an_older_database_gets_the_newer_columns_and_its_old_entries_have_none(
    settings: Settings, db_path: Path
) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the old database is made by dropping columns with sqlite3")
    with serve(settings) as server:
        assert soap_post(server, envelope(["appointment_id=1"])).status_code == 200
    with (
        closing(sqlite3.connect(db_path)) as connection,
        connection,
    ):  # as a database made before the bodies were kept
        connection.execute("ALTER TABLE emulator_journal DROP COLUMN request_body")
        connection.execute("ALTER TABLE emulator_journal DROP COLUMN response_body")
        connection.execute("ALTER TABLE emulator_journal DROP COLUMN injected")

    with serve(settings) as server:
        assert soap_post(server, envelope(["appointment_id=2"])).status_code == 200
        new, old = journal(server)
    assert (old["request_body"], old["response_body"], old["injected"]) == (None, None, None)
    assert new["request_body"] == envelope(["appointment_id=2"]).decode()
