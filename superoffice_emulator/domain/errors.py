"""Protocol-agnostic exceptions, named after the NetServer exceptions they stand for.

Each carries what NetServer's ``SoExceptionInfo`` carries; :mod:`superoffice_emulator.soap.replies` is
the one place that turns them into wire form (wrapped ``ExceptionInfo`` or SOAP Fault).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal


def shown(value: object, limit: int = 120) -> str:
    """``repr(value)`` clipped to ``limit`` characters, for echoing client input in a message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 15]}...' ({len(str(value))} chars)"


class SoException(Exception):
    """``SuperOffice.Exceptions.SoException``: the base of every NetServer failure."""

    exception_type: ClassVar[str] = "SuperOffice.Exceptions.SoException"
    source: ClassVar[str] = "SuperOffice.Services86"

    def __init__(
        self,
        message: str,
        friendly_text: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.friendly_text = friendly_text or message
        self.parameters: dict[str, str] = dict(parameters or {})


class SoSessionException(SoException):
    """Authentication and session problems: missing, unknown or expired tickets and tokens."""

    exception_type = "SuperOffice.Exceptions.SoSessionException"


class SoSentryException(SoException):
    """The user's Sentry rights do not allow the change."""

    exception_type = "SuperOffice.Exceptions.SoSentryException"


class SoDbAccessException(SoException):
    """The database could not be read or written."""

    exception_type = "SuperOffice.Exceptions.SoDbAccessException"


ClientFaultKind = Literal[
    "unreadable", "deserialization_failed", "action_not_supported", "wrong_content_type"
]
"""Why a request was refused, whatever the wire: ``deserialization_failed`` for arguments that do not
read (WCF's ``DeserializationFailed``), ``action_not_supported`` for an action that names no
operation (WCF's ``ActionNotSupported``), ``wrong_content_type`` for a body type not read (HTTP 415),
``unreadable`` for anything else."""


class ClientFault(Exception):
    """The request itself is malformed (as WCF's deserializer would refuse it): a SOAP client fault."""

    def __init__(self, message: str, http_status: int = 500, kind: ClientFaultKind = "unreadable") -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.kind: ClientFaultKind = kind
