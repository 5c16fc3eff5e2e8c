"""The call pipeline without a wire: commands in, outcomes out, the journal and the log written.

What the REST twin will rely on beyond what SOAP exercises: user-name-and-password credentials,
the wire's name on the log record, and that the pipeline (not the codec) answers for a decoder
that fails, whether with a ClientFault or a bug.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from superoffice_emulator.app import EmulatorApp
from superoffice_emulator.calls import pipeline as calls
from superoffice_emulator.calls.faults import FaultRule
from superoffice_emulator.domain.activities import ActivityStatus
from superoffice_emulator.domain.errors import ClientFault
from tests.support.calls import command, run_pipeline, run_rest
from tests.support.database import read_row
from tests.support.soap import DEMO_TICKET

SESSION = "SuperOffice.Exceptions.SoSessionException"


def newest_journal_entry(client: Client) -> dict[str, Any]:
    entries = client.get("/_emulator/journal?limit=1").get_json()
    assert isinstance(entries, list) and entries
    return dict(entries[0])


def test_a_ticket_command_runs_the_domain_call_and_journals_it(
    app: EmulatorApp, client: Client, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="superoffice_emulator.calls.pipeline"):
        outcome = run_rest(app, calls.Ticket(DEMO_TICKET), ["appointment_id=1"])

    assert outcome == calls.Succeeded(None)
    assert read_row(db_path, "appointment", 1)["status"] == ActivityStatus.Completed
    entry = newest_journal_entry(client)
    assert (entry["operation"], entry["user"], entry["outcome"]) == ("SetActivityStatus", "demo", "ok")
    assert entry["identifiers"] == ["appointment_id=1"]
    (record,) = [r for r in caplog.records if r.name == "superoffice_emulator.calls.pipeline"]
    assert record.__dict__["wire"] == "rest"


def test_user_name_and_password_authenticate_a_call_onsite(
    app: EmulatorApp, client: Client, db_path: Path
) -> None:
    outcome = run_rest(app, calls.Password("demo", "demo"), ["appointment_id=1"])

    assert outcome == calls.Succeeded(None)
    assert read_row(db_path, "appointment", 1)["status"] == ActivityStatus.Completed
    assert newest_journal_entry(client)["user"] == "demo"


@pytest.mark.parametrize(
    ("credentials", "mode"),
    [
        (calls.Password("demo", "wrong"), "onsite"),
        (calls.Password("nobody", "nobody"), "onsite"),
        (calls.Password("demo", "demo"), "online"),
        (None, "onsite"),
    ],
    ids=["wrong password", "unknown user", "password in online mode", "no credentials"],
)
def test_refused_credentials_are_a_session_failure_and_change_nothing(
    app: EmulatorApp, client: Client, db_path: Path, credentials: calls.Credentials, mode: str
) -> None:
    app.runtime.settings = app.runtime.settings.replace(mode=mode)
    app.runtime.database.ensure_tenant("default")
    before = read_row(db_path, "appointment", 1)

    outcome = run_rest(app, credentials, ["appointment_id=1"])

    assert isinstance(outcome, calls.Failed) and outcome.exception_type == SESSION
    assert read_row(db_path, "appointment", 1) == before
    entry = newest_journal_entry(client)
    assert (entry["outcome"], entry["exception_type"]) == ("failed", SESSION)


def test_a_decoder_that_refuses_the_request_is_journaled_under_the_operation_it_read(
    app: EmulatorApp, client: Client
) -> None:
    def decode(arrival: calls.Arrival) -> calls.Command:
        arrival.operation = "SetActivityStatus"
        raise ClientFault("ActivityStatus 'Done' is not valid.", http_status=400)

    outcome = run_pipeline(app, calls.Arrival("rest", "default", "Appointment"), decode)

    assert outcome == calls.Refused("ActivityStatus 'Done' is not valid.", 400)
    entry = newest_journal_entry(client)
    assert (entry["operation"], entry["outcome"], entry["exception_type"]) == (
        "SetActivityStatus",
        "fault",
        "ClientFault",
    )


def test_a_decoder_that_breaks_is_an_internal_error_without_its_details(
    app: EmulatorApp, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    def decode(arrival: calls.Arrival) -> calls.Command:
        raise KeyError("secret detail")

    outcome = run_pipeline(app, calls.Arrival("rest", "default", "Appointment"), decode)

    assert isinstance(outcome, calls.Crashed) and outcome.error_type == "KeyError"
    entry = newest_journal_entry(client)
    assert (entry["operation"], entry["outcome"]) == (calls.UNREAD, "error")
    assert any(r.exc_info for r in caplog.records if r.name == "superoffice_emulator.calls.pipeline")


@pytest.mark.parametrize(
    ("kind", "status"), [("http500", 500), ("http503", 503), ("drop", None), ("malformed", None)]
)
def test_an_injected_transport_fault_is_an_effect_for_the_wire_and_changes_nothing(
    app: EmulatorApp, client: Client, db_path: Path, kind: Any, status: int | None
) -> None:
    app.runtime.fault_plan("default").add(FaultRule(kind))
    app.runtime.database.ensure_tenant("default")
    before = read_row(db_path, "appointment", 1)

    outcome = run_rest(app, calls.Ticket(DEMO_TICKET), ["appointment_id=1"])

    assert outcome == calls.Injected(kind) and outcome.http_status == status
    assert read_row(db_path, "appointment", 1) == before
    assert newest_journal_entry(client)["outcome"] == f"injected {kind}"


@pytest.mark.parametrize("refused", [False, True], ids=["call runs", "decoder refuses"])
def test_a_decoders_contract_warnings_reach_the_journal_and_the_log_whatever_the_outcome(
    app: EmulatorApp, client: Client, caplog: pytest.LogCaptureFixture, refused: bool
) -> None:
    """Any wire's codec notes on the Arrival where the real service would differ; the pipeline keeps them."""

    def decode(arrival: calls.Arrival) -> calls.Command:
        arrival.operation = "SetActivityStatus"
        arrival.contract_warnings.append("NetServer would not read this property.")
        if refused:
            raise ClientFault(
                "ActivityStatus 'Done' is not valid.", http_status=400, kind="deserialization_failed"
            )
        return command(arrival, calls.Ticket(DEMO_TICKET), ["appointment_id=1"])

    with caplog.at_level(logging.INFO, logger="superoffice_emulator.calls.pipeline"):
        outcome = run_pipeline(app, calls.Arrival("rest", "default", "Appointment"), decode)

    if refused:
        assert outcome == calls.Refused("ActivityStatus 'Done' is not valid.", 400, "deserialization_failed")
    else:
        assert outcome == calls.Succeeded(None)
    entry = newest_journal_entry(client)
    assert entry["contract_warnings"] == ["NetServer would not read this property."]
    assert entry["outcome"] == ("fault" if refused else "ok")
    (record,) = [r for r in caplog.records if r.name == "superoffice_emulator.calls.pipeline"]
    assert record.getMessage().endswith("[contract: NetServer would not read this property.]")
