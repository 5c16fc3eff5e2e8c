"""The SOAP layer in-process: envelopes in both versions, the seed's own XML, faults, the database file."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from superoffice_emulator.app import create_app
from tests.support.database import read_row, snapshot
from tests.support.paths import DATA
from tests.support.soap import APPOINTMENT, SOAP11_HEADERS, SOAP12_HEADERS, Answer, call, envelope


def test_seed_example_request_byte_for_byte(client: Client) -> None:
    body = (DATA / "seed_request.xml").read_bytes()
    answer = call(client, body, SOAP12_HEADERS)
    assert answer.status == 200
    assert answer.envelope_ns == "http://www.w3.org/2003/05/soap-envelope"  # answered in its version
    assert answer.succeeded is True and answer.info == {}
    assert answer.body is not None and answer.body.tag.endswith("}SetActivityStatusResponse")
    assert len(answer.body) == 0 and not (answer.body.text or "").strip()


def test_seed_example_sent_as_text_xml_is_answered_too(client: Client) -> None:
    answer = call(client, (DATA / "seed_request.xml").read_bytes(), {"Content-Type": "text/xml"})
    assert answer.status == 200 and answer.succeeded is True


def test_seed_request_in_soap11_with_real_header_sets_the_status(client: Client, db_path: Path) -> None:
    seed = (DATA / "seed_request.xml").read_text()
    soap11 = (
        seed.replace("http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/soap/envelope/")
        .replace(" <SOAP-ENV:Body>", "</SOAP-ENV:Header>\n <SOAP-ENV:Body>")
        .replace("  <Appointment:ApplicationToken>", "<SOAP-ENV:Header>\n  <Appointment:ApplicationToken>")
        .replace(
            'xsi:type="xsd:string"></NetServerServices862:string>',
            'xsi:type="xsd:string">appointment_id=666</NetServerServices862:string>',
        )
        .replace(">Unknown<", ">Completed<")
    )
    assert "<SOAP-ENV:Header>" in soap11
    answer = call(client, soap11.encode())
    assert answer.status == 200 and answer.succeeded is True
    assert answer.envelope_ns == "http://schemas.xmlsoap.org/soap/envelope/"
    row = read_row(db_path, "appointment", 666)
    assert row["status"] == 3 and row["done"] is not None


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("in_header", [True, False])
def test_both_versions_and_both_header_places(
    client: Client, db_path: Path, version: str, in_header: bool
) -> None:
    body = envelope(["todo_id=7"], "Started", version=version, headers_in_header=in_header)
    answer = call(client, body, SOAP11_HEADERS if version == "1.1" else SOAP12_HEADERS)
    assert answer.status == 200 and answer.succeeded is True
    expected_ns = (
        "http://schemas.xmlsoap.org/soap/envelope/"
        if version == "1.1"
        else "http://www.w3.org/2003/05/soap-envelope"
    )
    assert answer.envelope_ns == expected_ns
    assert read_row(db_path, "todo", 7)["status"] == 2


def test_mixed_batch_sets_done_and_bookkeeping(client: Client, db_path: Path) -> None:
    ids = ["appointment_id=1", "sale_id=4", "document_id=6", "todo_id=8"]
    assert call(client, envelope(ids, "Completed")).succeeded is True
    for kind, number in (("appointment", 1), ("sale", 4), ("document", 6), ("todo", 8)):
        row = read_row(db_path, kind, number)
        assert row["status"] == 3
        assert row["done"] == "2026-01-05 09:00:00.000000"  # the test clock
        assert row["updated"] == "2026-01-05 09:00:00.000000"
        assert row["updated_associate_id"] == 1  # demo, the ticket's user
        assert row["updatedCount"] == 1
    assert call(client, envelope(["sale_id=4"], "NotStarted")).succeeded is True
    row = read_row(db_path, "sale", 4)
    assert row["status"] == 1 and row["done"] is None and row["updatedCount"] == 2


@pytest.mark.parametrize("bad", ["appointment_id=99999", "appointment_id=abc", "meeting_id=1", "", None])
def test_batch_with_one_bad_id_changes_nothing(client: Client, db_path: Path, bad: str | None) -> None:
    call(client, envelope(["todo_id=1"], "NotStarted"))  # make sure the tenant exists
    before = snapshot(db_path)
    answer = call(client, envelope(["appointment_id=2", bad, "sale_id=3"], "Completed"))
    assert answer.status == 200 and answer.succeeded is True  # as NetServer documents
    assert snapshot(db_path) == before


def test_missing_or_empty_array_succeeds_and_changes_nothing(client: Client, db_path: Path) -> None:
    call(client, envelope(["todo_id=1"], "NotStarted"))
    before = snapshot(db_path)
    assert call(client, envelope(None, "Completed")).succeeded is True
    assert call(client, envelope([], "Completed")).succeeded is True
    assert snapshot(db_path) == before


def test_missing_status_means_unknown(client: Client, db_path: Path) -> None:
    assert call(client, envelope(["appointment_id=666"], None)).succeeded is True
    assert read_row(db_path, "appointment", 666)["status"] == 0


def test_status_outside_the_enum_is_a_client_fault_naming_value_and_allowed(
    client: Client, db_path: Path
) -> None:
    call(client, envelope(["todo_id=1"], "NotStarted"))
    before = snapshot(db_path)
    answer = call(client, envelope(["appointment_id=666"], "Finished"))
    assert answer.status == 500 and answer.fault is not None
    assert answer.fault.findtext("faultcode") == "a:DeserializationFailed"  # WCF's, as NetServer answers
    assert "'Finished'" in answer.fault_text
    assert "Unknown, NotStarted, Started, Completed" in answer.fault_text
    assert snapshot(db_path) == before


def test_soap12_fault_uses_soap12_codes(client: Client) -> None:
    answer = call(client, envelope(["appointment_id=666"], "3", version="1.2"), SOAP12_HEADERS)
    assert answer.fault is not None and "s:Sender" in answer.fault_text
    assert answer.envelope_ns == "http://www.w3.org/2003/05/soap-envelope"


def test_operation_not_emulated_names_the_ones_that_are(client: Client) -> None:
    body = envelope(["appointment_id=1"]).replace(b"SetActivityStatus>", b"GetAppointment>")
    answer = call(client, body, {"Content-Type": "text/xml"})
    assert answer.fault is not None
    assert "'GetAppointment'" in answer.fault_text and "SetActivityStatus" in answer.fault_text


def test_soapaction_that_does_not_match_the_body_is_refused(client: Client) -> None:
    headers = dict(
        SOAP11_HEADERS,
        SOAPAction='"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/Other"',
    )
    answer = call(client, envelope(["appointment_id=1"]), headers)
    assert answer.fault is not None and "does not match" in answer.fault_text


def test_ws_addressing_headers_and_xsi_types_are_accepted(client: Client, db_path: Path) -> None:
    body = (
        envelope(["sale_id=9"], "Completed")
        .replace(
            b"<s:Header>",
            b'<s:Header><wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">'
            b"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus</wsa:Action>"
            b'<wsa:MessageID xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:1</wsa:MessageID>',
        )
        .replace(
            b"<a:string>",
            b'<a:string xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xsd:string">',
        )
    )
    assert call(client, body).succeeded is True
    assert read_row(db_path, "sale", 9)["status"] == 3


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"", "text/xml", 400, "empty"),
        (b"<not-closed", "text/xml", 400, "not well-formed"),
        (b"<x/>", "text/xml", 400, "Envelope"),
        (b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'/>", "text/xml", 400, "no Body"),
        (envelope(["appointment_id=1"]), "application/json", 415, "Content-Type"),
        (envelope(["appointment_id=1"]), "", 415, "Content-Type"),
    ],
)
def test_unreadable_requests_get_a_fault_that_says_why(
    client: Client, body: bytes, content_type: str, status: int, words: str
) -> None:
    response = client.post(
        APPOINTMENT, data=body, headers={"Content-Type": content_type} if content_type else {}
    )
    assert response.status_code == status
    answer = Answer(response.status_code, response.data)
    assert words in answer.fault_text
    assert "Traceback" not in response.get_data(as_text=True)


def test_wrap_exceptions_off_turns_failures_into_faults(settings, clock) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.replace(wrap_exceptions=False), clock=clock)
    try:
        answer = call(Client(app), envelope(["appointment_id=1"], ticket="7T:forged"))
        assert answer.status == 500 and answer.fault is not None
        assert answer.info["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"
        assert "unknown" in (answer.info["Message"] or "")
    finally:
        app.runtime.database.dispose()


def test_get_without_wsdl_query_explains_where_the_wsdl_is(client: Client) -> None:
    response = client.get(APPOINTMENT)
    assert response.status_code == 200 and "?wsdl" in response.get_data(as_text=True)


def test_unknown_service_is_404_naming_the_served_ones(client: Client) -> None:
    response = client.post(
        "/Remote/Services86/Contact.svc", data=b"<x/>", headers={"Content-Type": "text/xml"}
    )
    assert response.status_code == 404 and "Appointment.svc" in response.get_data(as_text=True)


def test_strict_mode_fails_instead_of_silently_changing_nothing(settings, clock, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.replace(strict=True), clock=clock)
    try:
        client = Client(app)
        call(client, envelope(["todo_id=1"], "NotStarted"))
        before = snapshot(db_path)
        answer = call(client, envelope(["appointment_id=2", "appointment_id=99999"], "Completed"))
        assert answer.status == 200 and answer.succeeded is False
        assert answer.info["ExceptionType"] == "SuperOffice.Exceptions.SoException"
        assert "appointment_id=99999 does not exist" in (answer.info["Message"] or "")
        assert snapshot(db_path) == before
    finally:
        app.runtime.database.dispose()
