"""Tickets, logins and application tokens: NetServer's refusals, on the wire and in the database."""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path

import pytest
from werkzeug.test import Client

from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.domain.sessions import TICKET_PREFIX, new_ticket
from superoffice_emulator.settings import Settings
from tests.support.clock import FakeClock
from tests.support.database import read_row, snapshot
from tests.support.soap import (
    DEMO_TICKET,
    S86,
    Answer,
    login,
    set_status,
)

SESSION = "SuperOffice.Exceptions.SoSessionException"


def ticket_of(answer: Answer) -> str:
    assert answer.body is not None
    ticket = answer.body.findtext(f"{S86}Credentials/{S86}Ticket")
    assert ticket is not None
    return ticket


def test_login_answers_principal_and_a_random_ticket(client: Client) -> None:
    answer = login(client, "sam", "sam")
    assert answer.status == 200 and answer.succeeded is True
    assert answer.body is not None
    assert answer.body.findtext(f"{S86}AuthenticationSucceeded") == "true"
    carrier = answer.body.find(f"{S86}Response")
    assert carrier is not None
    assert carrier.findtext(f"{S86}Associate") == "sam"
    assert carrier.findtext(f"{S86}AssociateId") == "2"
    assert carrier.findtext(f"{S86}RoleName") == "Sales rep"
    assert carrier.findtext(f"{S86}EMailAddress") == "sam@example.com"
    ticket = ticket_of(answer)
    assert re.fullmatch(r"7T:[A-Za-z0-9+/]{32}", ticket)
    assert ticket != ticket_of(login(client, "sam", "sam"))


@pytest.mark.parametrize(("user", "password"), [("sam", "wrong"), ("nobody", "sam"), ("", "")])
def test_wrong_login_answers_not_succeeded_and_no_ticket(client: Client, user: str, password: str) -> None:
    answer = login(client, user, password)
    assert answer.status == 200
    assert answer.body is not None
    assert answer.body.findtext(f"{S86}AuthenticationSucceeded") == "false"
    assert answer.body.findtext(f"{S86}Credentials/{S86}Ticket") is None


def test_ticket_from_login_works_and_records_the_user(client: Client, db_path: Path) -> None:
    ticket = ticket_of(login(client, "sam", "sam"))
    assert set_status(client, ["appointment_id=2"], ticket=ticket).succeeded is True  # sam's own
    row = read_row(db_path, "appointment", 2)
    assert row["status"] == 3 and row["updated_associate_id"] == 2


@pytest.mark.sqlite_only("reads the file with sqlite3")
def test_passwords_are_stored_hashed(client: Client, db_path: Path) -> None:
    from superoffice_emulator.storage.sqlite import (
        driver as sqlite3,  # the library the app in this process uses
    )

    login(client, "demo", "demo")
    with closing(sqlite3.connect(db_path)) as connection, connection:
        hashes = [h for (h,) in connection.execute("SELECT password_hash FROM associate")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert "demo" not in hashes


@pytest.mark.parametrize(
    ("ticket", "words"),
    [(None, "No ticket was sent"), ("", "No ticket was sent"), ("7T:Zm9yZ2VkIHRpY2tldA==", "unknown")],
)
def test_missing_or_unknown_ticket_fails_and_changes_nothing(
    client: Client, db_path: Path, ticket: str | None, words: str
) -> None:
    set_status(client, ["todo_id=1"], "NotStarted")
    before = snapshot(db_path)
    answer = set_status(client, ["appointment_id=666"], ticket=ticket)
    assert answer.status == 200 and answer.succeeded is False
    assert answer.info["ExceptionType"] == SESSION
    assert words in (answer.info["Message"] or "")
    assert answer.info["FriendlyText"] and answer.info["Source"]
    assert snapshot(db_path) == before


def test_ticket_expires_after_the_window_and_each_use_restarts_it(client: Client, clock: FakeClock) -> None:
    ticket = ticket_of(login(client, "demo", "demo"))
    for _ in range(4):  # used every 5 hours: 20 hours later still alive
        clock.advance(hours=5)
        assert set_status(client, ["todo_id=2"], ticket=ticket).succeeded is True
    clock.advance(hours=6, seconds=1)
    answer = set_status(client, ["todo_id=2"], ticket=ticket)
    assert answer.succeeded is False and answer.info["ExceptionType"] == SESSION
    assert "expired" in (answer.info["Message"] or "")


def test_lifetime_is_configurable(settings: Settings, clock: FakeClock) -> None:
    app = create_app(settings.replace(ticket_lifetime_seconds=60), clock=clock)
    try:
        client = Client(app)
        ticket = ticket_of(login(client, "demo", "demo"))
        clock.advance(seconds=61)
        assert "expired" in (set_status(client, ["todo_id=2"], ticket=ticket).info["Message"] or "")
    finally:
        app.runtime.database.dispose()


def test_tickets_survive_a_restart(settings: Settings, clock: FakeClock) -> None:
    first = create_app(settings, clock=clock)
    ticket = ticket_of(login(Client(first), "rita", "rita"))
    first.runtime.database.dispose()
    second = create_app(settings, clock=clock)
    try:
        answer = set_status(Client(second), ["appointment_id=666"], ticket=ticket)
        # rita is read-only: the ticket is known (no session error), Sentry says no
        assert answer.info["ExceptionType"] == "SuperOffice.Exceptions.SoSentryException"
    finally:
        second.runtime.database.dispose()


def test_fixture_ticket_of_the_docs_never_expires(client: Client, clock: FakeClock) -> None:
    clock.advance(days=400)
    assert set_status(client, ["appointment_id=666"], ticket=DEMO_TICKET).succeeded is True


def test_ten_thousand_tickets_are_distinct_and_well_formed() -> None:
    tickets = {new_ticket() for _ in range(10_000)}
    assert len(tickets) == 10_000
    assert all(t.startswith(TICKET_PREFIX) and len(t) == 35 for t in tickets)


@pytest.fixture
def online(settings: Settings, clock: FakeClock) -> EmulatorApp:
    return create_app(settings.replace(mode="online"), clock=clock)


@pytest.mark.parametrize(("token", "words"), [(None, "No ApplicationToken"), ("0000-bad", "not registered")])
def test_online_mode_requires_a_registered_token_on_both_services(
    online: EmulatorApp, db_path: Path, token: str | None, words: str
) -> None:
    client = Client(online)
    try:
        assert set_status(client, ["todo_id=1"], "NotStarted").succeeded is True  # with the docs' token
        before = snapshot(db_path)
        answer = set_status(client, ["appointment_id=666"], token=token)
        assert answer.succeeded is False and answer.info["ExceptionType"] == SESSION
        assert words in (answer.info["Message"] or "")
        assert snapshot(db_path) == before
        refused = login(client, "demo", "demo", token=token)
        assert refused.succeeded is False and words in (refused.info["Message"] or "")
    finally:
        online.runtime.database.dispose()


def test_onsite_mode_does_not_check_tokens(client: Client) -> None:
    assert set_status(client, ["todo_id=3"], token=None).succeeded is True
    assert set_status(client, ["todo_id=3"], token="anything").succeeded is True
