"""Safe to share: tenants made only by those who may, logins outside the writer's lock."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from werkzeug.test import Client

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.domain import sessions
from superoffice_emulator.settings import Settings
from superoffice_emulator.storage.journal import TRIM_EVERY
from superoffice_emulator.testing import LiveServer
from tests.support.clock import FakeClock
from tests.support.database import database_url, query
from tests.support.http import http_call
from tests.support.soap import DEMO_TICKET, SOAP11_HEADERS, Answer, envelope, login, set_status

SESSION = "SuperOffice.Exceptions.SoSessionException"


def tenants(db_path: Path) -> list[str]:
    return [row[0] for row in query(db_path, "SELECT tenant FROM emulator_tenant ORDER BY tenant")]


# -- 3. tenants are made by those who may ----------------------------------------------------------
def test_a_bogus_ticket_to_a_new_name_fails_as_on_an_existing_tenant_and_writes_no_tenant(
    client: Client, db_path: Path
) -> None:
    existing = set_status(client, ["appointment_id=17"], tenant="default", ticket="7T:bogus")
    fresh = set_status(client, ["appointment_id=17"], tenant="newcomer", ticket="7T:bogus")
    assert existing.succeeded is False and fresh.succeeded is False
    assert existing.info["ExceptionType"] == fresh.info["ExceptionType"] == SESSION
    assert existing.info["Message"] == fresh.info["Message"]
    assert tenants(db_path) == []


def test_a_fixture_ticket_makes_the_tenant_on_first_use(client: Client, db_path: Path) -> None:
    assert set_status(client, ["appointment_id=17"], tenant="newcomer", ticket=DEMO_TICKET).succeeded is True
    assert tenants(db_path) == ["newcomer"]


def test_logins_make_a_tenant_only_when_the_fixtures_accept_them(client: Client, db_path: Path) -> None:
    refused = login(client, "sam", "wrong", tenant="wrongpw")
    unknown = login(client, "nobody", "sam", tenant="nobody")
    assert refused.status == unknown.status == 200
    assert refused.succeeded is unknown.succeeded is True  # a refused login answers IsOk false
    assert tenants(db_path) == []
    assert login(client, "sam", "sam", tenant="right").body is not None
    assert tenants(db_path) == ["right"]


def test_unreadable_posts_to_many_names_leave_one_capped_journal(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    settings = Settings(database_url=database_url(db), journal_size=TRIM_EVERY // 2)
    with LiveServer(settings) as server:
        for n in range(TRIM_EVERY * 2):  # real socket, bounded: 100 requests
            request = urllib.request.Request(
                server.url(f"/flood{n}/Remote/Services86/Appointment.svc"),
                data=b"<not xml",
                headers=SOAP11_HEADERS,
            )
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except urllib.error.HTTPError as answer:
                assert answer.code in (400, 415, 500)
    assert tenants(db) == []
    rows = query(db, "SELECT COUNT(*), COUNT(DISTINCT tenant) FROM emulator_journal")[0]
    assert rows[0] <= settings.journal_size + TRIM_EVERY and rows[1] <= rows[0]


def test_a_tenant_beyond_max_tenants_is_a_clear_failure(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    application = create_app(Settings(database_url=database_url(db), max_tenants=2), clock=FakeClock())
    try:
        client = Client(application)
        assert set_status(client, ["appointment_id=17"], tenant="one", ticket=DEMO_TICKET).succeeded is True
        assert set_status(client, ["appointment_id=17"], tenant="two", ticket=DEMO_TICKET).succeeded is True
        third = set_status(client, ["appointment_id=17"], tenant="three", ticket=DEMO_TICKET)
        assert third.succeeded is False
        assert third.info["ExceptionType"] == "SuperOffice.Exceptions.SoException"
        assert "max_tenants" in (third.info["Message"] or "")
        response = client.post("/_emulator/tenants/three")
        assert response.status_code == 409
        assert (
            set_status(client, ["appointment_id=17"], tenant="two", ticket=DEMO_TICKET).succeeded is True
        )  # existing tenants go on
        assert tenants(db) == ["one", "two"]
    finally:
        application.runtime.database.dispose()


def test_a_password_on_a_call_makes_the_tenant_only_when_the_fixtures_accept_it(
    app: EmulatorApp, db_path: Path, verifications: list[tuple[str, bool]]
) -> None:
    from superoffice_emulator.calls import pipeline as calls
    from tests.support.calls import run_rest

    wrong = run_rest(app, calls.Password("sam", "wrong"), ["appointment_id=17"])
    assert isinstance(wrong, calls.Failed) and wrong.exception_type == SESSION
    assert tenants(db_path) == []
    assert isinstance(run_rest(app, calls.Password("sam", "sam"), ["appointment_id=17"]), calls.Succeeded)
    assert tenants(db_path) == ["default"]
    assert len(verifications) == 2 and not any(locked for _, locked in verifications)


def test_a_flood_of_bogus_tickets_to_new_names_makes_no_tenant(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    settings = Settings(database_url=database_url(db), admin_token="s3cret", journal_size=10)
    with LiveServer(settings) as server:
        for n in range(TRIM_EVERY * 2 + 20):  # real socket, bounded: 120 requests
            request = urllib.request.Request(
                server.url(f"/name{n}/Remote/Services86/Appointment.svc"),
                data=envelope(["appointment_id=17"], ticket=f"7T:bogus{n}"),
                headers=SOAP11_HEADERS,
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert Answer(answer.status, answer.read()).info["ExceptionType"] == SESSION
    assert tenants(db) == []
    assert query(db, "SELECT COUNT(*) FROM emulator_journal")[0][0] <= settings.journal_size + TRIM_EVERY


# -- 5. logins outside the writer's lock ------------------------------------------------------------
@pytest.fixture
def verifications(app: EmulatorApp, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bool]]]:
    """Every password verification: the hash verified, and whether the writers' lock was held."""
    seen: list[tuple[str, bool]] = []
    writers = app.runtime.database._transactions.writers
    real = sessions.verify_password

    def spy(password_hash: str, password: str) -> bool:
        seen.append((password_hash, writers.locked()))  # type: ignore[attr-defined]
        return real(password_hash, password)

    monkeypatch.setattr(sessions, "verify_password", spy)
    yield seen


@pytest.mark.parametrize(("user", "password"), [("sam", "wrong"), ("sam", "sam"), ("nobody", "x")])
def test_a_login_verifies_once_outside_the_writers_lock(
    client: Client, verifications: list[tuple[str, bool]], user: str, password: str
) -> None:
    login(client, "sam", "sam", tenant="default")  # the tenant exists
    verifications.clear()
    login(client, user, password, tenant="default")
    assert len(verifications) == 1 and verifications[0][1] is False


def test_an_unknown_user_name_verifies_the_dummy_hash(
    client: Client, verifications: list[tuple[str, bool]]
) -> None:
    login(client, "nobody", "x", tenant="default")
    login(client, "nobody", "x", tenant="fresh")  # a tenant not made yet: the same
    assert [h for h, _ in verifications] == [sessions.DUMMY_HASH, sessions.DUMMY_HASH]


def test_the_dummy_hash_has_the_hashers_parameters() -> None:
    assert sessions.PASSWORD_HASHER.check_needs_rehash(sessions.DUMMY_HASH) is False
    assert sessions.verified_hash(None, "anything") is None


# -- 7. one fault plan for all workers --------------------------------------------------------------
def test_faults_fire_count_times_across_two_workers(tmp_path: Path) -> None:
    import json
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.servers import running
    from tests.support.soap import APPOINTMENT

    def admin(url: str, method: str = "GET", body: bytes | None = None) -> object:
        request = urllib.request.Request(
            url, data=body, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    with running(tmp_path / "crm.db", 2, tmp_path / "server.log") as server:
        admin(server.url("/_emulator/faults"), "POST", b'{"kind": "sentry", "count": 6}')
        # every worker sees the rule, whichever one answers
        assert all(len(admin(server.url("/_emulator/faults"))) == 1 for _ in range(8))  # type: ignore[arg-type]

        def call(n: int) -> Answer:
            body = envelope([f"appointment_id={n + 1}"], "Completed")
            return Answer(*http_call(server.url(APPOINTMENT), body))

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(call, range(16)))
        assert admin(server.url("/_emulator/faults")) == []
        journal = admin(server.url("/_emulator/journal?limit=100"))
        log = server.log()
        pid = server.process.pid
        workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    denied = [a for a in answers if a.info.get("ExceptionType") == "SuperOffice.Exceptions.SoSentryException"]
    assert len(denied) == 6, log
    assert sum(a.succeeded is True for a in answers) == 10
    assert isinstance(journal, list)
    assert sum(e["exception_type"] == "SuperOffice.Exceptions.SoSentryException" for e in journal) == 6
    assert len(workers) == 2, workers  # granian's worker processes (its own log is quiet at info)


# -- 6. the database is watched ---------------------------------------------------------------------
def _remove_sqlite_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_file_deleted_or_replaced_while_serving_fails_every_call(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    from superoffice_emulator.storage.sqlite import (
        driver as sqlite3,  # the library the app in this process uses
    )

    db = tmp_path / "crm.db"
    if not database_url(db).startswith("sqlite"):
        pytest.skip("a SQLite file")
    with LiveServer(Settings(database_url=database_url(db))) as server:
        url = server.url("/Remote/Services86/Appointment.svc")
        assert Answer(*http_call(url, envelope(["appointment_id=17"]), timeout=30)).succeeded is True
        _remove_sqlite_file(db)
        if how == "replaced":
            sqlite3.connect(db).close()  # another (empty) database in its place
        for _ in range(3):
            failed = Answer(*http_call(url, envelope(["appointment_id=18"]), timeout=30))
            assert failed.succeeded is False
            assert failed.info["ExceptionType"] == "SuperOffice.Exceptions.SoDbAccessException"
        status, body = http_call(server.url("/_emulator/health"), timeout=30)
        assert status == 503 and json.loads(body)["status"] == "unavailable"
    errors = [r.getMessage() for r in caplog.records if r.name == "superoffice_emulator.storage"]
    assert len(errors) == 1 and how in errors[0]


def test_health_answers_503_when_the_schema_is_gone(client: Client, db_path: Path) -> None:
    from superoffice_emulator.storage.sqlite import (
        driver as sqlite3,  # the library the app in this process uses
    )

    if not database_url(db_path).startswith("sqlite"):
        pytest.skip("a SQLite file")
    assert client.get("/_emulator/health").status_code == 200
    with closing(sqlite3.connect(db_path)) as connection, connection:
        connection.execute("DROP TABLE emulator_tenant")
    response = client.get("/_emulator/health")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"


# -- 8. small things --------------------------------------------------------------------------------
def test_read_only_admin_queries_go_on_while_another_process_holds_the_write_lock(
    client: Client, db_path: Path
) -> None:
    import threading

    from superoffice_emulator.storage.sqlite import (
        driver as sqlite3,  # the library the app in this process uses
    )

    if not database_url(db_path).startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    assert client.get("/_emulator/activities?limit=1").status_code == 200  # the tenant exists now
    reads = [
        "/_emulator/activities?limit=5",
        "/_emulator/activities/appointment/17",
        "/_emulator/users",
        "/_emulator/journal",
        "/_emulator/faults",
        "/_emulator/tenants",
        "/_emulator/health",
    ]
    answers: dict[str, int] = {}

    def read_all() -> None:
        for path in reads:
            answers[path] = client.get(path).status_code

    writer = sqlite3.connect(db_path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process's writer, holding SQLite's write lock
        reader = threading.Thread(target=read_all, daemon=True)
        reader.start()
        reader.join(timeout=20)  # a read that waited for the lock would wait the 30 s busy timeout
        finished = not reader.is_alive()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert finished and answers == dict.fromkeys(reads, 200)


def test_control_characters_a_client_sends_are_escaped_in_the_text_log(client: Client) -> None:
    import io
    import logging

    from superoffice_emulator.server.logs import configure_logging

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    stream = io.StringIO()
    try:
        configure_logging(stream=stream)
        login(client, "evil&#13;&#10;2026-12-01 00:00:00 INFO forged&#9;x", "x", tenant="default")
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
    call_lines = [line for line in stream.getvalue().splitlines() if "AuthenticateUsernamePassword" in line]
    assert len(call_lines) == 1
    assert "user=evil\\x0d\\x0a2026-12-01 00:00:00 INFO forged\\x09x" in call_lines[0]
    assert "\t" not in stream.getvalue()


@pytest.mark.parametrize(
    "path",
    ["/", "/_emulator/", "/_emulator/health", "/_emulator/journal", "/_emulator/ui/",
     "/Remote/Services86/Appointment.svc", "/Remote/Services86/Appointment.svc?wsdl", "/nowhere"],
)  # fmt: skip
def test_head_answers_as_get_does_without_a_body(tmp_path: Path, path: str) -> None:
    import http.client

    with LiveServer(Settings(database_url=database_url(tmp_path / "crm.db"))) as server:
        answers = {}
        for method in ("GET", "HEAD"):
            connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
            try:
                connection.request(method, path)
                response = connection.getresponse()
                answers[method] = (response.status, response.getheader("Content-Length"), response.read())
            finally:
                connection.close()
    get, head = answers["GET"], answers["HEAD"]
    assert head[0] == get[0] and head[1] == get[1] == str(len(get[2])) and head[2] == b""
