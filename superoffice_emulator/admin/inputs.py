"""Reading the admin API's inputs: query parameters, JSON bodies, path values; every mistake an AdminError.

An :class:`AdminError` carries the HTTP status and a message that says what was wrong and how to fix it;
:func:`superoffice_emulator.admin.api.handle` turns it into ``{"error": message}``, in one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from superoffice_emulator.calls.faults import FAULT_KINDS, FaultRule
from superoffice_emulator.domain.activities import parse_identifier
from superoffice_emulator.domain.values import INT32, is_tenant_name, tenant_name_error
from superoffice_emulator.server import bodies

T = TypeVar("T")


class AdminError(Exception):
    """A request the admin API refuses: ``status`` and a message that says what to do."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.details = dict(details or {})
        """Machine-readable facts answered beside ``error`` (such as ``fixture_error``)."""


def tenant_name(name: str) -> str:
    if not is_tenant_name(name):
        raise AdminError(400, tenant_name_error(name))
    return name


def integer(text: str, what: str, *, minimum: int = INT32[0], maximum: int = INT32[1]) -> int:
    """``text`` as an integer in ``minimum..maximum``; ``what`` names it in the error."""
    digits = text.strip()
    if re.fullmatch(r"[+-]?\d{1,12}", digits) and minimum <= int(digits) <= maximum:
        return int(digits)
    raise AdminError(400, f"{what} must be an integer from {minimum} to {maximum}, got {text!r}.")


class Query:
    """The query parameters of one request, refused when one is not among ``allowed``."""

    def __init__(self, args: MultiDict[str, str], allowed: Collection[str]) -> None:
        unknown = sorted(set(args) - set(allowed))
        if unknown:
            raise AdminError(
                400,
                f"Unknown query parameter(s) {', '.join(unknown)}; "
                f"this endpoint takes: {', '.join(sorted(allowed)) or 'none'}.",
            )
        self.args = args

    def text(self, name: str, *, max_length: int = 200) -> str | None:
        value = self.args.get(name)
        if value is None or value == "":
            return None
        if len(value) > max_length:
            raise AdminError(400, f"Query parameter {name} is longer than {max_length} characters.")
        return value

    def integer(self, name: str, *, minimum: int = INT32[0], maximum: int = INT32[1]) -> int | None:
        value = self.text(name)
        return (
            None
            if value is None
            else integer(value, f"Query parameter {name}", minimum=minimum, maximum=maximum)
        )

    def limit(self, name: str, *, default: int, most: int) -> int:
        """A page size: at least 1; values above ``most`` are taken as ``most``."""
        value = self.integer(name, minimum=1)
        return min(default if value is None else value, most)

    def choice(self, name: str, options: Mapping[str, T]) -> T | None:
        """One of ``options`` (by key, case-insensitively)."""
        value = self.text(name)
        if value is None:
            return None
        by_lower = {key.lower(): option for key, option in options.items()}
        if value.lower() not in by_lower:
            raise AdminError(400, f"Query parameter {name} is {value!r}; use one of: {', '.join(options)}.")
        return by_lower[value.lower()]


def read_body(request: Request) -> bytes:
    """The whole request body; 413 when it is over the limit, also when it comes without a length."""
    try:
        return bodies.read_body(request)
    except RequestEntityTooLarge:
        raise AdminError(
            413,
            f"The request body is larger than {request.max_content_length} bytes "
            "(the emulator's max_body_bytes).",
        ) from None


def json_object(body: bytes, example: str) -> dict[str, Any]:
    """The request body as a JSON object; ``example`` shows a valid one in the error."""
    if not body.strip():
        raise AdminError(400, f"The request body is empty; send a JSON object such as {example}.")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise AdminError(400, f"The request body is not valid JSON ({exc}); send e.g. {example}.") from None
    if not isinstance(value, dict):
        raise AdminError(
            400, f"The request body must be a JSON object, not {type(value).__name__}; send e.g. {example}."
        )
    return value


FAULT_EXAMPLE = '{"kind": "http503", "count": 2, "identifiers": ["appointment_id=17"]}'
MAX_LATENCY_MS = 600_000


def fault_rule(body: Mapping[str, Any]) -> FaultRule:
    """A :class:`FaultRule` from a ``POST faults`` body, checked whole before it is added."""
    fields = ("kind", "count", "identifiers", "operation", "latency_ms")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise AdminError(400, f"Unknown field(s) {', '.join(unknown)}; a fault takes: {', '.join(fields)}.")
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise AdminError(
            400, f"Field kind is {kind!r}; use one of: {', '.join(FAULT_KINDS)}. Example: {FAULT_EXAMPLE}"
        )
    count = body.get("count", 1)
    if count is not None and (type(count) is not int or count < 1):
        raise AdminError(
            400, f"Field count is {count!r}; use a positive integer, or null to fail until removed."
        )
    return FaultRule(
        kind=kind,
        count=count,
        identifiers=_identifiers(body.get("identifiers")),
        operation=_operation(body.get("operation")),
        latency_ms=_latency(kind, body.get("latency_ms")),
    )


def _identifiers(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise AdminError(400, 'Field identifiers must be a list such as ["appointment_id=17", "sale_id=3"].')
    normalised: set[str] = set()
    for index, text in enumerate(value):
        parsed = parse_identifier(text) if isinstance(text, str) else None
        if parsed is None:
            raise AdminError(
                400,
                f"identifiers[{index}] is {text!r}; write an activity identifier like appointment_id=17 "
                "(appointment_id, sale_id, document_id or todo_id).",
            )
        normalised.add(str(parsed))
    return frozenset(normalised)


def _operation(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,99}", value):
        raise AdminError(
            400, f"Field operation is {value!r}; name a SOAP operation such as SetActivityStatus, or omit it."
        )
    return value


def _latency(kind: str, value: object) -> int:
    if kind != "latency":
        if value not in (None, 0):
            raise AdminError(400, f"Field latency_ms only applies to kind latency, not to {kind}.")
        return 0
    if type(value) is not int or not 1 <= value <= MAX_LATENCY_MS:
        raise AdminError(
            400,
            f"A latency fault needs latency_ms, the delay in milliseconds (1 to {MAX_LATENCY_MS}), "
            f'got {value!r}. Example: {{"kind": "latency", "latency_ms": 300}}',
        )
    return value
