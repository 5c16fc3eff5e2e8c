"""Logging setup: one line per call, human-readable text by default, JSON lines on request.

    from superoffice_emulator.server.logs import configure_logging

    configure_logging(level="info", log_format="json")

:mod:`superoffice_emulator.calls.pipeline` logs every call once, on the
``superoffice_emulator.calls.pipeline`` logger, with the
:class:`~superoffice_emulator.calls.journal.JournalEntry` in ``extra={"journal": ..., "tenant": ...,
"wire": ...}``. The text format escapes control characters in the values a message quotes (a newline as
``\\x0a``: a user name sent by a client cannot start a forged line); the JSON format writes one object per
line with the call's fields (``wire`` is ``soap`` or ``rest``, when the record has it)::

    {"time": "2025-01-01T12:00:00.123Z", "level": "INFO", "logger": "superoffice_emulator.calls.pipeline",
     "message": "...",
     "tenant": "default", "service": "Appointment", "operation": "SetActivityStatus", "user": "demo",
     "identifier_count": 1, "status": "Completed", "outcome": "ok", "exception_type": null,
     "error": null, "duration_ms": 3.2, "wire": "soap"}
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from superoffice_emulator.calls.journal import JournalEntry
from superoffice_emulator.settings import LOG_FORMATS, LOG_LEVELS, LogFormat

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "LogFormat", "configure_logging", "make_formatter"]


CHATTY_LOGGERS = ("werkzeug", "spyne")

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; a call's record also carries its journal fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry = getattr(record, "journal", None)
        if isinstance(entry, JournalEntry):
            data.update(
                tenant=getattr(record, "tenant", None),
                service=entry.service,
                operation=entry.operation,
                user=entry.user,
                identifier_count=len(entry.identifiers),
                status=entry.status,
                outcome=entry.outcome,
                exception_type=entry.exception_type,
                error=entry.message,
                duration_ms=round(entry.duration_ms, 3),
                contract_warnings=list(entry.contract_warnings),
                injected=entry.injected,
            )
            wire = getattr(record, "wire", None)
            if wire is not None:
                data["wire"] = wire
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``text`` with every control character (and Unicode's line separators) as ``\\xNN``/``\\uNNNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


class TextFormatter(logging.Formatter):
    """:data:`TEXT_FORMAT`: control characters escaped in the values put into a message (what a
    client sent: a user name, an operation), so no client can forge a line; the emulator's own
    message text, such as the start-up banner, keeps its lines, and so does a traceback."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        args = record.args
        if args:
            if isinstance(args, Mapping):
                safe: Any = {key: _escaped(value) for key, value in args.items()}
            else:
                safe = tuple(_escaped(value) for value in args)
            record.message = str(record.msg) % safe
        return super().formatMessage(record)


def _escaped(value: object) -> object:
    # isprintable() is False for every character escape_controls escapes (and a few more): a
    # check at C speed for the usual value, which has none
    return escape_controls(value) if isinstance(value, str) and not value.isprintable() else value


class _EmulatorHandler(logging.StreamHandler[IO[str]]):
    """The handler :func:`configure_logging` installs; a second call replaces it."""


def make_formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    formatter = TextFormatter(TEXT_FORMAT)
    formatter.default_msec_format = "%s.%03d"
    return formatter


def configure_logging(
    level: str = "info", log_format: LogFormat = "text", stream: IO[str] | None = None
) -> logging.Handler:
    """Log to ``stream`` (stderr) at ``level`` in ``log_format``; returns the installed handler.

    werkzeug's access line per request and spyne's start-up chatter are kept to warnings unless
    ``level`` is ``debug``, so that a SOAP call makes one line, the emulator's.
    """
    if level.lower() not in LOG_LEVELS:
        raise ValueError(f"Unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}.")
    if log_format not in LOG_FORMATS:
        raise ValueError(f"Unknown log format {log_format!r}; use one of {', '.join(LOG_FORMATS)}.")
    numeric = logging.getLevelNamesMapping()[level.upper()]
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _EmulatorHandler)]:
        root.removeHandler(old)
    handler = _EmulatorHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(make_formatter(log_format))
    root.addHandler(handler)
    root.setLevel(numeric)
    chatty_level = logging.NOTSET if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty_level)
    return handler
