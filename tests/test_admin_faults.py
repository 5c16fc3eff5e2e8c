"""Injected faults as a client sees them: a live server, the admin API over HTTP, a real zeep client.

Each test takes its own tenant of one module-wide server, and a zeep client built from the WSDL
that tenant's endpoint serves (``/{tenant}/Remote/Services86/Appointment.svc?wsdl``).
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport

from superoffice_emulator.settings import Settings
from superoffice_emulator.testing import LiveServer
from tests.support.database import database_url
from tests.support.soap import DEMO_TICKET, SOAP11_HEADERS, TOKEN, envelope

SOAP_HEADERS = {"ApplicationToken": TOKEN, "Credentials": {"Ticket": DEMO_TICKET}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("faults") / "crm.db"
    with LiveServer(Settings(database_url=database_url(path))) as live:
        yield live


@pytest.fixture
def tenant() -> str:
    return f"F{uuid.uuid4().hex[:12]}"


def admin(server: LiveServer, tenant: str, method: str, path: str, body: object = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url(f"/{tenant}/_emulator/{path}"), data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def add_fault(server: LiveServer, tenant: str, **rule: object) -> dict[str, Any]:
    created: dict[str, Any] = admin(server, tenant, "POST", "faults", rule)
    return created


def status_of(server: LiveServer, tenant: str, identifier: str) -> dict[str, Any]:
    kind, _, number = identifier.partition("_id=")
    found: dict[str, Any] = admin(server, tenant, "GET", f"activities/{kind}/{number}")
    return found


SetStatus = Callable[..., Any]
RawPost = Callable[[list[str | None]], http.client.HTTPResponse]


@pytest.fixture
def zeep_client(server: LiveServer, tenant: str) -> Iterator[Callable[[str], zeep.Client]]:
    """``zeep_client(service)``: a client built from the WSDL the tenant's endpoint serves."""
    sessions: list[requests.Session] = []

    def build(service: str) -> zeep.Client:
        transport = Transport(timeout=30, operation_timeout=30)
        sessions.append(transport.session)
        return zeep.Client(server.url(f"/{tenant}/Remote/Services86/{service}.svc?wsdl"), transport=transport)

    yield build
    for session in sessions:  # close keep-alive connections, so the server can stop at once
        session.close()


@pytest.fixture
def set_status(zeep_client: Callable[[str], zeep.Client]) -> SetStatus:
    """``set_status(ids, status)``: SetActivityStatus through zeep, as the tenant's client would."""
    client = zeep_client("Appointment")

    def call(ids: list[str], status: str = "Completed") -> Any:
        return client.service.SetActivityStatus(
            ActivityIdentifier={"string": ids}, ActivityStatus=status, _soapheaders=SOAP_HEADERS
        )

    return call


@pytest.fixture
def raw_post(server: LiveServer, tenant: str) -> Iterator[RawPost]:
    """``raw_post(ids)``: a hand-written SOAP request over a plain HTTP connection."""
    connections: list[http.client.HTTPConnection] = []

    def post(ids: list[str | None]) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        connections.append(connection)
        connection.request(
            "POST", f"/{tenant}/Remote/Services86/Appointment.svc", body=envelope(ids), headers=SOAP11_HEADERS
        )
        return connection.getresponse()

    yield post
    for connection in connections:
        connection.close()


@pytest.mark.parametrize(
    ("kind", "exception_type"),
    [
        ("sentry", "SuperOffice.Exceptions.SoSentryException"),
        ("session", "SuperOffice.Exceptions.SoSessionException"),
    ],
)
def test_sentry_and_session_faults_come_back_as_netserver_failures(
    server: LiveServer, tenant: str, set_status: SetStatus, kind: str, exception_type: str
) -> None:
    add_fault(server, tenant, kind=kind)
    answer = set_status(["appointment_id=17"])
    assert answer.header.Succeeded is False
    assert answer.header.ExceptionInfo.ExceptionType == exception_type
    assert "injected fault" in answer.header.ExceptionInfo.Message
    assert status_of(server, tenant, "appointment_id=17")["updatedCount"] == 0  # nothing was written
    assert set_status(["appointment_id=17"]).header.Succeeded is True  # count 1: the next call is normal
    normal, injected = admin(server, tenant, "GET", "journal")
    assert (injected["outcome"], injected["exception_type"]) == ("failed", exception_type)
    assert injected["injected"] == kind  # the wire cannot tell it from a real refusal; the journal can
    assert (normal["outcome"], normal["injected"]) == ("ok", None)


def test_latency_delays_the_answer_and_then_the_call_goes_through(
    server: LiveServer, tenant: str, set_status: SetStatus
) -> None:
    add_fault(server, tenant, kind="latency", latency_ms=300)
    started = time.perf_counter()
    answer = set_status(["appointment_id=17"])
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.3
    assert answer.header.Succeeded is True
    assert status_of(server, tenant, "appointment_id=17")["status"] == "Completed"
    entry = admin(server, tenant, "GET", "journal")[0]
    assert (entry["outcome"], entry["injected"]) == ("ok", "latency")


@pytest.mark.parametrize(("kind", "code"), [("http503", 503), ("http500", 500)])
def test_http_status_faults_reach_zeep_as_transport_errors(
    server: LiveServer, tenant: str, set_status: SetStatus, kind: str, code: int
) -> None:
    add_fault(server, tenant, kind=kind)
    with pytest.raises(zeep.exceptions.TransportError) as raised:
        set_status(["appointment_id=17"])
    assert raised.value.status_code == code
    assert status_of(server, tenant, "appointment_id=17")["updatedCount"] == 0
    entry = admin(server, tenant, "GET", "journal")[0]
    assert (entry["outcome"], entry["injected"]) == (f"injected {kind}", kind)


def test_a_503_seen_over_plain_http(server: LiveServer, tenant: str, raw_post: RawPost) -> None:
    add_fault(server, tenant, kind="http503")
    response = raw_post(["appointment_id=17"])
    assert response.status == 503


def test_a_dropped_connection_is_a_connection_error_for_zeep(
    server: LiveServer, tenant: str, set_status: SetStatus
) -> None:
    add_fault(server, tenant, kind="drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        set_status(["appointment_id=17"])
    assert status_of(server, tenant, "appointment_id=17")["updatedCount"] == 0
    assert set_status(["appointment_id=17"]).header.Succeeded is True  # the server is still there


def test_a_dropped_connection_is_remote_disconnected_over_plain_http(
    server: LiveServer, tenant: str, raw_post: RawPost
) -> None:
    add_fault(server, tenant, kind="drop")
    with pytest.raises(http.client.RemoteDisconnected):
        raw_post(["appointment_id=17"])


def test_a_malformed_answer_cannot_be_parsed(
    server: LiveServer, tenant: str, set_status: SetStatus, raw_post: RawPost
) -> None:
    add_fault(server, tenant, kind="malformed", count=2)
    with pytest.raises(zeep.exceptions.TransportError) as raised:
        set_status(["appointment_id=17"])
    assert raised.value.status_code == 200 and "invalid XML" in str(raised.value)
    response = raw_post(["appointment_id=17"])
    assert response.status == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(response.read())


def test_a_fault_for_given_identifiers_fires_only_for_calls_touching_them(
    server: LiveServer, tenant: str, set_status: SetStatus
) -> None:
    rule = add_fault(server, tenant, kind="http503", count=None, identifiers=["appointment_id=17"])
    assert set_status(["appointment_id=18"]).header.Succeeded is True
    for ids in (["appointment_id=17"], ["sale_id=2", "appointment_id=17"]):
        with pytest.raises(zeep.exceptions.TransportError) as raised:
            set_status(ids)
        assert raised.value.status_code == 503
    assert status_of(server, tenant, "appointment_id=17")["updatedCount"] == 0
    assert status_of(server, tenant, "sale_id=2")["updatedCount"] == 0  # the batch was refused whole
    assert status_of(server, tenant, "appointment_id=18")["status"] == "Completed"
    assert admin(server, tenant, "GET", "faults") == [rule]  # count null: still there

    admin(server, tenant, "DELETE", f"faults/{rule['id']}")
    assert set_status(["appointment_id=17"]).header.Succeeded is True


def test_count_n_fails_n_calls_counting_down(server: LiveServer, tenant: str, set_status: SetStatus) -> None:
    rule = add_fault(server, tenant, kind="sentry", count=2)
    assert [r["count"] for r in admin(server, tenant, "GET", "faults")] == [2]
    assert set_status(["appointment_id=1"]).header.Succeeded is False
    assert admin(server, tenant, "GET", "faults") == [{**rule, "count": 1}]
    assert set_status(["appointment_id=1"]).header.Succeeded is False
    assert admin(server, tenant, "GET", "faults") == []
    assert set_status(["appointment_id=1"]).header.Succeeded is True
    outcomes = [e["outcome"] for e in admin(server, tenant, "GET", "journal")]
    assert outcomes == ["ok", "failed", "failed"]


def test_a_fault_for_another_operation_leaves_set_activity_status_alone(
    server: LiveServer, tenant: str, set_status: SetStatus, zeep_client: Callable[[str], zeep.Client]
) -> None:
    add_fault(server, tenant, kind="http500", operation="AuthenticateUsernamePassword")
    assert set_status(["appointment_id=17"]).header.Succeeded is True
    principal = zeep_client("SoPrincipal")
    with pytest.raises(zeep.exceptions.TransportError) as raised:
        principal.service.AuthenticateUsernamePassword(
            UserName="demo", Password="demo", _soapheaders={"ApplicationToken": TOKEN}
        )
    assert raised.value.status_code == 500


def test_a_reset_clears_pending_faults(server: LiveServer, tenant: str, set_status: SetStatus) -> None:
    add_fault(server, tenant, kind="http503", count=None)
    admin(server, tenant, "POST", "reset")
    assert set_status(["appointment_id=17"]).header.Succeeded is True


def test_a_refused_admin_request_over_http_is_json(server: LiveServer, tenant: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        add_fault(server, tenant, kind="timeout")
    with raised.value as error:
        assert error.code == 400 and error.headers["Content-Type"] == "application/json"
        assert "use one of" in json.load(error)["error"]
