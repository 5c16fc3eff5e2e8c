"""Logging: one line per SOAP call, text by default, JSON lines by option, level configurable."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest
from werkzeug.test import Client

from superoffice_emulator.calls.journal import JournalEntry
from superoffice_emulator.server.logs import JsonFormatter, configure_logging, make_formatter
from tests.support.soap import APPOINTMENT, RITA_TICKET, SOAP11_HEADERS, envelope, post

JOURNAL_KEYS = {
    "tenant",
    "service",
    "operation",
    "user",
    "identifier_count",
    "status",
    "outcome",
    "exception_type",
    "error",
    "duration_ms",
}


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes the root logger: put it back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("werkzeug", "spyne")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def stream(restore_logging: None) -> io.StringIO:
    return io.StringIO()


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def call_lines(stream: io.StringIO) -> list[str]:
    return [line for line in lines(stream) if "superoffice_emulator.calls.pipeline" in line]


def record(**journal: object) -> logging.LogRecord:
    entry = JournalEntry(
        at=datetime(2026, 1, 5, 9, 0),
        service="Appointment",
        operation="SetActivityStatus",
        user="rita",
        identifiers=["appointment_id=1", "sale_id=2"],
        status="Completed",
        outcome="failed",
        exception_type="SuperOffice.Exceptions.SoSentryException",
        message="No update rights",
        duration_ms=2.34567,
        contract_warnings=("The request has no SOAPAction.",),
    )
    made = logging.LogRecord(
        "superoffice_emulator.calls.pipeline", logging.INFO, __file__, 1, "a call", None, None
    )
    made.journal = entry
    made.tenant = "Cust12345"
    made.__dict__.update(journal)
    return made


def test_json_formatter_writes_the_journal_fields_of_a_call() -> None:
    data = json.loads(JsonFormatter().format(record()))

    assert data == {
        "time": data["time"],
        "level": "INFO",
        "logger": "superoffice_emulator.calls.pipeline",
        "message": "a call",
        "tenant": "Cust12345",
        "service": "Appointment",
        "operation": "SetActivityStatus",
        "user": "rita",
        "identifier_count": 2,
        "status": "Completed",
        "outcome": "failed",
        "exception_type": "SuperOffice.Exceptions.SoSentryException",
        "error": "No update rights",
        "duration_ms": 2.346,
        "contract_warnings": ["The request has no SOAPAction."],
        "injected": None,
    }
    assert datetime.fromisoformat(data["time"]).tzinfo is not None


def test_json_formatter_writes_other_records_without_call_fields_and_with_the_traceback() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        made = logging.LogRecord("emulator", logging.ERROR, __file__, 1, "failed: %s", ("x",), sys.exc_info())

    data = json.loads(JsonFormatter().format(made))

    assert data["message"] == "failed: x" and data["level"] == "ERROR"
    assert not JOURNAL_KEYS & data.keys()
    assert "RuntimeError: boom" in data["exc_info"]


def test_text_format_is_the_message_with_time_level_and_logger() -> None:
    line = make_formatter("text").format(record())

    assert line.endswith(" INFO    superoffice_emulator.calls.pipeline: a call")
    assert line[:4].isdigit()


def test_one_text_line_per_call_by_default(stream: io.StringIO, client: Client) -> None:
    configure_logging(stream=stream)

    assert post(client, envelope(["appointment_id=1", "sale_id=2"])).status_code == 200
    assert post(client, envelope(["appointment_id=1"], ticket=RITA_TICKET)).status_code == 200

    calls = call_lines(stream)
    assert len(calls) == 2, lines(stream)
    assert (
        "INFO    superoffice_emulator.calls.pipeline: default Appointment.SetActivityStatus user=demo ids=2"
        in calls[0]
    )
    assert "status=Completed outcome=ok" in calls[0]
    assert (
        "user=rita ids=1 status=Completed outcome=failed (SuperOffice.Exceptions.SoSentryException)"
        in (calls[1])
    )
    assert not [line for line in lines(stream) if "werkzeug" in line or "spyne" in line]


def test_json_lines_by_option(stream: io.StringIO, client: Client) -> None:
    configure_logging(log_format="json", stream=stream)

    in_a_tenant = post(client, envelope(["appointment_id=1", "sale_id=2"]), path="/Cust12345" + APPOINTMENT)
    assert in_a_tenant.status_code == 200
    assert post(client, envelope(["appointment_id=1"], ticket=RITA_TICKET)).status_code == 200

    records = [json.loads(line) for line in lines(stream)]  # every line is JSON
    calls = [r for r in records if r["logger"] == "superoffice_emulator.calls.pipeline"]
    assert len(calls) == 2
    ok, denied = calls
    assert ok["tenant"] == "Cust12345" and denied["tenant"] == "default"
    assert (ok["service"], ok["operation"], ok["user"]) == ("Appointment", "SetActivityStatus", "demo")
    assert (ok["identifier_count"], ok["status"], ok["outcome"]) == (2, "Completed", "ok")
    assert ok["exception_type"] is None and ok["error"] is None
    assert denied["outcome"] == "failed"
    assert denied["exception_type"] == "SuperOffice.Exceptions.SoSentryException"
    assert denied["error"]
    assert all(isinstance(c["duration_ms"], float) and c["duration_ms"] >= 0 for c in calls)


def test_a_call_that_cannot_be_read_is_logged_too(stream: io.StringIO, client: Client) -> None:
    configure_logging(log_format="json", stream=stream)

    response = client.post(APPOINTMENT, data=b"<not-soap", headers=SOAP11_HEADERS)

    assert response.status_code >= 400
    (call,) = [json.loads(line) for line in call_lines(stream)]
    assert call["operation"] == "(unreadable)" and call["outcome"] == "fault"
    assert call["exception_type"] == "ClientFault" and call["identifier_count"] == 0


@pytest.mark.parametrize(("level", "logged"), [("debug", True), ("info", True), ("warning", False)])
def test_the_level_decides_whether_calls_are_logged(
    stream: io.StringIO, client: Client, level: str, logged: bool
) -> None:
    configure_logging(level=level, stream=stream)

    assert post(client, envelope(["appointment_id=1"])).status_code == 200

    assert bool(call_lines(stream)) is logged
    assert logging.getLogger().level == logging.getLevelNamesMapping()[level.upper()]


def test_werkzeug_access_lines_only_at_debug(restore_logging: None) -> None:
    configure_logging("info", stream=io.StringIO())
    assert logging.getLogger("werkzeug").getEffectiveLevel() == logging.WARNING

    configure_logging("debug", stream=io.StringIO())
    assert logging.getLogger("werkzeug").getEffectiveLevel() == logging.DEBUG


def test_configuring_again_replaces_the_handler(restore_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(log_format="json", stream=second)

    logging.getLogger("emulator").warning("hello")

    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["message"] == "hello"


@pytest.mark.parametrize(
    ("options", "message"),
    [({"level": "loud"}, "Unknown log level 'loud'"), ({"log_format": "xml"}, "Unknown log format 'xml'")],
)
def test_bad_settings_say_what_is_allowed(
    restore_logging: None, options: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        configure_logging(**options)  # type: ignore[arg-type]
