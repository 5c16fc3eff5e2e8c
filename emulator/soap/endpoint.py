"""One SOAP endpoint call, from HTTP request to HTTP answer; failures are translated here only."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from werkzeug.http import parse_options_header

from emulator import ns
from emulator.domain.errors import ClientFault, SoDbAccessException, SoException, shown
from emulator.faults import FaultRule, TransportFault
from emulator.runtime import Runtime
from emulator.soap import replies
from emulator.soap.envelope import SoapRequest, SoapVersion, parse_request, version_of
from emulator.soap.operations import SERVICES, Call, Operation
from emulator.soap.replies import Reply
from emulator.storage.database import JournalEntry, StorageError

log = logging.getLogger("emulator.calls")

_SOAP_CONTENT_TYPES = ("text/xml", "application/soap+xml")


@dataclass(frozen=True)
class HttpHead:
    """What a SOAP call reads of the HTTP request besides its body."""

    content_type: str
    """The Content-Type header as sent ("" when absent)."""
    soap_action: str
    """The SOAPAction header as sent ("" when absent)."""

    @classmethod
    def of(cls, environ: Mapping[str, Any]) -> HttpHead:
        return cls(environ.get("CONTENT_TYPE", ""), environ.get("HTTP_SOAPACTION", ""))

    @property
    def mimetype(self) -> str:
        return _parse_content_type(self.content_type)[0]

    @property
    def mimetype_params(self) -> Mapping[str, str]:
        return _parse_content_type(self.content_type)[1]


@functools.lru_cache(maxsize=64)
def _parse_content_type(value: str) -> tuple[str, Mapping[str, str]]:
    """Mimetype (lower case) and parameters; a client sends the same header on every call."""
    mimetype, params = parse_options_header(value)
    return mimetype.lower(), MappingProxyType(params)


def soap_call(runtime: Runtime, tenant: str, service: str, http: HttpHead, body: bytes) -> Reply:
    """Answer a POST of ``body`` to ``service``.svc: parse, dispatch, translate failures, journal, log."""
    started = time.perf_counter()
    version = version_of(body, http.mimetype)
    call: Call | None = None
    reply: Reply
    error: BaseException | None = None
    operation_name = "(unreadable)"
    try:
        _check_content_type(http)
        request = parse_request(body)
        version, operation_name = request.version, request.operation
        operation = _operation(service, request, http)
        call = Call(runtime, tenant, service, request, runtime.clock(), started=started)
        try:
            response = operation.handler(call)
            if response is None:
                reply = replies.empty_success(version, operation.response_name)
            else:
                reply = replies.success(version, response)
        except SoException as exc:
            error = exc
            reply = replies.failure(
                version,
                exc,
                replies.empty_element(operation.response_name),
                wrap=runtime.settings.wrap_exceptions,
            )
        except TransportFault as exc:
            reply = _transport_fault(exc.rule)
        except StorageError as exc:
            log.exception("database error in %s.%s", service, operation_name)
            error = SoDbAccessException(
                f"The emulator's database failed: {exc.kind}. See the emulator's log.",
                friendly_text="The database could not be reached. Try again later.",
            )
            reply = replies.failure(
                version,
                error,
                replies.empty_element(operation.response_name),
                wrap=runtime.settings.wrap_exceptions,
            )
    except ClientFault as exc:
        error = exc
        reply = replies.client_fault(version, exc)
    except Exception as exc:  # never a stack trace to the client; the log has it
        log.exception("unexpected error in %s.%s", service, operation_name)
        error = exc
        reply = replies.fault(
            version,
            f"Internal error in the emulator ({type(exc).__name__}); see its log.",
            client=False,
        )
    duration_ms = (time.perf_counter() - started) * 1000
    _journal(runtime, tenant, service, operation_name, call, error, duration_ms)
    return reply


def _transport_fault(rule: FaultRule) -> Reply:
    if rule.kind == "malformed":
        return Reply(200, ns.SOAP11_CONTENT_TYPE, b"<s:Envelope><s:Body><SetActivityStatusResp")
    if rule.kind == "drop":
        return Reply(0, "", b"", drop_connection=True)
    status = 503 if rule.kind == "http503" else 500
    return Reply(status, "text/plain; charset=utf-8", f"Injected HTTP {status}.\n".encode())


def _check_content_type(http: HttpHead) -> None:
    if http.mimetype not in _SOAP_CONTENT_TYPES:
        raise ClientFault(
            f"Content-Type {shown(http.content_type or '(none)')} is not SOAP. Send "
            f"'{ns.SOAP11_CONTENT_TYPE}' (SOAP 1.1) or '{ns.SOAP12_CONTENT_TYPE}' (SOAP 1.2).",
            http_status=415,
        )


def _operation(service: str, request: SoapRequest, http: HttpHead) -> Operation:
    operations = SERVICES[service]
    operation = operations.get(request.operation)
    if operation is None:
        raise ClientFault(
            f"The operation {shown(request.operation)} of {service}.svc is not emulated. "
            f"This emulator implements: {', '.join(sorted(operations))}."
        )
    action = _action(http, request.version)
    expected = ns.soap_action(service, request.operation)
    if action and action != expected:
        raise ClientFault(
            f"The SOAPAction {shown(action)} does not match the body's operation "
            f"{shown(request.operation)}; expected {expected!r}."
        )
    return operation


def _action(http: HttpHead, version: SoapVersion) -> str:
    if version == "1.2" and "action" in http.mimetype_params:
        return http.mimetype_params["action"].strip().strip('"')
    return http.soap_action.strip().strip('"')


def _journal(
    runtime: Runtime,
    tenant: str,
    service: str,
    operation: str,
    call: Call | None,
    error: BaseException | None,
    duration_ms: float,
) -> None:
    """Log the call, and write its journal entry unless its own transaction already did."""
    outcome, exception_type, message = _describe(error)
    written = call.journaled if call is not None and error is None else None
    if written is not None:
        entry = written
    elif call is not None:
        entry = call.journal_entry(outcome, exception_type, message)
    else:
        entry = JournalEntry(
            runtime.clock(), service, operation, None, [], None,
            outcome or "ok", exception_type, message, duration_ms,
        )  # fmt: skip
    if log.isEnabledFor(logging.INFO):
        log.info(
            "%s %s.%s user=%s ids=%d status=%s outcome=%s%s %.1fms",
            tenant,
            service,
            operation,
            entry.user or "-",
            len(entry.identifiers),
            entry.status or "-",
            entry.outcome,
            f" ({entry.exception_type})" if entry.exception_type else "",
            duration_ms,
            extra={"journal": entry, "tenant": tenant},
        )
    if written is not None:
        return
    try:  # journal rows need no tenant row: a request that never got in creates no tenant
        with runtime.database.transaction(tenant, create=False) as store:
            runtime.database.record(store, entry)
    except StorageError:
        log.exception("could not write the journal entry")


def _describe(error: BaseException | None) -> tuple[str | None, str | None, str | None]:
    """Outcome, exception type and message of a failed call (all ``None`` when it succeeded)."""
    if error is None:
        return None, None, None
    if isinstance(error, SoException):
        return "failed", error.exception_type, error.message
    if isinstance(error, ClientFault):
        return "fault", "ClientFault", error.message
    return "error", type(error).__name__, str(error)
