"""WCF on the wire (what WCF does, and the netserver mode): replies, faults and the two contract modes.

Every reply carries the four out-headers in WCF's order, nil when empty; an ActivityStatus outside
the enumeration is WCF's ``a:DeserializationFailed``; ``netserver`` refuses what NetServer's
basicHttpBinding refuses and changes nothing, ``lenient`` reads it and says so in the journal.
Both services, both SOAP versions (where the mode reads SOAP 1.2), both modes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from lxml import etree
from werkzeug.test import Client, TestResponse

from superoffice_emulator.app import create_app
from superoffice_emulator.settings import Contract, Settings
from superoffice_emulator.soap import ns
from tests.support.clock import FakeClock
from tests.support.database import read_row, snapshot
from tests.support.paths import DATA
from tests.support.soap import APPOINTMENT, SOAP11_HEADERS, SOAP12_HEADERS, SOPRINCIPAL, TOKEN, envelope, post

S86 = "{" + ns.SERVICES86 + "}"
NIL = "{" + ns.XSI + "}nil"
DISPATCHER = ns.WCF_DISPATCHER
ENV = {"1.1": ns.SOAP11_ENV, "1.2": ns.SOAP12_ENV}
LOGIN_ACTION = (
    '"http://www.superoffice.net/ws/crm/NetServer/Services86/SoPrincipal/AuthenticateUsernamePassword"'
)
SOAP11_LOGIN = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": LOGIN_ACTION}
NIL_EXCEPTION_INFO = (
    b'<ExceptionInfo xmlns="http://www.superoffice.net/ws/crm/NetServer/Services86" '
    b'xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>'
)
WCF_415 = (
    "Cannot process the message because the content type 'application/soap+xml; charset=utf-8' "
    "was not the expected type 'text/xml; charset=utf-8'."
)
WCF_FORMATTER = "The formatter threw an exception while trying to deserialize the message: "
WCF_CONTRACT_FILTER = (
    "cannot be processed at the receiver, due to a ContractFilter mismatch at the EndpointDispatcher."
)


@pytest.fixture(params=["lenient", "netserver"])
def contract(request: pytest.FixtureRequest) -> Contract:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def emulator(settings: Settings, clock: FakeClock, contract: Contract) -> Iterator[Client]:
    app = create_app(settings.replace(contract=contract), clock=clock)
    try:
        yield Client(app)
    finally:
        app.runtime.database.dispose()


def login(user: str = "demo", password: str = "demo", *, version: str = "1.1", extra: str = "") -> bytes:
    """An AuthenticateUsernamePassword request, the token in Header."""
    return (
        f'<s:Envelope xmlns:s="{ENV[version]}" xmlns:t="{ns.SERVICES86}">'
        f"<s:Header><t:ApplicationToken>{TOKEN}</t:ApplicationToken></s:Header>"
        f"<s:Body><t:AuthenticateUsernamePassword><t:UserName>{user}</t:UserName>"
        f"<t:Password>{password}</t:Password>{extra}</t:AuthenticateUsernamePassword></s:Body></s:Envelope>"
    ).encode()


def headers_for(version: str, service: str = "Appointment") -> dict[str, str]:
    if version == "1.2":
        return SOAP12_HEADERS
    return SOAP11_HEADERS if service == "Appointment" else SOAP11_LOGIN


class Reply:
    """A SOAP reply taken apart to the bytes that matter."""

    def __init__(self, response: TestResponse) -> None:
        self.status, self.data = response.status_code, response.data
        self.root = etree.fromstring(self.data)
        self.env = "{" + str(etree.QName(self.root).namespace) + "}"
        self.header = self.root.find(self.env + "Header")
        self.fault = self.root.find(f"{self.env}Body/{self.env}Fault")

    @property
    def out_headers(self) -> list[tuple[str, str | None, str | None]]:
        """(name, i:nil, text) of each header child, in order."""
        assert self.header is not None, self.data[:400]
        return [(etree.QName(h).localname, h.get(NIL), h.text) for h in self.header]

    def code(self) -> tuple[str, str | None]:
        """SOAP 1.1: (faultcode, namespace of its prefix); SOAP 1.2: (Value, Subcode/Value's)."""
        assert self.fault is not None, self.data[:400]
        if self.env == "{" + ns.SOAP11_ENV + "}":
            code = self.fault.find("faultcode")
            assert code is not None and code.text is not None
            return code.text, code.nsmap.get(code.text.split(":")[0])
        value = self.fault.find(f"{self.env}Code/{self.env}Value")
        sub = self.fault.find(f"{self.env}Code/{self.env}Subcode/{self.env}Value")
        assert value is not None and value.text is not None
        return value.text, None if sub is None else f"{sub.text} {sub.nsmap.get(str(sub.text).split(':')[0])}"

    @property
    def reason(self) -> str:
        assert self.fault is not None
        text = self.fault.findtext("faultstring")
        if text is None:
            text = self.fault.findtext(f"{self.env}Reason/{self.env}Text")
        assert text is not None
        return text


def journal(client: Client) -> list[dict[str, Any]]:
    response = client.get("/_emulator/journal")
    assert response.status_code == 200
    return cast("list[dict[str, Any]]", response.json)


def versions(contract: Contract) -> list[str]:
    return ["1.1", "1.2"] if contract == "lenient" else ["1.1"]


# -- 2. replies as WCF writes them ----------------------------------------------------------------
SUCCESS_HEADERS = [
    ("ExceptionInfo", "true", None),
    ("ExtraInfo", "true", None),
    ("Succeeded", None, "true"),
    ("TimeZone", "true", None),
]


def test_a_success_answers_every_out_header_nil_but_succeeded(
    emulator: Client, contract: Contract, db_path: Path
) -> None:
    for version in versions(contract):
        reply = Reply(
            post(emulator, envelope(["appointment_id=1"], "Completed", version=version), headers_for(version))
        )
        assert reply.status == 200 and reply.env == "{" + ENV[version] + "}"
        assert reply.out_headers == SUCCESS_HEADERS
        assert NIL_EXCEPTION_INFO in reply.data  # WCF's own form: the i prefix, an empty element
    assert read_row(db_path, "appointment", 1)["status"] == 3


def test_a_wrapped_failure_fills_exception_info_and_keeps_the_others_nil(
    emulator: Client, contract: Contract
) -> None:
    for version in versions(contract):
        body = envelope(["appointment_id=1"], ticket="7T:forged", version=version)
        reply = Reply(post(emulator, body, headers_for(version)))
        assert reply.status == 200
        names = [(name, nil) for name, nil, _ in reply.out_headers]
        assert names == [
            ("ExceptionInfo", None),
            ("ExtraInfo", "true"),
            ("Succeeded", None),
            ("TimeZone", "true"),
        ]
        assert reply.out_headers[2][2] == "false"
        assert reply.header is not None
        assert reply.header.findtext(f"{S86}ExceptionInfo/{S86}ExceptionType") == (
            "SuperOffice.Exceptions.SoSessionException"
        )


def test_soprincipal_answers_the_same_out_headers_on_a_login_and_a_refused_one(
    emulator: Client, contract: Contract
) -> None:
    for version in versions(contract):
        for password, succeeded in (("demo", "true"), ("wrong", "false")):
            reply = Reply(
                post(
                    emulator,
                    login(password=password, version=version),
                    headers_for(version, "SoPrincipal"),
                    path=SOPRINCIPAL,
                )
            )
            assert reply.status == 200
            assert reply.out_headers == SUCCESS_HEADERS  # a refused login is an answer, not a failure
            body = reply.root.find(f"{reply.env}Body/{S86}AuthenticateResponse")
            assert body is not None and body.findtext(f"{S86}AuthenticationSucceeded") == succeeded


def test_a_soprincipal_failure_is_wrapped_with_every_out_header(
    settings: Settings, clock: FakeClock, contract: Contract
) -> None:
    app = create_app(settings.replace(contract=contract, mode="online"), clock=clock)
    try:
        body = login().replace(f"<t:ApplicationToken>{TOKEN}".encode(), b"<t:ApplicationToken>nope")
        reply = Reply(post(Client(app), body, SOAP11_LOGIN, path=SOPRINCIPAL))
    finally:
        app.runtime.database.dispose()
    assert reply.status == 200
    assert [(n, nil) for n, nil, _ in reply.out_headers] == [
        ("ExceptionInfo", None), ("ExtraInfo", "true"), ("Succeeded", None), ("TimeZone", "true"),
    ]  # fmt: skip
    assert reply.out_headers[2][2] == "false"


# -- 3. faults as WCF raises them -----------------------------------------------------------------
def test_a_status_outside_the_enum_is_wcfs_deserialization_fault(
    emulator: Client, contract: Contract, db_path: Path
) -> None:
    Reply(post(emulator, envelope(["todo_id=1"], "NotStarted"), SOAP11_HEADERS))
    before = snapshot(db_path)
    for version in versions(contract):
        reply = Reply(
            post(
                emulator, envelope(["appointment_id=666"], "Finished", version=version), headers_for(version)
            )
        )
        assert reply.status == 500
        if version == "1.1":
            assert reply.code() == ("a:DeserializationFailed", DISPATCHER)
        else:
            assert reply.code() == ("s:Sender", f"a:DeserializationFailed {DISPATCHER}")
        assert reply.reason.startswith(WCF_FORMATTER)
        assert "'Finished'" in reply.reason
        assert "Unknown, NotStarted, Started, Completed" in reply.reason
    assert snapshot(db_path) == before
    assert journal(emulator)[0]["outcome"] == "fault"


# -- 4. netserver refuses, lenient reads and says so --------------------------------------------
def test_the_seed_example_byte_for_byte(emulator: Client, contract: Contract) -> None:
    reply = Reply(post(emulator, (DATA / "seed_request.xml").read_bytes(), SOAP12_HEADERS))
    (entry,) = journal(emulator)
    if contract == "netserver":
        assert reply.status == 415 and WCF_415 in reply.reason
        assert entry["outcome"] == "fault" and entry["contract_warnings"] == []
        return
    assert reply.status == 200 and reply.out_headers == SUCCESS_HEADERS
    warnings = entry["contract_warnings"]
    assert len(warnings) == 3, warnings
    assert "SOAP 1.2" in warnings[0] and "HTTP 415" in warnings[0]
    assert "ApplicationToken and Credentials" in warnings[1] and "outside Header" in warnings[1]
    assert "no SOAPAction" in warnings[2] and "a:ActionNotSupported" in warnings[2]


def test_a_soap12_content_type_is_415_naming_the_expected_type(
    emulator: Client, contract: Contract, db_path: Path
) -> None:
    Reply(post(emulator, envelope(["todo_id=1"], "NotStarted"), SOAP11_HEADERS))
    before = snapshot(db_path)
    for path, body in (
        (APPOINTMENT, envelope(["sale_id=4"], "Completed", version="1.2")),
        (SOPRINCIPAL, login(version="1.2")),
    ):
        reply = Reply(post(emulator, body, SOAP12_HEADERS, path=path))
        entry = journal(emulator)[0]
        if contract == "netserver":
            assert reply.status == 415 and reply.reason.startswith(WCF_415)
            assert snapshot(db_path) == before  # no change, no ticket
            assert entry["outcome"] == "fault"
        else:
            assert reply.status == 200 and reply.fault is None
            assert any("HTTP 415" in w for w in entry["contract_warnings"])
    if contract == "lenient":
        assert read_row(db_path, "sale", 4)["status"] == 3


def test_a_soap12_envelope_sent_as_text_xml(emulator: Client, contract: Contract, db_path: Path) -> None:
    Reply(post(emulator, envelope(["todo_id=1"], "NotStarted"), SOAP11_HEADERS))
    before = snapshot(db_path)
    reply = Reply(post(emulator, envelope(["sale_id=4"], version="1.2"), SOAP11_HEADERS))
    if contract == "netserver":
        assert reply.status == 400 and reply.env == "{" + ns.SOAP11_ENV + "}"
        assert reply.code() == ("s:Client", ns.SOAP11_ENV)
        assert "does not match that of the encoder (Soap11" in reply.reason
        assert snapshot(db_path) == before
    else:
        assert reply.status == 200
        assert any("SOAP 1.2, sent as text/xml" in w for w in journal(emulator)[0]["contract_warnings"])
        assert read_row(db_path, "sale", 4)["status"] == 3


@pytest.mark.parametrize(
    "action",
    [
        None,
        '""',
        "",
        '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/Other"',
        '"urn:nothing"',
    ],
    ids=["missing", "empty-quoted", "empty", "other-operation", "unknown"],
)
def test_a_missing_empty_or_wrong_soapaction(
    emulator: Client, contract: Contract, db_path: Path, action: str | None
) -> None:
    Reply(post(emulator, envelope(["todo_id=1"], "NotStarted"), SOAP11_HEADERS))
    before = snapshot(db_path)
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action is not None:
        headers["SOAPAction"] = action
    reply = Reply(post(emulator, envelope(["appointment_id=2"], "Completed"), headers))
    entry = journal(emulator)[0]
    sent = (action or "").strip('"')
    if contract == "netserver":
        assert reply.status == 500 and reply.code() == ("a:ActionNotSupported", DISPATCHER)
        assert reply.reason.startswith(f"The message with Action '{sent}' {WCF_CONTRACT_FILTER}")
        assert ns.soap_action("Appointment", "SetActivityStatus") in reply.reason  # ours, after WCF's
        assert snapshot(db_path) == before
        assert entry["outcome"] == "fault"
    elif sent:
        assert reply.status == 500 and reply.code() == ("s:Client", ns.SOAP11_ENV)  # as before: a mismatch
        assert snapshot(db_path) == before
    else:
        assert reply.status == 200 and reply.out_headers == SUCCESS_HEADERS
        assert read_row(db_path, "appointment", 2)["status"] == 3
        (warning,) = entry["contract_warnings"]
        assert "no SOAPAction" in warning and "a:ActionNotSupported" in warning


def test_soprincipal_without_soapaction(emulator: Client, contract: Contract) -> None:
    reply = Reply(post(emulator, login(), {"Content-Type": "text/xml; charset=utf-8"}, path=SOPRINCIPAL))
    if contract == "netserver":
        assert reply.status == 500 and reply.code() == ("a:ActionNotSupported", DISPATCHER)
        assert ns.soap_action("SoPrincipal", "AuthenticateUsernamePassword") in reply.reason
    else:
        assert reply.status == 200 and reply.out_headers == SUCCESS_HEADERS
        assert "no SOAPAction" in journal(emulator)[0]["contract_warnings"][0]


def test_netserver_runs_the_operation_the_soapaction_names(
    emulator: Client, contract: Contract, db_path: Path
) -> None:
    """SetActivityStatus's action and a login in the body: WCF's formatter expects the action's element."""
    reply = Reply(post(emulator, login(), SOAP11_HEADERS, path=APPOINTMENT))
    assert reply.status == 500
    if contract == "netserver":
        assert reply.code() == ("a:DeserializationFailed", DISPATCHER)
        assert reply.reason.startswith(WCF_FORMATTER) and "'SetActivityStatus'" in reply.reason
    else:
        assert "not emulated" in reply.reason


def test_headers_outside_header_are_not_seen_by_netserver(
    emulator: Client, contract: Contract, db_path: Path
) -> None:
    Reply(post(emulator, envelope(["todo_id=1"], "NotStarted"), SOAP11_HEADERS))
    before = snapshot(db_path)
    reply = Reply(post(emulator, envelope(["todo_id=6"], "Started", headers_in_header=False), SOAP11_HEADERS))
    entry = journal(emulator)[0]
    assert reply.status == 200
    if contract == "netserver":
        assert reply.header is not None
        assert reply.header.findtext(f"{S86}ExceptionInfo/{S86}ExceptionType") == (
            "SuperOffice.Exceptions.SoSessionException"
        )
        assert reply.out_headers[2][2] == "false"
        assert snapshot(db_path) == before
        assert entry["contract_warnings"] == []
    else:
        assert reply.out_headers == SUCCESS_HEADERS
        assert read_row(db_path, "todo", 6)["status"] == 2  # it was NotStarted
        (warning,) = entry["contract_warnings"]
        assert "ApplicationToken and Credentials" in warning and "SoSessionException" in warning


TWO_BODIES = envelope(["sale_id=4"], "Completed").replace(
    b"</s:Envelope>",
    b"<s:Body><t:SetActivityStatus><t:ActivityIdentifier><a:string>sale_id=9</a:string>"
    b"</t:ActivityIdentifier><t:ActivityStatus>Completed</t:ActivityStatus></t:SetActivityStatus>"
    b"</s:Body></s:Envelope>",
)
TWO_OPERATIONS = envelope(["sale_id=4"], "Completed").replace(
    b"</s:Body>",
    b"<t:SetActivityStatus><t:ActivityIdentifier><a:string>sale_id=9</a:string></t:ActivityIdentifier>"
    b"<t:ActivityStatus>Completed</t:ActivityStatus></t:SetActivityStatus></s:Body>",
)
TWO_ARRAYS = envelope(["sale_id=4"], "Completed").replace(
    b"<t:ActivityStatus>",
    b"<t:ActivityIdentifier><a:string>sale_id=9</a:string></t:ActivityIdentifier><t:ActivityStatus>",
)
TWO_STATUSES = envelope(["sale_id=4"], "Completed").replace(
    b"</t:SetActivityStatus>", b"<t:ActivityStatus>NotStarted</t:ActivityStatus></t:SetActivityStatus>"
)


@pytest.mark.parametrize(
    ("body", "code", "refusal", "warning"),
    [
        (TWO_BODIES, "s:Client", "2 Body elements", "2 Body elements"),
        (TWO_OPERATIONS, "s:Client", "holds 2 elements", "holds 2 elements"),
        (TWO_ARRAYS, "a:DeserializationFailed", "ActivityIdentifier appears 2 times", "ActivityIdentifier"),
        (TWO_STATUSES, "a:DeserializationFailed", "ActivityStatus appears 2 times", "ActivityStatus"),
    ],
    ids=["second-body", "second-operation", "repeated-identifiers", "repeated-status"],
)
def test_a_second_body_operation_or_parameter_is_never_first_one_wins_in_netserver(
    emulator: Client, contract: Contract, db_path: Path, body: bytes, code: str, refusal: str, warning: str
) -> None:
    Reply(post(emulator, envelope(["todo_id=1"], "NotStarted"), SOAP11_HEADERS))
    before = snapshot(db_path)
    reply = Reply(post(emulator, body, SOAP11_HEADERS))
    entry = journal(emulator)[0]
    if contract == "netserver":
        assert reply.fault is not None and reply.code()[0] == code
        assert refusal in reply.reason
        if code == "a:DeserializationFailed":
            assert reply.reason.startswith(WCF_FORMATTER)
        assert snapshot(db_path) == before
        assert entry["outcome"] == "fault"
    else:  # read as before: the first one, and said so
        assert reply.status == 200 and reply.out_headers == SUCCESS_HEADERS
        assert read_row(db_path, "sale", 4)["status"] == 3 and read_row(db_path, "sale", 9)["status"] != 3
        (sentence,) = entry["contract_warnings"]
        assert warning in sentence and "read the first" in sentence


def test_a_repeated_login_parameter_or_header(emulator: Client, contract: Contract) -> None:
    repeated_user = login(extra="<t:UserName>sam</t:UserName>")
    repeated_token = login().replace(
        b"</s:Header>", b"<t:ApplicationToken>other</t:ApplicationToken></s:Header>"
    )
    for body, sentence in (
        (repeated_user, "UserName appears 2 times"),
        (repeated_token, "ApplicationToken appears 2 times"),
    ):
        reply = Reply(post(emulator, body, SOAP11_LOGIN, path=SOPRINCIPAL))
        entry = journal(emulator)[0]
        if contract == "netserver":
            assert reply.fault is not None and sentence in reply.reason
            assert entry["outcome"] == "fault"
        else:
            assert reply.status == 200 and reply.out_headers == SUCCESS_HEADERS
            assert sentence in entry["contract_warnings"][0]


def test_a_request_as_netserver_takes_it_has_no_warnings(emulator: Client) -> None:
    assert Reply(post(emulator, envelope(["appointment_id=1"]), SOAP11_HEADERS)).status == 200
    assert Reply(post(emulator, login(), SOAP11_LOGIN, path=SOPRINCIPAL)).status == 200
    assert [e["contract_warnings"] for e in journal(emulator)] == [[], []]


# -- both modes: IIS paths ignore case ------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/remote/services86/appointment.svc",
        "/REMOTE/SERVICES86/APPOINTMENT.SVC",
        "/Cust1/remote/Services86/Appointment.svc",
    ],
)
def test_service_paths_are_case_insensitive(emulator: Client, db_path: Path, path: str) -> None:
    reply = Reply(post(emulator, envelope(["appointment_id=1"]), SOAP11_HEADERS, path=path))
    assert reply.status == 200 and reply.out_headers == SUCCESS_HEADERS
    tenant = "Cust1" if path.startswith("/Cust1") else "default"
    assert read_row(db_path, "appointment", 1, tenant=tenant)["status"] == 3
    wsdl = emulator.get(path + "?wsdl")
    assert wsdl.status_code == 200 and b"WcfAppointmentService" in wsdl.data


# -- where the warnings show ----------------------------------------------------------------------
def test_the_log_line_carries_the_warnings(
    emulator: Client, contract: Contract, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="superoffice_emulator.calls.pipeline"):
        Reply(post(emulator, envelope(["appointment_id=1"]), {"Content-Type": "text/xml; charset=utf-8"}))
    (record,) = [r for r in caplog.records if r.name == "superoffice_emulator.calls.pipeline"]
    if contract == "lenient":
        assert "[contract: The request has no SOAPAction" in record.getMessage()
        assert len(record.journal.contract_warnings) == 1  # type: ignore[attr-defined]
    else:
        assert "[contract:" not in record.getMessage()
        assert record.journal.outcome == "fault"  # type: ignore[attr-defined]
