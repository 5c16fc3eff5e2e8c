"""End to end: a live server on a free port and a real zeep client built from the served WSDL."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
import zeep
import zeep.helpers
from zeep.transports import Transport

from superoffice_emulator.testing import LiveServer
from tests.support.database import read_row, snapshot
from tests.support.paths import DATA
from tests.support.soap import APPOINTMENT, DEMO_TICKET, SOPRINCIPAL, TOKEN


def client_for(server: LiveServer, path: str) -> zeep.Client:
    return zeep.Client(server.url(path) + "?wsdl", transport=Transport(timeout=10, operation_timeout=10))


def headers(ticket: str | None = DEMO_TICKET) -> dict[str, object]:
    return {"ApplicationToken": TOKEN, "Credentials": {"Ticket": ticket}}


def test_zeep_sets_a_mix_of_all_four_kinds(live: LiveServer, db_path: Path) -> None:
    client = client_for(live, APPOINTMENT)
    ids = ["appointment_id=666", "sale_id=3", "document_id=4", "todo_id=5"]
    result = client.service.SetActivityStatus(
        ActivityIdentifier={"string": ids}, ActivityStatus="Completed", _soapheaders=headers()
    )
    assert result.header.Succeeded is True
    # WCF writes the header nil (i:nil="true"); zeep reads a nil complex header as all fields None
    assert zeep.helpers.serialize_object(result.header.ExceptionInfo, dict) == dict.fromkeys(
        ("Message", "StackTrace", "FriendlyText", "ExceptionType", "Source", "InnerException", "Parameters")
    )
    for kind, number in (("appointment", 666), ("sale", 3), ("document", 4), ("todo", 5)):
        row = read_row(db_path, kind, number)
        assert row["status"] == 3 and row["done"] is not None and row["updated_associate_id"] == 1


def test_zeep_authenticates_then_uses_the_ticket(live: LiveServer, db_path: Path) -> None:
    principal = client_for(live, SOPRINCIPAL)
    answer = principal.service.AuthenticateUsernamePassword(
        UserName="sam", Password="sam", _soapheaders={"ApplicationToken": TOKEN}
    )
    assert answer.header.Succeeded is True
    assert answer.body.AuthenticationSucceeded is True
    assert answer.body.Response.Associate == "sam" and answer.body.Response.AssociateId == 2
    ticket = answer.body.Credentials.Ticket
    assert ticket.startswith("7T:")
    client = client_for(live, APPOINTMENT)
    result = client.service.SetActivityStatus(
        ActivityIdentifier={"string": ["todo_id=7"]}, ActivityStatus="Started", _soapheaders=headers(ticket)
    )
    assert result.header.Succeeded is True
    assert read_row(db_path, "todo", 7)["updated_associate_id"] == 2


def test_zeep_sees_wrapped_sentry_and_session_failures(live: LiveServer, db_path: Path) -> None:
    client = client_for(live, APPOINTMENT)
    client.service.SetActivityStatus(
        ActivityIdentifier={"string": ["todo_id=1"]}, ActivityStatus="NotStarted", _soapheaders=headers()
    )
    before = snapshot(db_path)
    denied = client.service.SetActivityStatus(
        ActivityIdentifier={"string": ["sale_id=13"]}, ActivityStatus="Completed", _soapheaders=headers()
    )
    assert denied.header.Succeeded is False
    assert denied.header.ExceptionInfo.ExceptionType == "SuperOffice.Exceptions.SoSentryException"
    assert "sale_id=13" in denied.header.ExceptionInfo.Message
    pairs = denied.header.ExceptionInfo.Parameters.SoExceptionInfoParametersKeyValuePair
    assert {p.Key: p.Value for p in pairs}["ActivityIdentifier"] == "sale_id=13"
    expired = client.service.SetActivityStatus(
        ActivityIdentifier={"string": ["todo_id=1"]},
        ActivityStatus="Completed",
        _soapheaders=headers("7T:bm9wZQ=="),
    )
    assert expired.header.Succeeded is False
    assert expired.header.ExceptionInfo.ExceptionType == "SuperOffice.Exceptions.SoSessionException"
    assert snapshot(db_path) == before


def test_zeep_gets_a_fault_for_a_status_outside_the_enum(live: LiveServer) -> None:
    request = (DATA / "request_soap11.xml").read_bytes().replace(b">Completed<", b">Done<")
    http = urllib.request.Request(
        live.url(APPOINTMENT), data=request, headers={"Content-Type": "text/xml; charset=utf-8"}
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(http, timeout=10)
    text = raised.value.read().decode()
    assert raised.value.code == 500 and "'Done'" in text and "Completed" in text


def test_client_built_from_the_real_wsdl_works_against_the_emulator(live: LiveServer, db_path: Path) -> None:
    """The real (trimmed) NetServer WSDL, pointed at our base URL: nothing else changes."""
    real = DATA.parent / "contract" / "Appointment-SetActivityStatus.wsdl"
    client = zeep.Client(str(real))
    service = client.create_service(
        "{http://www.superoffice.net/ws/crm/NetServer/Services86}BasicHttpBinding_Appointment",
        live.url(APPOINTMENT),
    )
    result = service.SetActivityStatus(
        ActivityIdentifier={"string": ["appointment_id=666"]},
        ActivityStatus="Started",
        _soapheaders=headers(),
    )
    assert result.header.Succeeded is True
    assert read_row(db_path, "appointment", 666)["status"] == 2


def test_curl_like_get_of_the_wsdl(live: LiveServer) -> None:
    with urllib.request.urlopen(live.url(APPOINTMENT) + "?wsdl", timeout=10) as response:
        document = response.read()
    assert response.status == 200
    assert b'name="WcfAppointmentService"' in document
    assert live.url(APPOINTMENT).encode() in document
