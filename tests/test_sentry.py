"""Sentry through the SOAP layer with the default fixtures' users, rights and denials.

Default fixtures: every activity ``N`` of every kind is owned by associate ``(N - 1) % 5 + 1``:
1 demo (group 1, Administrator), 2 sam (group 2, Sales rep), 3 rita (group 1, Read-only),
4 olav (group 2, Sales rep), 5 ingrid (group 3, Sales rep). ``sale_id=13`` is denied to
everyone, ``appointment_id=99`` (olav's) to sam.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from superoffice_emulator.app import create_app
from superoffice_emulator.settings import Settings
from tests.support.clock import FakeClock
from tests.support.database import read_row, snapshot
from tests.support.soap import (
    DEMO_TICKET,
    RITA_TICKET,
    SAM_TICKET,
    set_status,
)

SENTRY = "SuperOffice.Exceptions.SoSentryException"


def test_sales_rep_updates_own_and_group_records(client: Client, db_path: Path) -> None:
    ids = ["appointment_id=2", "appointment_id=4", "sale_id=7", "todo_id=9"]  # sam, olav, sam, olav
    assert set_status(client, ids, ticket=SAM_TICKET).succeeded is True
    assert read_row(db_path, "appointment", 4)["status"] == 3
    assert read_row(db_path, "appointment", 4)["updated_associate_id"] == 2


def test_other_groups_record_fails_the_whole_batch(client: Client, db_path: Path) -> None:
    set_status(client, ["todo_id=1"], "NotStarted", ticket=DEMO_TICKET)
    before = snapshot(db_path)
    answer = set_status(client, ["appointment_id=2", "appointment_id=4", "sale_id=5"], ticket=SAM_TICKET)
    assert answer.status == 200 and answer.succeeded is False
    assert answer.info["ExceptionType"] == SENTRY
    message = answer.info["Message"] or ""
    assert "sale_id=5" in message and "sam" in message
    assert answer.parameters["ActivityIdentifier"] == "sale_id=5"
    friendly = answer.info["FriendlyText"] or ""
    assert friendly.startswith("You do not have access") and "sale_id=5" in friendly
    assert answer.body is not None and answer.body.tag.endswith("SetActivityStatusResponse")
    assert snapshot(db_path) == before


def test_read_only_user_may_change_nothing(client: Client, db_path: Path) -> None:
    answer = set_status(client, ["appointment_id=3"], ticket=RITA_TICKET)  # her own record
    assert answer.info["ExceptionType"] == SENTRY and "rita" in (answer.info["Message"] or "")
    assert read_row(db_path, "appointment", 3)["updatedCount"] == 0


@pytest.mark.parametrize(
    ("ticket", "identifier"), [(DEMO_TICKET, "sale_id=13"), (SAM_TICKET, "appointment_id=99")]
)
def test_fixture_denials_refuse_even_where_the_role_allows(
    client: Client, db_path: Path, ticket: str, identifier: str
) -> None:
    answer = set_status(client, ["todo_id=2", identifier], ticket=ticket)  # todo 2 is sam's own
    assert answer.info["ExceptionType"] == SENTRY
    assert answer.parameters["ActivityIdentifier"] == identifier
    assert read_row(db_path, "todo", 2)["updatedCount"] == 0


def test_denial_for_one_user_leaves_others_alone(client: Client, db_path: Path) -> None:
    assert set_status(client, ["appointment_id=99"], ticket=DEMO_TICKET).succeeded is True
    assert read_row(db_path, "appointment", 99)["status"] == 3


def test_with_wrap_exceptions_off_the_same_facts_arrive_as_a_fault(
    settings: Settings, clock: FakeClock, db_path: Path
) -> None:
    app = create_app(settings.replace(wrap_exceptions=False), clock=clock)
    try:
        answer = set_status(Client(app), ["appointment_id=2", "sale_id=5"], ticket=SAM_TICKET)
        assert answer.status == 500 and answer.fault is not None
        assert "sale_id=5" in answer.fault_text and "s:Server" in answer.fault_text
        assert answer.info["ExceptionType"] == SENTRY
        assert answer.parameters["ActivityIdentifier"] == "sale_id=5"
        assert read_row(db_path, "appointment", 2)["updatedCount"] == 0
    finally:
        app.runtime.database.dispose()
