"""The calls' storage: their statements on the driver's cursor, id lists of any length, the
connections they reuse, and one SOAP POST answered alike with or without a Content-Length."""

from __future__ import annotations

import http.client
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from werkzeug.test import Client

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.domain.activities import ActivityKind, ActivityStatus
from superoffice_emulator.settings import Settings
from superoffice_emulator.storage.database import StorageError
from superoffice_emulator.storage.faults import fault_rules_for
from superoffice_emulator.storage.journal import json_strings
from superoffice_emulator.storage.sql import Statement, dialect_named
from superoffice_emulator.storage.store import AuthorizationCode, statements_for
from superoffice_emulator.storage.tenants import tenants_for
from superoffice_emulator.storage.webhooks import webhooks_for
from superoffice_emulator.testing import LiveServer
from tests.support.clock import FakeClock
from tests.support.database import query, read_row
from tests.support.soap import APPOINTMENT, DEMO_TICKET, SOAP11_HEADERS, TOKEN, Answer, envelope

NOW = datetime(2026, 3, 1, 12, 30, 45, 123456)


def _existing_appointments(db_path: Path) -> list[int]:
    rows = query(db_path, "SELECT appointment_id FROM appointment WHERE tenant = 'default'")
    return sorted(row[0] for row in rows)


@pytest.mark.parametrize("count", [1, 3, 64, 65, 40_000])
def test_id_lists_of_any_length_reach_exactly_the_named_rows(
    app: EmulatorApp, db_path: Path, count: int
) -> None:
    """Short lists get one placeholder per id (3 ids fill a statement of 4, the last id twice),
    long ones one parameter (a JSON array on SQLite, an array on PostgreSQL): 40,000 ids is past
    SQLite's 32,766 variables and fine."""
    database = app.runtime.database
    database.ensure_tenant("default")
    existing = _existing_appointments(db_path)
    wanted = list(range(1, count + 1))
    named = sorted(set(existing) & set(wanted))
    assert named, "the fixtures have appointments among the first ids"
    with database.transaction("default") as store:
        records = store.fetch_activities(ActivityKind.APPOINTMENT, wanted, associate_id=1)
        assert sorted(records) == named
        store.update_status(ActivityKind.APPOINTMENT, wanted, ActivityStatus.Started, 2, NOW)
    changed = query(
        db_path, "SELECT appointment_id FROM appointment WHERE tenant = 'default' AND \"updatedCount\" = 1"
    )
    assert sorted(row[0] for row in changed) == named
    row = read_row(db_path, "appointment", named[-1])
    assert row["status"] == int(ActivityStatus.Started) and row["done"] is None
    assert row["updated"] == "2026-03-01 12:30:45.123456"  # SQLAlchemy's DateTime format on SQLite
    assert row["updated_associate_id"] == 2


def test_a_ticket_reads_back_as_python_values(app: EmulatorApp) -> None:
    """The driver's values (on SQLite, text and integers) come back through the column types."""
    database = app.runtime.database
    with database.transaction("default") as store:
        store.add_ticket("7T:new", 2, NOW)
        fixed, added = store.find_ticket(DEMO_TICKET), store.find_ticket("7T:new")
    assert fixed is not None and added is not None
    assert (fixed.fixed, added.fixed) == (True, False)
    assert added.last_used == NOW and added.user.name == "sam"


class _TakenMeanwhile:
    """A cursor on which another exchange deletes the code just after this one read it, as
    READ COMMITTED allows two transactions to do."""

    def __init__(self, cursor: Any, find: str, delete: Statement) -> None:
        self._cursor, self._find, self._delete = cursor, find, delete
        self._read: list[Any] = []

    def execute(self, text: str, params: list[Any]) -> None:
        self._cursor.execute(text, params)
        if text == self._find:
            self._read = [self._cursor.fetchone()]
            self._cursor.execute(self._delete.text, self._delete.params({"tenant": "default", "code": "c1"}))

    def fetchone(self) -> Any:
        return self._read.pop() if self._read else self._cursor.fetchone()

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


def test_a_code_another_exchange_deleted_after_reading_it_is_not_handed_out(app: EmulatorApp) -> None:
    database = app.runtime.database
    database.ensure_tenant("default")
    code = AuthorizationCode("c1", "demo-app", 2, "http://127.0.0.1/cb", None, None, None, NOW + timedelta(1))
    with database.transaction("default") as store:
        store.add_code(code)
    with database.transaction("default") as store:
        store.cursor = _TakenMeanwhile(store.cursor, store.sql.find_code.text, store.sql.delete_code)
        assert store.take_code("c1") is None, "the delete decides: it removed no row"
    with database.transaction("default") as store:
        store.add_code(code)
        assert store.take_code("c1") == code
        assert store.take_code("c1") is None


def test_a_reset_that_fails_changes_nothing_and_says_storage_error(app: EmulatorApp, db_path: Path) -> None:
    """A reset is one transaction like a call's: cut short by a database error, it leaves the
    tenant as it was."""
    database = app.runtime.database
    with database.transaction("default") as store:
        store.update_status(ActivityKind.APPOINTMENT, [1], ActivityStatus.Completed, 1, NOW)
    with database.engine.begin() as connection:  # a reset deletes the journal after the activities
        connection.execute(text("DROP TABLE emulator_journal"))
    with pytest.raises(StorageError, match=r"no such table|does not exist"):
        database.reset("default")
    assert read_row(db_path, "appointment", 1)["updatedCount"] == 1


def test_a_connection_that_failed_is_not_handed_out_again(app: EmulatorApp) -> None:
    database = app.runtime.database
    with pytest.raises(StorageError), database.transaction("default") as store:
        store.cursor.connection.close()  # the connection dies under the transaction
    with database.transaction("default") as store:  # a working one, not the dead one
        assert store.has_application_token(TOKEN)


def test_a_database_error_inside_a_call_rolls_back_and_says_storage_error(
    app: EmulatorApp, db_path: Path
) -> None:
    database = app.runtime.database
    database.ensure_tenant("default")
    before = read_row(db_path, "appointment", 1)["updatedCount"]
    with (
        pytest.raises(StorageError, match=r"no such table|does not exist"),
        database.transaction("default") as store,
    ):
        store.update_status(ActivityKind.APPOINTMENT, [1], ActivityStatus.Completed, 1, NOW)
        store.cursor.execute("SELECT * FROM no_such_table")
    assert read_row(db_path, "appointment", 1)["updatedCount"] == before


def test_a_tenant_dropped_by_another_process_is_made_again_on_its_next_call(
    settings: Settings, clock: FakeClock, db_path: Path
) -> None:
    """Two emulators on one database stand for two worker processes: what one drops, the other
    must notice at its next call, not answer from what it believed before."""
    first, second = create_app(settings, clock=clock), create_app(settings, clock=clock)
    try:
        call = envelope(["appointment_id=1"], "Completed")
        for app in (first, second):
            answer = Client(app).post(APPOINTMENT, data=call, headers=SOAP11_HEADERS)
            assert Answer(answer.status_code, answer.data).succeeded is True
        assert read_row(db_path, "appointment", 1)["updatedCount"] == 2
        first.runtime.database.drop_tenant("default")
        answer = Client(second).post(APPOINTMENT, data=call, headers=SOAP11_HEADERS)
        assert Answer(answer.status_code, answer.data).succeeded is True
        assert read_row(db_path, "appointment", 1)["updatedCount"] == 1  # fresh from the fixtures
    finally:
        first.runtime.database.dispose()
        second.runtime.database.dispose()


def _post(server: LiveServer, body: bytes, *, chunked: bool) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        if chunked:  # no Content-Length: the general way through werkzeug's request
            chunks = (body[i : i + 100] for i in range(0, len(body), 100))
            connection.request("POST", APPOINTMENT, body=chunks, headers=SOAP11_HEADERS, encode_chunked=True)
        else:  # with a Content-Length: the short way
            connection.request("POST", APPOINTMENT, body=body, headers=SOAP11_HEADERS)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "body",
    [
        envelope(["appointment_id=5"], "Completed"),
        envelope(["sale_id=13"], "Completed"),  # denied to everyone: a wrapped SoSentryException
        envelope(["appointment_id=5"], "Finished"),  # not a status: a SOAP Fault
        b"<not-soap/>",
    ],
    ids=["success", "sentry", "fault", "not soap"],
)
def test_a_post_gets_the_same_answer_with_or_without_a_content_length(
    live: LiveServer, db_path: Path, body: bytes
) -> None:
    live.app.runtime.database.ensure_tenant("default")
    before = read_row(db_path, "appointment", 5)["updatedCount"]
    plain = _post(live, body, chunked=False)
    chunked = _post(live, body, chunked=True)
    assert plain == chunked
    succeeded = plain[0] == 200 and Answer(plain[0], plain[2]).succeeded is True
    assert read_row(db_path, "appointment", 5)["updatedCount"] == before + (2 if succeeded else 0)


class _BrokenBody(io.RawIOBase):
    """A request body whose client went away while it was being read."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:  # the test client asks where it is
        return 0

    def readinto(self, buffer: Any) -> int:
        raise ConnectionResetError("the client went away")


def test_a_body_that_cannot_be_read_is_a_500_without_a_trace(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    answer = client.post(APPOINTMENT, input_stream=_BrokenBody(), content_length=100, headers=SOAP11_HEADERS)
    assert answer.status_code == 500
    assert answer.text == "Internal error in the emulator; see its log.\n"
    assert "ConnectionResetError" in caplog.text  # the log has what the client does not


@pytest.mark.parametrize(
    "items",
    [[], ["appointment_id=17"], ["sale_id=1", None, ""], ['quote " and \\ back', "tab\tnul\x00", "ünï €"]],
)
def test_the_journal_writes_its_lists_as_json_that_reads_back(items: list[str | None]) -> None:
    """The identifiers and warnings columns: JSON that reads back as sent, as json.dumps writes it."""
    written = json_strings(items)
    assert json.loads(written) == items
    assert written == json.dumps(items)  # the admin API and older rows read the same text
    assert "\x00" not in written  # a NUL is escaped: PostgreSQL takes the column


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_statement_compiles_for_both_databases(backend: str) -> None:
    """Statements compile at their first use; this uses them all, so a wrong one fails here, not on
    the first call, reset or webhook that would run it."""
    dialect = dialect_named(backend)
    groups = [make(dialect) for make in (statements_for, tenants_for, fault_rules_for, webhooks_for)]
    found: list[Statement] = []
    for group in groups:
        for value in vars(group).values():
            if isinstance(value, dict):
                value = list(value.values())
            found += [
                item
                for item in (value if isinstance(value, list) else [value])
                if isinstance(item, Statement)
            ]
    assert len(found) > 60
    for statement in found:
        assert statement.text and isinstance(statement.names, tuple)
