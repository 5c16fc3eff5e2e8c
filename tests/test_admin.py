"""The admin API in-process: every endpoint, its errors, the journal and its cap, the admin token."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from superoffice_emulator import __version__
from superoffice_emulator.admin.api import _ROUTES
from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.domain.activities import ActivityKind, ActivityStatus
from superoffice_emulator.settings import Settings
from superoffice_emulator.storage.fixtures import Fixtures
from superoffice_emulator.testing import LiveServer
from tests.support.database import database_url, query
from tests.support.soap import DEMO_TICKET, RITA_TICKET, S86, login, set_status

KIND_ORDER = list(ActivityKind)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorApp]:
    """One emulator for the module (fixtures are hashed once); each test takes its own tenant."""
    path = tmp_path_factory.mktemp("admin") / "crm.db"
    application = create_app(Settings(database_url=database_url(path)))
    yield application
    application.runtime.database.dispose()


@pytest.fixture
def http(shared: EmulatorApp) -> Client:
    return Client(shared)


@pytest.fixture
def tenant() -> str:
    return f"T{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fixtures(shared: EmulatorApp) -> Fixtures:
    return shared.runtime.database.fixtures


def call(
    http: Client, method: str, path: str, body: bytes | str | None = None, **headers: str
) -> tuple[int, Any, TestResponse]:
    response = http.open(path, method=method, data=body, headers=headers)
    assert response.mimetype == "application/json", response.get_data(as_text=True)
    return response.status_code, response.get_json(), response


def expected_order(activities: list[Any]) -> list[tuple[str, int]]:
    ordered = sorted(activities, key=lambda a: (KIND_ORDER.index(a.kind), a.id))
    return [(a.kind.value, a.id) for a in ordered]


# -- health, index, openapi ---------------------------------------------------------------------
def test_health_names_version_and_tenant_and_does_not_create_it(http: Client, tenant: str) -> None:
    assert call(http, "GET", "/_emulator/health")[:2] == (
        200,
        {"status": "ok", "version": __version__, "tenant": "default"},
    )
    status, body, _ = call(http, "GET", f"/{tenant}/_emulator/health")
    assert status == 200 and body["tenant"] == tenant
    names = [t["name"] for t in call(http, "GET", "/_emulator/tenants")[1]]
    assert tenant not in names


@pytest.mark.parametrize("path", ["/_emulator", "/_emulator/"])
def test_index_lists_every_endpoint(http: Client, path: str) -> None:
    status, body, _ = call(http, "GET", path)
    assert status == 200 and body["openapi"] == "/_emulator/openapi.json"
    assert "POST /_emulator/faults" in body["endpoints"]
    assert "DELETE /_emulator/tenants/{name}" in body["endpoints"]
    assert len(body["endpoints"]) == len(_routes())


def _routes() -> set[tuple[str, str]]:
    return {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in _ROUTES.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def test_openapi_describes_exactly_the_routes_and_its_refs_resolve(http: Client) -> None:
    status, doc, _ = call(http, "GET", "/_emulator/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    assert doc["info"]["version"] == __version__
    documented = {(path, m) for path, item in doc["paths"].items() for m in item if m != "parameters"}
    assert documented == _routes()
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(doc))
    assert refs and set(refs) <= set(doc["components"]["schemas"])
    for item in doc["paths"].values():
        for method, operation in item.items():
            if method != "parameters":
                assert operation["summary"] and operation["responses"]


def test_openapi_names_the_wires_a_journal_entry_and_its_filter_take(http: Client) -> None:
    doc = call(http, "GET", "/_emulator/openapi.json")[1]
    entry = doc["components"]["schemas"]["JournalEntry"]["properties"]["wire"]
    journal = doc["paths"]["/journal"]["get"]["parameters"]
    wire_filter = next(p["schema"] for p in journal if p["name"] == "wire")
    for schema in (entry, wire_filter):
        assert schema["type"] == "string" and schema["enum"] == ["soap", "rest", "superid"]


def test_openapi_under_a_tenant_names_that_tenant_as_server(http: Client, tenant: str) -> None:
    doc = call(http, "GET", f"/{tenant}/_emulator/openapi.json")[1]
    assert doc["servers"][0]["url"] == f"/{tenant}/_emulator"


# -- methods and unknown paths ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "reset", "POST"),
        ("GET", "fixtures", "POST"),
        ("GET", "tenants/abc", "DELETE, POST"),
        ("GET", "faults/1", "DELETE"),
        ("PUT", "faults", "DELETE, GET, POST"),
        ("POST", "activities", "GET"),
        ("DELETE", "users", "GET"),
        ("POST", "health", "GET"),
    ],
)
def test_wrong_method_is_405_with_allow_and_a_hint(
    http: Client, method: str, path: str, allowed: str
) -> None:
    status, body, response = call(http, method, f"/_emulator/{path}")
    assert status == 405 and response.headers["Allow"] == allowed
    assert f"{method} is not allowed" in body["error"] and "POST or DELETE" in body["error"]


def test_unknown_admin_path_is_a_json_404_pointing_to_the_list(http: Client) -> None:
    status, body, _ = call(http, "GET", "/_emulator/activitys")
    assert status == 404 and "/_emulator/activitys" in body["error"] and "openapi.json" in body["error"]


# -- reset and fixtures -------------------------------------------------------------------------
def test_reset_restores_fixtures_and_clears_journal_and_faults(
    http: Client, tenant: str, fixtures: Fixtures
) -> None:
    original = next(a for a in fixtures.activities if a.kind is ActivityKind.APPOINTMENT and a.id == 17)
    assert set_status(http, ["appointment_id=17"], "Completed", tenant=tenant).succeeded is True
    assert call(http, "GET", f"/{tenant}/_emulator/activities/appointment/17")[1]["status"] == "Completed"
    assert call(http, "POST", f"/{tenant}/_emulator/faults", '{"kind": "http503", "count": null}')[0] == 201

    assert call(http, "POST", f"/{tenant}/_emulator/reset")[:2] == (
        200,
        {"tenant": tenant, "status": "reset"},
    )

    after = call(http, "GET", f"/{tenant}/_emulator/activities/appointment/17")[1]
    assert after["status"] == original.status.name and after["updatedCount"] == 0 and after["updated"] is None
    assert call(http, "GET", f"/{tenant}/_emulator/journal")[1] == []
    assert call(http, "GET", f"/{tenant}/_emulator/faults")[1] == []
    assert (
        set_status(http, ["appointment_id=17"], "Started", tenant=tenant).status == 200
    )  # the 503 rule is gone


SMALL_FIXTURES = """
roles:
  - {role_id: 1, name: Boss, rights: {all: update}}
  - {role_id: 2, name: Viewer, rights: {all: read, sale: {own: update}}}
users:
  - {associate_id: 7, name: kari, password_hash: "$argon2id$not-a-real-hash", role_id: 1, group_id: 4,
     tickets: ["7T:kari"]}
  - {associate_id: 8, name: vera, password_hash: "$argon2id$not-a-real-hash", role_id: 2, group_id: 4}
activities:
  appointment:
    - {id: 500, title: Kickoff with Fjord, status: NotStarted, associate_id: 7}
  sale:
    - {id: 9, title: Big deal, status: Started, associate_id: 8}
"""


def test_fixtures_in_yaml_replace_the_tenant_data(http: Client, tenant: str) -> None:
    set_status(
        http, ["appointment_id=17"], "Completed", tenant=tenant
    )  # creates the tenant from the default fixtures
    status, body, _ = call(http, "POST", f"/{tenant}/_emulator/fixtures", SMALL_FIXTURES)
    assert status == 200
    assert body["loaded"] == {"roles": 2, "users": 2, "application_tokens": 0, "activities": 2, "denials": 0}

    listed = call(http, "GET", f"/{tenant}/_emulator/activities")[1]
    assert [(a["identifier"], a["title"], a["status"]) for a in listed] == [
        ("appointment_id=500", "Kickoff with Fjord", "NotStarted"),
        ("sale_id=9", "Big deal", "Started"),
    ]
    assert [u["name"] for u in call(http, "GET", f"/{tenant}/_emulator/users")[1]] == ["kari", "vera"]
    assert call(http, "GET", f"/{tenant}/_emulator/journal")[1] == []
    # the posted data is live: its ticket works, the default demo ticket no longer does
    assert (
        set_status(http, ["appointment_id=500"], "Completed", ticket="7T:kari", tenant=tenant).succeeded
        is True
    )
    refused = set_status(http, ["appointment_id=500"], "Started", tenant=tenant)
    assert (
        refused.succeeded is False
        and refused.info["ExceptionType"] == "SuperOffice.Exceptions.SoSessionException"
    )


def test_fixtures_in_json_with_json_content_type(http: Client, tenant: str) -> None:
    data = {
        "roles": [{"role_id": 1, "name": "Boss", "rights": {"all": "update"}}],
        "users": [{"associate_id": 1, "name": "solo", "password_hash": "x", "role_id": 1, "group_id": 1}],
        "activities": {"todo": [{"id": 3, "title": "Call back", "associate_id": 1}]},
    }
    status, body, _ = call(
        http,
        "POST",
        f"/{tenant}/_emulator/fixtures",
        json.dumps(data),
        **{"Content-Type": "application/json"},
    )
    assert status == 200 and body["loaded"]["activities"] == 1
    assert [a["identifier"] for a in call(http, "GET", f"/{tenant}/_emulator/activities")[1]] == ["todo_id=3"]


@pytest.mark.parametrize(
    ("body", "content_type", "kind", "where"),
    [
        ("", "application/yaml", None, "The request body is empty"),
        ("roles: [", "application/yaml", "bad_syntax", "request body: not valid YAML"),
        ("{", "application/json", "bad_syntax", "request body: not valid JSON"),
        ("meetings: []", "application/yaml", "unknown_key", "request body: top level: unknown section"),
        (
            "roles: [{role_id: 1}]",
            "application/yaml",
            "missing",
            "request body: roles[0]: field 'name' is required",
        ),
        (
            "roles: [{role_id: 1, name: R}]\nusers: [{associate_id: 1, name: u, password_hash: x, role_id: 9,"
            " group_id: 1}]",
            "application/yaml",
            "unknown_reference",
            "request body: users[0] (u): field 'role_id' names unknown role 9",
        ),
        ("[" * 200_000, "application/yaml", "too_deep", "request body: nested more than 32 levels"),
        ("[" * 200_000, "application/json", "too_deep", "request body: nested more than 32 levels"),
        (b"\xff\xfe\x00{", "application/json", "bad_syntax", "request body: not valid JSON"),
        (b"roles: \xc3\x28", "application/yaml", "bad_syntax", "request body: not valid YAML"),
    ],
)
def test_bad_fixtures_are_400_with_the_validator_message_and_change_nothing(
    http: Client, tenant: str, body: str | bytes, content_type: str, kind: str | None, where: str
) -> None:
    set_status(http, ["appointment_id=17"], "Completed", tenant=tenant)
    before = call(http, "GET", f"/{tenant}/_emulator/activities?limit=1000")[1]
    status, answer, _ = call(
        http, "POST", f"/{tenant}/_emulator/fixtures", body, **{"Content-Type": content_type}
    )
    assert status == 400 and answer["error"].startswith(where), answer
    if kind is not None:
        assert answer["fixture_error"]["kind"] == kind
        assert answer["fixture_error"]["message"] == answer["error"]
    assert call(http, "GET", f"/{tenant}/_emulator/activities?limit=1000")[1] == before


# -- activities ---------------------------------------------------------------------------------
def test_activities_lists_all_fixture_activities_in_pages(
    http: Client, tenant: str, fixtures: Fixtures
) -> None:
    everything = expected_order(list(fixtures.activities))
    status, page, response = call(http, "GET", f"/{tenant}/_emulator/activities?limit=7&offset=5")
    assert status == 200 and int(response.headers["X-Total-Count"]) == len(everything)
    assert [(a["kind"], a["id"]) for a in page] == everything[5:12]
    first = page[0]
    source = next(a for a in fixtures.activities if (a.kind.value, a.id) == everything[5])
    assert first["identifier"] == f"{source.kind.key}={source.id}"
    assert (first["title"], first["status"], first["associate_id"], first["group_id"]) == (
        source.title,
        source.status.name,
        source.associate_id,
        source.group_id,
    )
    assert first["registered"] == source.registered.isoformat()


def test_activities_filters_combine(http: Client, tenant: str, fixtures: Fixtures) -> None:
    owner = fixtures.activities[0].associate_id
    wanted = [
        a
        for a in fixtures.activities
        if a.kind is ActivityKind.APPOINTMENT
        and a.status is ActivityStatus.NotStarted
        and a.associate_id == owner
    ]
    assert wanted, "the default fixtures should have such activities"
    got = call(
        http,
        "GET",
        f"/{tenant}/_emulator/activities?kind=appointment&status=notstarted&owner={owner}&limit=1000",
    )[1]
    assert [(a["kind"], a["id"]) for a in got] == expected_order(wanted)


def test_activities_text_search_is_case_insensitive_and_literal(
    http: Client, tenant: str, fixtures: Fixtures
) -> None:
    word = fixtures.activities[0].title.split()[-1]
    wanted = [a for a in fixtures.activities if word.lower() in a.title.lower()]
    got = call(http, "GET", f"/{tenant}/_emulator/activities?q={word.upper()}&limit=1000")[1]
    assert [(a["kind"], a["id"]) for a in got] == expected_order(wanted) and got
    assert call(http, "GET", f"/{tenant}/_emulator/activities?q=%25")[1] == []  # % is not a wildcard


def test_activities_by_id_shows_a_change_made_over_soap(
    http: Client, tenant: str, fixtures: Fixtures
) -> None:
    demo = next(u for u in fixtures.users if DEMO_TICKET in u.tickets)
    assert set_status(http, ["sale_id=3", "appointment_id=3"], "Completed", tenant=tenant).succeeded is True
    got = call(http, "GET", f"/{tenant}/_emulator/activities?id=3")[1]
    changed = {a["identifier"]: a for a in got}
    assert set(changed) == {f"{a.kind.key}=3" for a in fixtures.activities if a.id == 3}
    for identifier in ("sale_id=3", "appointment_id=3"):
        assert changed[identifier]["status"] == "Completed" and changed[identifier]["done"] is not None
        assert changed[identifier]["updatedCount"] == 1
        assert changed[identifier]["updated_associate_id"] == demo.associate_id
    one = call(http, "GET", f"/{tenant}/_emulator/activities/sale/3")[1]
    assert one == changed["sale_id=3"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "status=Done",
            "Query parameter status is 'Done'; use one of: Unknown, NotStarted, Started, Completed",
        ),
        ("kind=meeting", "use one of: appointment, sale, document, todo"),
        ("owner=abc", "Query parameter owner must be an integer"),
        ("id=99999999999", "Query parameter id must be an integer"),
        ("limit=0", "Query parameter limit must be an integer from 1"),
        ("offset=-1", "Query parameter offset must be an integer from 0"),
        ("staus=Completed", "Unknown query parameter(s) staus; this endpoint takes:"),
        ("q=" + "x" * 201, "longer than 200"),
    ],
)
def test_activities_bad_query_is_400_saying_what_to_send(http: Client, query: str, message: str) -> None:
    status, body, _ = call(http, "GET", f"/_emulator/activities?{query}")
    assert status == 400 and message in body["error"], body


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("activities/appointment/99999", 404, "appointment_id=99999 does not exist in tenant"),
        ("activities/meeting/1", 404, "There is no activity kind 'meeting'"),
        ("activities/appointment/x1", 400, "The activity id must be an integer"),
    ],
)
def test_one_activity_errors(http: Client, tenant: str, path: str, status: int, message: str) -> None:
    got, body, _ = call(http, "GET", f"/{tenant}/_emulator/{path}")
    assert got == status and message in body["error"]


# -- users --------------------------------------------------------------------------------------
def test_users_show_role_rights_and_what_to_call_with_but_no_hash(
    http: Client, tenant: str, fixtures: Fixtures
) -> None:
    status, users, response = call(http, "GET", f"/{tenant}/_emulator/users")
    assert status == 200
    roles = {r.role_id: r for r in fixtures.roles}
    assert [u["name"] for u in users] == [
        u.name for u in sorted(fixtures.users, key=lambda u: u.associate_id)
    ]
    for shown, source in zip(users, sorted(fixtures.users, key=lambda u: u.associate_id), strict=True):
        role = roles[source.role_id]
        assert (shown["associate_id"], shown["group_id"], shown["role"]) == (
            source.associate_id,
            source.group_id,
            role.name,
        )
        assert shown["rights"] == {
            table: {"own": r.own.name, "group": r.group.name, "other": r.other.name}
            for table, r in role.rights.items()
        }
        assert shown["tickets"] == sorted(source.tickets)
        assert shown["access_tokens"] == sorted(source.access_tokens)
        assert shown["password"] == source.name  # the demo data publishes its passwords: the names
    assert {u["name"]: u["denied"] for u in users if u["denied"]} == {"sam": ["appointment_id=99"]}
    raw = response.get_data(as_text=True)
    assert "argon2" not in raw and "password_hash" not in raw


def test_a_login_ticket_is_not_listed_with_the_fixed_ones(http: Client, tenant: str) -> None:
    answer = login(http, "demo", "demo", tenant=tenant)
    assert answer.body is not None
    ticket = answer.body.findtext(f".//{S86}Ticket")
    assert ticket
    users = call(http, "GET", f"/{tenant}/_emulator/users")[1]
    assert ticket not in json.dumps(users)


def test_passwords_are_shown_only_as_the_fixture_file_publishes_them(
    tmp_path: Path, fixtures: Fixtures
) -> None:
    demo_hash = next(u.password_hash for u in fixtures.users if u.name == "demo")
    fixtures_file = tmp_path / "mine.yaml"
    fixtures_file.write_text(
        "roles: [{role_id: 1, name: Administrator, rights: {all: update}}]\n"
        "users:\n"
        "  - {associate_id: 1, name: anna, password: s3cret, role_id: 1, group_id: 1}\n"
        f"  - {{associate_id: 2, name: bo, password_hash: '{demo_hash}', role_id: 1, group_id: 1}}\n"
    )
    application = create_app(Settings(database_url=database_url(tmp_path / "crm.db"), fixtures=fixtures_file))
    try:
        users = call(Client(application), "GET", "/_emulator/users")[1]
    finally:
        application.runtime.database.dispose()
    # plain text in the file: shown; a hash only (even of a password known elsewhere): never
    assert {u["name"]: u["password"] for u in users} == {"anna": "s3cret", "bo": None}
    assert "argon2" not in json.dumps(users)


def test_denials_and_application_tokens_are_listed(http: Client, tenant: str, fixtures: Fixtures) -> None:
    status, denials, _ = call(http, "GET", f"/{tenant}/_emulator/denials")
    assert status == 200
    names = {u.name: u.associate_id for u in fixtures.users}
    assert denials == [
        {"identifier": "appointment_id=99", "kind": "appointment", "id": 99, "associate_id": names["sam"]},
        {"identifier": "sale_id=13", "kind": "sale", "id": 13, "associate_id": None},
    ]
    status, tokens, _ = call(http, "GET", f"/{tenant}/_emulator/application_tokens")
    assert status == 200 and tokens == {"tokens": list(fixtures.application_tokens), "required": False}


# -- journal ------------------------------------------------------------------------------------
def test_journal_records_calls_newest_first_and_filters(http: Client, tenant: str) -> None:
    set_status(http, ["appointment_id=17"], "Completed", tenant=tenant)
    set_status(http, ["appointment_id=18", "sale_id=2"], "Started", tenant=tenant)
    denied = set_status(
        http, ["appointment_id=1"], "Completed", ticket=RITA_TICKET, tenant=tenant
    )  # read-only user
    assert denied.succeeded is False

    status, entries, _ = call(http, "GET", f"/{tenant}/_emulator/journal")
    assert status == 200 and len(entries) == 3
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    newest, middle, oldest = entries
    assert (oldest["service"], oldest["operation"], oldest["user"]) == (
        "Appointment",
        "SetActivityStatus",
        "demo",
    )
    assert (oldest["identifiers"], oldest["status"], oldest["outcome"]) == (
        ["appointment_id=17"],
        "Completed",
        "ok",
    )
    assert middle["identifiers"] == ["appointment_id=18", "sale_id=2"] and middle["status"] == "Started"
    assert (newest["user"], newest["outcome"]) == ("rita", "failed")
    assert newest["exception_type"] == "SuperOffice.Exceptions.SoSentryException" and newest["message"]
    assert [e["injected"] for e in entries] == [None, None, None]  # a real refusal: nothing injected
    assert all(e["tenant"] == tenant and e["duration_ms"] >= 0 and e["at"] for e in entries)

    assert [e["id"] for e in call(http, "GET", f"/{tenant}/_emulator/journal?outcome=failed")[1]] == [
        newest["id"]
    ]
    assert [e["id"] for e in call(http, "GET", f"/{tenant}/_emulator/journal?user=demo")[1]] == [
        middle["id"],
        oldest["id"],
    ]
    assert call(http, "GET", f"/{tenant}/_emulator/journal?operation=Authenticate")[1] == []
    assert [e["id"] for e in call(http, "GET", f"/{tenant}/_emulator/journal?limit=1")[1]] == [newest["id"]]


def test_journal_polling_with_since_id_returns_only_newer_oldest_first(http: Client, tenant: str) -> None:
    set_status(http, ["appointment_id=1"], "Completed", tenant=tenant)
    last_seen = call(http, "GET", f"/{tenant}/_emulator/journal")[1][0]["id"]
    assert call(http, "GET", f"/{tenant}/_emulator/journal?since_id={last_seen}")[1] == []
    for activity_id in (2, 3, 4):
        set_status(http, [f"appointment_id={activity_id}"], "Completed", tenant=tenant)
    polled = call(http, "GET", f"/{tenant}/_emulator/journal?since_id={last_seen}")[1]
    assert [e["identifiers"] for e in polled] == [
        ["appointment_id=2"],
        ["appointment_id=3"],
        ["appointment_id=4"],
    ]
    assert all(e["id"] > last_seen for e in polled)


def test_journal_is_per_tenant_and_clearable(http: Client, tenant: str) -> None:
    other = tenant + "b"
    set_status(http, ["appointment_id=1"], "Completed", tenant=tenant)
    set_status(http, ["appointment_id=2"], "Completed", tenant=tenant)
    set_status(http, ["appointment_id=3"], "Completed", tenant=other)
    assert call(http, "DELETE", f"/{tenant}/_emulator/journal")[:2] == (200, {"tenant": tenant, "deleted": 2})
    assert call(http, "GET", f"/{tenant}/_emulator/journal")[1] == []
    assert [e["identifiers"] for e in call(http, "GET", f"/{other}/_emulator/journal")[1]] == [
        ["appointment_id=3"]
    ]


def _journal_rows(db: Path, tenant: str) -> int:
    return int(query(db, "SELECT count(*) FROM emulator_journal WHERE tenant = :t", t=tenant)[0][0])


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[tuple[Client, Path]]:
    db = tmp_path / "capped.db"
    application = create_app(Settings(database_url=database_url(db), journal_size=20))
    yield Client(application), db
    application.runtime.database.dispose()


def test_journal_stays_bounded_by_its_cap(capped: tuple[Client, Path]) -> None:
    http, db = capped
    calls = 150
    for n in range(calls):
        set_status(http, [f"appointment_id={n % 30 + 1}"], "Completed", tenant="default")
    stored = _journal_rows(db, "default")
    assert stored <= 20 + 50 < calls  # trimmed to the cap every 50 writes

    entries = call(http, "GET", "/_emulator/journal?limit=1000")[1]
    assert len(entries) == 20  # a read never returns more than the cap, even between trims
    ids = [e["id"] for e in entries]
    assert ids == list(range(ids[0], ids[0] - 20, -1))  # the newest 20, contiguous
    assert entries[0]["identifiers"] == [f"appointment_id={(calls - 1) % 30 + 1}"]
    assert len(call(http, "GET", "/_emulator/journal?since_id=0&limit=1000")[1]) == 20


def test_journal_of_every_tenant_stays_bounded_when_tenants_take_turns(capped: tuple[Client, Path]) -> None:
    http, db = capped
    for _ in range(100):
        for tenant in ("TeamA", "TeamB"):
            set_status(http, ["appointment_id=1"], "Completed", tenant=tenant)
    assert _journal_rows(db, "TeamA") <= 20 + 50
    assert _journal_rows(db, "TeamB") <= 20 + 50


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since_id=x", "since_id must be an integer"),
        ("outcome=", ""),
        ("users=demo", "Unknown query parameter"),
    ],
)
def test_journal_bad_query(http: Client, query: str, message: str) -> None:
    status, body, _ = call(http, "GET", f"/_emulator/journal?{query}")
    if message:
        assert status == 400 and message in body["error"]
    else:  # an empty filter is no filter
        assert status == 200 and isinstance(body, list)


# -- faults -------------------------------------------------------------------------------------
def test_fault_rules_are_added_listed_and_removed(http: Client, tenant: str) -> None:
    base = f"/{tenant}/_emulator/faults"
    status, rule, response = call(
        http, "POST", base, '{"kind": "http503", "count": 2, "identifiers": [" appointment_id = 17 "]}'
    )
    assert status == 201
    assert rule == {
        "id": rule["id"],
        "kind": "http503",
        "count": 2,
        "identifiers": ["appointment_id=17"],
        "operation": None,
        "latency_ms": 0,
    }
    assert response.headers["Location"] == f"{base}/{rule['id']}"
    latency = call(http, "POST", base, '{"kind": "latency", "latency_ms": 250, "count": null}')[1]
    assert latency["count"] is None and latency["latency_ms"] == 250
    assert call(http, "GET", base)[1] == [rule, latency]
    assert call(http, "GET", f"/{tenant}b/_emulator/faults")[1] == []  # per tenant

    assert call(http, "DELETE", f"{base}/{rule['id']}")[:2] == (200, {"tenant": tenant, "deleted": 1})
    assert call(http, "GET", base)[1] == [latency]
    status, body, _ = call(http, "DELETE", f"{base}/{rule['id']}")
    assert status == 404 and f"no active fault {rule['id']}" in body["error"]
    assert call(http, "DELETE", base)[:2] == (200, {"tenant": tenant, "deleted": 1})
    assert call(http, "GET", base)[1] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "The request body is empty"),
        ("{kind: http503}", "not valid JSON"),
        ('["http503"]', "must be a JSON object, not list"),
        ('{"kind": "timeout"}', "Field kind is 'timeout'; use one of: sentry, session, latency, http500"),
        ('{"kind": "http503", "count": 0}', "Field count is 0; use a positive integer, or null"),
        ('{"kind": "http503", "count": "2"}', "Field count is '2'"),
        ('{"kind": "http503", "count": true}', "Field count is True"),
        ('{"kind": "drop", "identifiers": "appointment_id=1"}', "Field identifiers must be a list"),
        ('{"kind": "drop", "identifiers": ["meeting_id=1"]}', "identifiers[0] is 'meeting_id=1'"),
        ('{"kind": "drop", "identifiers": [17]}', "identifiers[0] is 17"),
        ('{"kind": "latency"}', "A latency fault needs latency_ms"),
        ('{"kind": "latency", "latency_ms": 600001}', "A latency fault needs latency_ms"),
        ('{"kind": "http500", "latency_ms": 100}', "latency_ms only applies to kind latency"),
        ('{"kind": "sentry", "operation": "Set Status"}', "Field operation is 'Set Status'"),
        ('{"kind": "sentry", "ids": []}', "Unknown field(s) ids; a fault takes: kind, count"),
    ],
)
def test_bad_fault_requests_are_400_and_add_nothing(
    http: Client, tenant: str, body: str, message: str
) -> None:
    status, answer, _ = call(http, "POST", f"/{tenant}/_emulator/faults", body)
    assert status == 400 and message in answer["error"], answer
    assert call(http, "GET", f"/{tenant}/_emulator/faults")[1] == []


def test_removing_a_fault_by_a_non_number_is_400(http: Client) -> None:
    status, body, _ = call(http, "DELETE", "/_emulator/faults/first")
    assert status == 400 and "The fault id must be an integer" in body["error"]


def test_a_fault_fires_for_the_tenant_it_was_set_on_only(http: Client, tenant: str) -> None:
    call(http, "POST", f"/{tenant}/_emulator/faults", '{"kind": "sentry"}')
    assert set_status(http, ["appointment_id=17"], "Completed", tenant=tenant + "x").succeeded is True
    denied = set_status(http, ["appointment_id=17"], "Completed", tenant=tenant)
    assert (
        denied.succeeded is False
        and denied.info["ExceptionType"] == "SuperOffice.Exceptions.SoSentryException"
    )
    assert call(http, "GET", f"/{tenant}/_emulator/activities/appointment/17")[1]["updatedCount"] == 0
    entry = call(http, "GET", f"/{tenant}/_emulator/journal")[1][0]
    assert entry["outcome"] == "failed" and "injected fault" in entry["message"]


# -- tenants ------------------------------------------------------------------------------------
def test_tenants_are_created_listed_and_deleted(http: Client, tenant: str, fixtures: Fixtures) -> None:
    status, created, response = call(http, "POST", f"/_emulator/tenants/{tenant}")
    assert status == 201 and created["name"] == tenant and created["created"]
    assert response.headers["Location"] == f"/{tenant}/_emulator/"
    assert call(http, "POST", f"/_emulator/tenants/{tenant}")[:2] == (200, created)  # exists: unchanged
    assert created in call(http, "GET", "/_emulator/tenants")[1]
    total = call(http, "GET", f"/{tenant}/_emulator/activities")[2].headers["X-Total-Count"]
    assert int(total) == len(fixtures.activities)

    assert call(http, "DELETE", f"/_emulator/tenants/{tenant}")[:2] == (200, {"deleted": tenant})
    assert tenant not in [t["name"] for t in call(http, "GET", "/_emulator/tenants")[1]]
    status, body, _ = call(http, "DELETE", f"/_emulator/tenants/{tenant}")
    assert status == 404 and f"no tenant '{tenant}'" in body["error"]


def test_deleting_a_tenant_drops_its_faults_and_it_comes_back_fresh(http: Client, tenant: str) -> None:
    set_status(http, ["appointment_id=17"], "Completed", tenant=tenant)
    call(http, "POST", f"/{tenant}/_emulator/faults", '{"kind": "http500", "count": null}')
    call(http, "DELETE", f"/_emulator/tenants/{tenant}")
    assert call(http, "GET", f"/{tenant}/_emulator/faults")[1] == []
    assert call(http, "GET", f"/{tenant}/_emulator/activities/appointment/17")[1]["updatedCount"] == 0


@pytest.mark.parametrize(
    "name",
    ["..", "a..b", ".hidden", "-lead", "_lead", "x" * 65, "a%2Fb", "a/b", "a%20b", "caf%C3%A9", "a%00b"],
)
def test_invalid_tenant_names_are_400_everywhere(http: Client, name: str) -> None:
    for method, path in (("POST", f"/_emulator/tenants/{name}"), ("DELETE", f"/_emulator/tenants/{name}")):
        status, body, _ = call(http, method, path)
        assert status == 400 and "is not a valid tenant name" in body["error"], (path, body)
    if "/" not in name and "%2F" not in name:
        status, body, _ = call(http, "GET", f"/{name}/_emulator/activities")
        assert status == 400 and "is not a valid tenant name" in body["error"]
    assert all(not t["name"].startswith((".", "-", "_")) for t in call(http, "GET", "/_emulator/tenants")[1])


def test_a_64_character_tenant_name_is_fine(http: Client) -> None:
    name = "C" + uuid.uuid4().hex + "x" * 31
    assert len(name) == 64
    assert call(http, "POST", f"/_emulator/tenants/{name}")[0] == 201


# -- admin token, limits ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    path = tmp_path_factory.mktemp("guarded") / "crm.db"
    settings = Settings(database_url=database_url(path), admin_token="s3cret-token", max_body_bytes=4096)
    application = create_app(settings)
    yield Client(application)
    application.runtime.database.dispose()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer s3cret-token-and-more", "Basic czNjcmV0LXRva2Vu", "s3cret-token"],
)
def test_admin_token_is_required_when_set(guarded: Client, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in (
        ("GET", "/_emulator/activities"),
        ("POST", "/_emulator/reset"),
        ("GET", "/T1/_emulator/"),
    ):
        status, body, response = call(guarded, method, path, **headers)
        assert status == 401 and "Authorization: Bearer <token>" in body["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_admin_token_lets_the_holder_in_and_health_stays_open(guarded: Client) -> None:
    assert call(guarded, "GET", "/_emulator/health")[0] == 200
    set_status(guarded, ["appointment_id=17"], "Completed", tenant="default")
    assert call(guarded, "POST", "/_emulator/reset")[0] == 401
    token = {"Authorization": "Bearer s3cret-token"}
    assert (
        call(guarded, "GET", "/_emulator/activities/appointment/17", **token)[1]["updatedCount"] == 1
    )  # not reset
    assert call(guarded, "POST", "/_emulator/reset", **token)[0] == 200
    assert call(guarded, "GET", "/_emulator/activities/appointment/17", **token)[1]["updatedCount"] == 0


def test_an_oversized_body_is_a_json_413(guarded: Client) -> None:
    body = "roles: []\n" + "#" * 5000
    status, answer, _ = call(
        guarded, "POST", "/_emulator/fixtures", body, Authorization="Bearer s3cret-token"
    )
    assert status == 413 and answer["error"]


@pytest.fixture
def small_live(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(Settings(database_url=database_url(tmp_path / "crm.db"), max_body_bytes=4096)) as server:
        yield server


def chunked_post(server: LiveServer, path: str, body: bytes) -> tuple[int, Any]:
    """POST ``body`` with ``Transfer-Encoding: chunked``, so the server sees no Content-Length."""
    connection = HTTPConnection(server.host, server.port, timeout=30)
    try:
        chunks = (body[i : i + 1000] for i in range(0, len(body), 1000))
        connection.request(
            "POST", path, body=chunks, headers={"Content-Type": "application/yaml"}, encode_chunked=True
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def padded_to(size: int) -> bytes:
    """Valid fixtures of exactly ``size`` bytes: whatever part of it is cut off, the rest still loads."""
    document = SMALL_FIXTURES.encode() + b"#"
    return document + b"x" * (size - len(document) - 1) + b"\n"


def test_a_chunked_fixture_upload_is_taken_whole_up_to_the_limit_and_refused_beyond(
    small_live: LiveServer,
) -> None:
    exact = padded_to(4096)
    assert len(exact) == 4096
    status, body = chunked_post(small_live, "/Exact/_emulator/fixtures", exact)
    assert status == 200 and body["loaded"]["activities"] == 2

    status, body = chunked_post(small_live, "/Over/_emulator/fixtures", padded_to(4097))
    assert status == 413 and "larger than 4096 bytes" in body["error"]
    with urllib.request.urlopen(small_live.url("/_emulator/tenants"), timeout=30) as response:
        assert "Over" not in [t["name"] for t in json.load(response)]  # nothing was loaded from a cut body
