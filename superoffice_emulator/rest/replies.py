"""Writing REST answers: the one place where an outcome becomes an HTTP status and a JSON body.

A success is ``204 No Content``. A failure is JSON with the facts SOAP's ``ExceptionInfo``
carries (docs/behaviour.md)::

    HTTP/1.1 403 Forbidden
    {"ExceptionType": "SuperOffice.Exceptions.SoSentryException", "Message": "...",
     "FriendlyText": "...", "Source": "SuperOffice.Services86", "Parameters": {"ActivityIdentifier": "..."}}

The status follows the exception: 401 for session and ticket problems (with ``WWW-Authenticate``),
403 for Sentry, 500 for the database, 400 for any other NetServer failure (strict mode's refusal
of a nonexistent id). A request that could not be read is 400 (or 415 for its content type)
with ``ExceptionType`` ``ClientFault``, as the journal names it. No stack trace, ever.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from superoffice_emulator.calls import pipeline
from superoffice_emulator.domain.errors import (
    SoDbAccessException,
    SoException,
    SoSentryException,
    SoSessionException,
)
from superoffice_emulator.rest.credentials import CHALLENGE
from superoffice_emulator.server import web
from superoffice_emulator.server.web import Reply

JSON = "application/json; charset=utf-8"
NO_CONTENT = Reply(204, "", b"")
MALFORMED = Reply(200, JSON, b'{"ExceptionType": "SuperOffice.Exceptions.SoExc')
"""The injected ``malformed`` answer: JSON cut short."""
CLIENT_FAULT = "ClientFault"
"""``ExceptionType`` of a request that could not be read: nothing of NetServer's ran."""
INTERNAL_ERROR = "InternalError"

STATUS_OF: Mapping[str, int] = {
    SoSessionException.exception_type: 401,
    SoSentryException.exception_type: 403,
    SoDbAccessException.exception_type: 500,
    SoException.exception_type: 400,
}
"""HTTP status per NetServer exception type; another type is 500."""


def error_body(
    exception_type: str,
    message: str,
    friendly_text: str | None = None,
    source: str = "superoffice-emulator",
    parameters: Mapping[str, str] | None = None,
) -> bytes:
    return json.dumps(
        {
            "ExceptionType": exception_type,
            "Message": message,
            "FriendlyText": friendly_text or message,
            "Source": source,
            "Parameters": dict(parameters or {}),
        }
    ).encode()


def error(status: int, message: str, exception_type: str = CLIENT_FAULT) -> Reply:
    """A failure that never reached the pipeline or that the pipeline refused unread."""
    return Reply(status, JSON, error_body(exception_type, message))


def failure(outcome: pipeline.Failed) -> Reply:
    status = STATUS_OF.get(outcome.exception_type, 500)
    body = error_body(
        outcome.exception_type, outcome.message, outcome.friendly_text, outcome.source, outcome.parameters
    )
    challenge = (("WWW-Authenticate", CHALLENGE),) if status == 401 else ()
    return Reply(status, JSON, body, headers=challenge)


def encode(outcome: pipeline.Outcome) -> Reply:
    """The answer to ``outcome``."""
    if isinstance(outcome, pipeline.Succeeded):
        return NO_CONTENT  # SetActivityStatus answers nothing; an operation with a result would add it
    if isinstance(outcome, pipeline.Failed):
        return failure(outcome)
    if isinstance(outcome, pipeline.Refused):
        return error(outcome.http_status, outcome.message)
    if isinstance(outcome, pipeline.Injected):
        return web.injected(outcome, MALFORMED)
    return error(500, f"Internal error in the emulator ({outcome.error_type}); see its log.", INTERNAL_ERROR)
