"""The REST twin over a real socket with a plain HTTP client (requests): calls, credentials, failures,
faults, discovery, and the same rows and journal as the SOAP operation."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests

from superoffice_emulator.rest.paths import endpoint_paths
from superoffice_emulator.testing import LiveServer
from tests.support.clock import FakeClock
from tests.support.database import database_url, query_dicts, read_row, snapshot
from tests.support.soap import (
    APPOINTMENT,
    DEMO_TICKET,
    RITA_TICKET,
    SAM_TICKET,
    SOAP11_HEADERS,
    TOKEN,
    envelope,
)

CALL = "/api/v1/Agents/Appointment/SetActivityStatus"
MIX = ["appointment_id=666", "sale_id=3", "document_id=4", "todo_id=5"]
DEMO_ACCESS_TOKEN = "8A:Cust12345.DemoAdministratorAccessToken"
SAM_ACCESS_TOKEN = "8A:Cust12345.SamSalesrepAccessToken"
SESSION = "SuperOffice.Exceptions.SoSessionException"
SENTRY = "SuperOffice.Exceptions.SoSentryException"
ERROR_KEYS = {"ExceptionType", "Message", "FriendlyText", "Source", "Parameters"}


def post(
    server: LiveServer,
    body: Any,
    *,
    path: str = CALL,
    authorization: str | None = f"SOTicket {DEMO_TICKET}",
    content_type: str = "application/json",
    **headers: str,
) -> requests.Response:
    sent = {"Content-Type": content_type, **{k.replace("_", "-"): v for k, v in headers.items()}}
    if authorization is not None:
        sent["Authorization"] = authorization
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(server.url(path), data=data, headers=sent, timeout=30)


def existing(server: LiveServer, db_path: Path, tenant: str = "default") -> dict[str, list[tuple[Any, ...]]]:
    """The snapshot of the rows, once the tenant exists (a tenant is made on its first call)."""
    server.app.runtime.database.ensure_tenant(tenant)
    return snapshot(db_path)


def failure(answer: requests.Response, status: int, exception_type: str) -> dict[str, Any]:
    """The JSON failure body, checked: its status, its keys, its type, no stack trace."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert "Traceback" not in answer.text and 'File "' not in answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == ERROR_KEYS
    assert body["ExceptionType"] == exception_type
    assert body["Message"] and body["FriendlyText"]
    return body


def journal(server: LiveServer, tenant: str | None = None, **filters: str) -> list[dict[str, Any]]:
    prefix = "" if tenant is None else f"/{tenant}"
    answer = requests.get(server.url(f"{prefix}/_emulator/journal"), params=filters, timeout=30)
    answer.raise_for_status()
    return list(answer.json())


@pytest.fixture
def online(db_path: Path, clock: FakeClock) -> Iterator[LiveServer]:
    from superoffice_emulator.settings import Settings

    with LiveServer(Settings(database_url=database_url(db_path), mode="online"), clock=clock) as server:
        yield server


# -- the endpoint ------------------------------------------------------------------------------
@pytest.mark.parametrize("tenant", [None, "Cust12345"])
def test_a_mix_of_all_four_kinds_is_completed_with_204(
    live: LiveServer, db_path: Path, tenant: str | None
) -> None:
    path = CALL if tenant is None else f"/{tenant}{CALL}"
    answer = post(live, {"ActivityIdentifier": MIX, "ActivityStatus": "Completed"}, path=path)
    assert answer.status_code == 204 and answer.content == b""
    assert "Content-Type" not in answer.headers
    for kind, number in (("appointment", 666), ("sale", 3), ("document", 4), ("todo", 5)):
        row = read_row(db_path, kind, number, tenant=tenant or "default")
        assert row["status"] == 3 and row["done"] is not None and row["updated_associate_id"] == 1
    [entry] = journal(live, tenant)
    assert entry["wire"] == "rest" and entry["outcome"] == "ok" and entry["user"] == "demo"
    assert entry["identifiers"] == MIX and entry["status"] == "Completed"


@pytest.mark.parametrize(
    "body",
    [
        {"activityIdentifier": ["sale_id=7"], "activityStatus": "Started"},  # the TypeScript client's
        {"ACTIVITYIDENTIFIER": ["sale_id=7"], "activitystatus": "started"},
        {"ActivityIdentifier": ["sale_id=7"], "ActivityStatus": 2},
        {"ActivityIdentifier": ["sale_id=7"], "ActivityStatus": "2", "Unrelated": {"x": 1}},
    ],
    ids=["camelCase", "any-case", "number", "numeric-string-and-an-ignored-property"],
)
def test_property_names_in_any_case_and_the_status_by_name_or_number(
    live: LiveServer, db_path: Path, body: dict[str, Any]
) -> None:
    assert post(live, body).status_code == 204
    assert read_row(db_path, "sale", 7)["status"] == 2


def test_the_path_and_agent_names_match_in_any_case(live: LiveServer, db_path: Path) -> None:
    answer = post(live, {"ActivityIdentifier": ["todo_id=2"], "ActivityStatus": 3}, path=CALL.lower() + "/")
    assert answer.status_code == 204
    assert read_row(db_path, "todo", 2)["status"] == 3


def test_a_missing_array_changes_nothing_and_succeeds(live: LiveServer, db_path: Path) -> None:
    before = existing(live, db_path)
    assert post(live, {"ActivityStatus": "Completed"}).status_code == 204
    assert post(live, {"ActivityIdentifier": None}).status_code == 204
    assert snapshot(db_path) == before


def test_a_nonexistent_id_changes_nothing_and_still_succeeds(live: LiveServer, db_path: Path) -> None:
    before = existing(live, db_path)
    answer = post(live, {"ActivityIdentifier": ["sale_id=3", "sale_id=99999"], "ActivityStatus": 3})
    assert answer.status_code == 204
    assert snapshot(db_path) == before
    assert journal(live)[0]["outcome"] == "no change"


# -- authentication ------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["SOTicket", "SoTicket", "SOTICKET", "soticket"])
def test_the_ticket_scheme_in_any_case(live: LiveServer, db_path: Path, scheme: str) -> None:
    answer = post(
        live,
        {"ActivityIdentifier": ["todo_id=7"], "ActivityStatus": 3},
        authorization=f"{scheme} {SAM_TICKET}",
    )
    assert answer.status_code == 204
    assert read_row(db_path, "todo", 7)["updated_associate_id"] == 2


def test_a_ticket_from_soprincipal_works_on_rest(live: LiveServer, db_path: Path) -> None:
    login = envelope(None).replace(b"<t:SetActivityStatus></t:SetActivityStatus>", b"")
    login = login.replace(
        b"<s:Body>",
        b"<s:Body><t:AuthenticateUsernamePassword><t:UserName>sam</t:UserName>"
        b"<t:Password>sam</t:Password></t:AuthenticateUsernamePassword>",
    )
    headers = {
        **SOAP11_HEADERS,
        "SOAPAction": '"http://www.superoffice.net/ws/crm/NetServer/Services86/SoPrincipal/AuthenticateUsernamePassword"',
    }
    answer = requests.post(
        live.url("/Remote/Services86/SoPrincipal.svc"), data=login, headers=headers, timeout=30
    )
    ticket = answer.text.split("<Ticket>")[1].split("</Ticket>")[0]
    assert ticket.startswith("7T:")
    assert (
        post(
            live,
            {"ActivityIdentifier": ["todo_id=7"], "ActivityStatus": 2},
            authorization=f"SOTicket {ticket}",
        ).status_code
        == 204
    )
    assert read_row(db_path, "todo", 7)["updated_associate_id"] == 2


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_works_onsite(live: LiveServer, db_path: Path) -> None:
    assert (
        post(
            live,
            {"ActivityIdentifier": ["todo_id=7"], "ActivityStatus": 3},
            authorization=basic("sam", "sam"),
        ).status_code
        == 204
    )
    assert read_row(db_path, "todo", 7)["updated_associate_id"] == 2


@pytest.mark.parametrize(
    ("authorization", "named"),
    [
        (None, ["SOTicket", "Basic", "Bearer"]),
        ("", ["SOTicket", "Basic", "Bearer"]),
        ("Digest abc", ["Digest", "SOTicket"]),
        ("SOTicket", ["SOTicket"]),
        ("Basic !!!not-base64", ["user:password"]),
        (basic("sam", "wrong"), ["password"]),
        ("SOTicket 7T:neverIssued==", ["unknown"]),
        (f"Bearer {DEMO_ACCESS_TOKEN}", ["Bearer", "Online"]),  # onsite refuses access tokens
    ],
    ids=[
        "none",
        "empty",
        "other-scheme",
        "no-ticket",
        "bad-base64",
        "wrong-password",
        "unknown-ticket",
        "bearer-onsite",
    ],
)
def test_credentials_that_do_not_work_are_401_and_change_nothing(
    live: LiveServer, db_path: Path, authorization: str | None, named: list[str]
) -> None:
    before = existing(live, db_path)
    answer = post(live, {"ActivityIdentifier": MIX, "ActivityStatus": 3}, authorization=authorization)
    body = failure(answer, 401, SESSION)
    assert all(word in body["Message"] for word in named), body["Message"]
    assert "SOTicket" in answer.headers["WWW-Authenticate"]
    assert snapshot(db_path) == before
    assert journal(live)[0]["exception_type"] == SESSION


def test_onsite_ignores_the_application_token(live: LiveServer, db_path: Path) -> None:
    answer = post(
        live, {"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": 3}, SO_AppToken="not-registered"
    )
    assert answer.status_code == 204


def test_online_takes_a_bearer_access_token_with_the_application_token(
    online: LiveServer, db_path: Path
) -> None:
    answer = post(
        online,
        {"ActivityIdentifier": ["sale_id=7"], "ActivityStatus": 3},
        authorization=f"Bearer {SAM_ACCESS_TOKEN}",
        SO_AppToken=TOKEN,
    )
    assert answer.status_code == 204
    assert read_row(db_path, "sale", 7)["updated_associate_id"] == 2
    assert journal(online)[0]["user"] == "sam"
    answer = post(online, {"ActivityIdentifier": ["sale_id=8"], "ActivityStatus": 3}, SO_AppToken=TOKEN)
    assert answer.status_code == 204  # and a ticket, as onsite


@pytest.mark.parametrize(
    ("authorization", "token", "named"),
    [
        (basic("demo", "demo"), TOKEN, ["Basic", "not allowed in Online"]),
        ("Bearer 8A:Cust12345.unknown", TOKEN, ["access token is unknown"]),
        (f"SOTicket {DEMO_TICKET}", None, ["ApplicationToken"]),  # Bearer needs none: it names its app
        (f"SOTicket {DEMO_TICKET}", "not-registered", ["not registered"]),
    ],
    ids=["basic", "unknown-token", "no-app-token", "unknown-app-token"],
)
def test_online_refusals_are_401_and_change_nothing(
    online: LiveServer, db_path: Path, authorization: str, token: str | None, named: list[str]
) -> None:
    before = existing(online, db_path)
    extra = {} if token is None else {"SO_AppToken": token}
    body = failure(
        post(online, {"ActivityIdentifier": MIX, "ActivityStatus": 3}, authorization=authorization, **extra),
        401,
        SESSION,
    )
    assert all(word in body["Message"] for word in named), body["Message"]
    assert snapshot(db_path) == before


# -- failures ------------------------------------------------------------------------------------
def test_a_sentry_refusal_is_403_with_the_exception_info_and_changes_nothing(
    live: LiveServer, db_path: Path
) -> None:
    before = existing(live, db_path)
    answer = post(
        live, {"ActivityIdentifier": MIX, "ActivityStatus": 3}, authorization=f"SOTicket {RITA_TICKET}"
    )
    body = failure(answer, 403, SENTRY)
    assert body["Source"] == "SuperOffice.Services86"
    assert body["Parameters"]["ActivityIdentifier"] == "appointment_id=666"
    assert snapshot(db_path) == before
    [entry] = journal(live)
    assert entry["wire"] == "rest" and entry["outcome"] == "failed" and entry["exception_type"] == SENTRY


def test_strict_mode_refuses_a_nonexistent_id_with_400(db_path: Path, clock: FakeClock) -> None:
    from superoffice_emulator.settings import Settings

    with LiveServer(Settings(database_url=database_url(db_path), strict=True), clock=clock) as server:
        before = existing(server, db_path)
        answer = post(server, {"ActivityIdentifier": ["sale_id=3", "sale_id=99999"], "ActivityStatus": 3})
        failure(answer, 400, "SuperOffice.Exceptions.SoException")
        assert snapshot(db_path) == before


@pytest.mark.parametrize(
    ("body", "content_type", "status", "named"),
    [
        (b'{"ActivityIdentifier": ["sale_id=3"', "application/json", 400, ["not JSON", "line 1"]),
        (b"", "application/json", 400, ["empty"]),
        (b'["sale_id=3"]', "application/json", 400, ["JSON object", "an array"]),
        (
            b'{"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": "Done"}',
            "application/json",
            400,
            ["'Done'", "Completed (3)"],
        ),
        (
            b'{"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": 9}',
            "application/json",
            400,
            ["9", "ActivityStatus"],
        ),
        (
            b'{"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": true}',
            "application/json",
            400,
            ["ActivityStatus", "a boolean"],
        ),
        (
            b'{"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": null}',
            "application/json",
            400,
            ["ActivityStatus", "null"],
        ),
        (
            b'{"ActivityIdentifier": "sale_id=3", "ActivityStatus": 3}',
            "application/json",
            400,
            ["ActivityIdentifier", "a string"],
        ),
        (
            b'{"ActivityIdentifier": ["sale_id=3", 4], "ActivityStatus": 3}',
            "application/json",
            400,
            ["ActivityIdentifier[1]", "a number"],
        ),
        (b'{"activityStatus": 3, "ActivityStatus": 3}', "application/json", 400, ["twice"]),
        (
            b'{"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": 3}',
            "text/xml",
            415,
            ["text/xml", "application/json"],
        ),
        (b'{"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": 3}', "", 415, ["(none)"]),
        (
            b'{"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": 3}',
            "application/json; charset=nope",
            415,
            ["nope"],
        ),
        (b'{"ActivityIdentifier": ["sale_\xff"], "ActivityStatus": 3}', "application/json", 400, ["utf-8"]),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, ["nesting"]),
        (b'{"ActivityStatus": ' + b"9" * 5000 + b"}", "application/json", 400, ["digits"]),
    ],
    ids=[
        "bad-json",
        "empty",
        "not-an-object",
        "unknown-name",
        "unknown-number",
        "boolean",
        "null",
        "array-is-a-string",
        "item-is-a-number",
        "given-twice",
        "xml",
        "no-content-type",
        "unknown-charset",
        "not-utf-8",
        "nested-deep",
        "huge-number",
    ],
)
def test_a_request_that_cannot_be_read_is_4xx_naming_what_was_wrong(
    live: LiveServer, db_path: Path, body: bytes, content_type: str, status: int, named: list[str]
) -> None:
    before = existing(live, db_path)
    answer = post(live, body, content_type=content_type)
    message = failure(answer, status, "ClientFault")["Message"]
    assert all(word in message for word in named), message
    assert snapshot(db_path) == before
    [entry] = journal(live)
    assert (
        entry["wire"] == "rest" and entry["outcome"] == "fault" and entry["operation"] == "SetActivityStatus"
    )


def test_text_json_is_read_too(live: LiveServer, db_path: Path) -> None:
    assert (
        post(
            live,
            {"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": 3},
            content_type="text/json; charset=utf-8",
        ).status_code
        == 204
    )
    assert read_row(db_path, "sale", 3)["status"] == 3


def test_paths_that_are_not_calls(live: LiveServer) -> None:
    failure(post(live, {}, path="/api/v1/Agents/Contact/GetContact"), 404, "ClientFault")
    failure(
        post(live, {}, path="/bad.tenant/api/v1/Agents/Appointment/SetActivityStatus"), 404, "ClientFault"
    )
    answer = requests.get(live.url(CALL), timeout=30)
    assert "POST" in failure(answer, 405, "ClientFault")["Message"]
    unknown = "/api/v1/Agents/Appointment/GetAppointment"
    assert requests.get(live.url(unknown), timeout=30).status_code == 404  # alike for GET and POST
    too_large = b"x" * (live.app.runtime.settings.max_body_bytes + 1)
    failure(post(live, too_large, path=unknown), 404, "ClientFault")  # the route before the body
    assert journal(live) == []  # answered before the pipeline: nothing to journal


def test_a_body_over_the_limit_is_413_in_json(db_path: Path, clock: FakeClock) -> None:
    from superoffice_emulator.settings import Settings

    with LiveServer(Settings(database_url=database_url(db_path), max_body_bytes=1000), clock=clock) as server:
        before = existing(server, db_path)
        answer = post(server, {"ActivityIdentifier": ["sale_id=3"] * 200, "ActivityStatus": 3})
        failure(answer, 413, "ClientFault")
        assert snapshot(db_path) == before


# -- injected faults -------------------------------------------------------------------------------
def arm(server: LiveServer, **rule: Any) -> None:
    requests.post(server.url("/_emulator/faults"), json=rule, timeout=30).raise_for_status()


def test_injected_http500_and_sentry_and_session_hit_rest_calls(live: LiveServer, db_path: Path) -> None:
    before = existing(live, db_path)
    arm(live, kind="http500")
    assert post(live, {"ActivityIdentifier": MIX, "ActivityStatus": 3}).status_code == 500
    arm(live, kind="sentry", identifiers=["sale_id=3"])
    body = failure(post(live, {"ActivityIdentifier": MIX, "ActivityStatus": 3}), 403, SENTRY)
    assert body["Parameters"]["Injected"] == "true"
    arm(live, kind="session")
    failure(post(live, {"ActivityIdentifier": MIX, "ActivityStatus": 3}), 401, SESSION)
    assert snapshot(db_path) == before
    session, sentry, http500 = journal(live)
    assert http500["outcome"] == "injected http500" and http500["wire"] == "rest"
    assert sentry["exception_type"] == SENTRY and "injected" in sentry["message"]
    assert session["exception_type"] == SESSION and "injected" in session["message"]


def test_injected_drop_and_latency_hit_rest_calls(live: LiveServer, db_path: Path) -> None:
    before = existing(live, db_path)
    arm(live, kind="drop")
    with pytest.raises(requests.ConnectionError):
        post(live, {"ActivityIdentifier": MIX, "ActivityStatus": 3})
    assert snapshot(db_path) == before
    arm(live, kind="latency", latency_ms=50)
    assert post(live, {"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": 3}).status_code == 204
    assert read_row(db_path, "sale", 3)["status"] == 3
    latency, drop = journal(live)
    assert drop["outcome"] == "injected drop" and drop["wire"] == "rest"
    assert latency["outcome"] == "ok" and latency["duration_ms"] >= 50  # it waited, then went on
    assert requests.get(live.url("/_emulator/faults"), timeout=30).json() == []  # both rules used up


# -- discovery ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["", "/Cust12345"])
def test_api_and_api_v1_answer_the_version_block_and_the_endpoints(live: LiveServer, prefix: str) -> None:
    root = requests.get(live.url(f"{prefix}/api"), timeout=30).json()
    assert (
        root["Version"] == "v1"
        and root["NetServerVersion"]
        and root["Emulator"].startswith("superoffice-emulator")
    )
    v1 = requests.get(live.url(f"{prefix}/api/v1"), timeout=30).json()
    listed = {(e["Method"], e["Url"]) for e in v1["Endpoints"]}
    assert ("POST", live.url(prefix + CALL)) in listed
    assert ("GET", live.url(f"{prefix}/api/v1/openapi.json")) in listed


def test_the_openapi_document_lists_exactly_the_served_calls(live: LiveServer) -> None:
    document = requests.get(live.url("/api/v1/openapi.json"), timeout=30).json()
    assert document["openapi"].startswith("3.1")
    posts = {path for path, item in document["paths"].items() if "post" in item}
    assert posts == set(endpoint_paths()) == {CALL}
    for path in posts:  # every path the document names is one the emulator answers
        assert post(live, {"ActivityIdentifier": [], "ActivityStatus": 0}, path=path).status_code == 204
    responses = document["paths"][CALL]["post"]["responses"]
    assert {"204", "400", "401", "403", "415"} <= set(responses)


# -- one pipeline: SOAP and REST leave the same rows and journal -----------------------------------
def _rows(db_path: Path, tenant: str) -> dict[str, list[dict[str, Any]]]:
    return {
        kind: [
            {k: v for k, v in row.items() if k != "tenant"}
            for row in query_dicts(
                db_path, f"SELECT * FROM {kind} WHERE tenant = :t ORDER BY {kind}_id", t=tenant
            )
        ]
        for kind in ("appointment", "sale", "document", "todo")
    }


def _entries(server: LiveServer, tenant: str) -> list[dict[str, Any]]:
    skip = {"id", "tenant", "wire", "duration_ms", "request_body", "response_body"}  # differ by wire
    return [{k: v for k, v in e.items() if k not in skip} for e in journal(server, tenant)]


def test_soap_and_rest_calls_of_the_same_batches_leave_identical_rows_and_journal_entries(
    live: LiveServer, db_path: Path
) -> None:
    batches: list[tuple[list[str | None], str, str]] = [
        ([*MIX], "Completed", DEMO_TICKET),
        (["sale_id=7", "todo_id=99999"], "Started", SAM_TICKET),  # a nonexistent id: no change
        (["appointment_id=2", "sale_id=13"], "Completed", DEMO_TICKET),  # Sentry: nobody may change 13
        (["appointment_id=7", None, "sale_id=1"], "NotStarted", SAM_TICKET),
        (["todo_id=3"], "Completed", "7T:neverIssued=="),
    ]
    for identifiers, status, ticket in batches:
        soap = requests.post(
            live.url(f"/soapside{APPOINTMENT}"), data=envelope(identifiers, status, ticket=ticket),
            headers=SOAP11_HEADERS, timeout=30,
        )  # fmt: skip
        assert soap.status_code == 200
        post(live, {"ActivityIdentifier": identifiers, "ActivityStatus": status}, path=f"/restside{CALL}",
             authorization=f"SOTicket {ticket}")  # fmt: skip
    assert _rows(db_path, "soapside") == _rows(db_path, "restside")
    assert read_row(db_path, "sale", 3, tenant="restside")["status"] == 3  # the batches did change rows
    soap_entries, rest_entries = _entries(live, "soapside"), _entries(live, "restside")
    assert len(soap_entries) == len(batches) and soap_entries == rest_entries
    assert {e["wire"] for e in journal(live, "soapside")} == {"soap"}
    assert {e["wire"] for e in journal(live, "restside")} == {"rest"}
    assert {e["outcome"] for e in soap_entries} == {"ok", "no change", "failed"}


@pytest.mark.sqlite_only("drops a column of the SQLite file to make a database of the previous version")
def test_a_database_from_before_the_wire_column_gets_it(db_path: Path) -> None:
    from superoffice_emulator.app import create_app
    from superoffice_emulator.settings import Settings
    from superoffice_emulator.storage.sqlite import (
        driver as sqlite3,  # the library the app in this process uses
    )

    create_app(Settings(database_url=f"sqlite:///{db_path}")).runtime.database.dispose()
    with closing(sqlite3.connect(db_path)) as old, old:
        old.execute("ALTER TABLE emulator_journal DROP COLUMN wire")
    old.close()
    with LiveServer(Settings(database_url=f"sqlite:///{db_path}")) as server:
        assert post(server, {"ActivityIdentifier": ["sale_id=3"], "ActivityStatus": 3}).status_code == 204
        assert journal(server)[0]["wire"] == "rest"
