"""The REST codec: a POSTed JSON body read into a :class:`~superoffice_emulator.calls.pipeline.Command`,
the outcome written back.

    POST /Cust1/api/v1/Agents/Appointment/SetActivityStatus
    Authorization: SOTicket 7T:1234abcxyzExample==
    Content-Type: application/json

    {"ActivityIdentifier": ["appointment_id=666", "sale_id=3"], "ActivityStatus": "Completed"}

:func:`reply` is the whole way of such a POST, as SOAP's :func:`superoffice_emulator.soap.endpoint.reply`:
the route check, the body, the codec around :func:`superoffice_emulator.calls.pipeline.run`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header

from superoffice_emulator.calls import pipeline
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.domain.errors import ClientFault, shown
from superoffice_emulator.rest import replies
from superoffice_emulator.rest.credentials import credentials_of
from superoffice_emulator.rest.operations import Reader
from superoffice_emulator.rest.paths import agent_at
from superoffice_emulator.server.web import Headers, Reply

JSON_TYPES = ("application/json", "text/json")
_EXAMPLE = '{"ActivityIdentifier": ["appointment_id=666"], "ActivityStatus": "Completed"}'


@dataclass(frozen=True, slots=True)
class RestHead:
    """What a REST call reads of the HTTP request besides its body."""

    content_type: str
    authorization: str | None
    application_token: str | None
    """``SO-AppToken``."""

    @classmethod
    def of(cls, headers: Headers) -> RestHead:
        return cls(
            headers.get("content-type") or "", headers.get("authorization"), headers.get("so-apptoken")
        )


def reply(
    runtime: Runtime,
    headers: Headers,
    read_body: Callable[[], bytes],
    tenant: str | None,
    agent: str,
    operation: str,
) -> Reply:
    """The reply to a POST to ``[/tenant]/api/v1/Agents/<agent>/<operation>``."""
    try:
        found = agent_at(tenant, agent, operation, runtime.settings.default_tenant)
        body = read_body()
    except HTTPException as exc:  # 404 for the path, 413 or 400 for the body: before the pipeline
        return replies.error(exc.code or 400, exc.description or exc.name)
    tenant, service, name, reader = found
    codec = RestCodec(reader, RestHead.of(headers), body)
    arrival = pipeline.Arrival("rest", tenant, service, name, request_body=body)
    return pipeline.run(runtime, arrival, codec.decode, replies.encode)


class RestCodec:
    """One request's decoder for the pipeline (the encoder is
    :func:`superoffice_emulator.rest.replies.encode`)."""

    __slots__ = ("body", "http", "reader")

    def __init__(self, reader: Reader, http: RestHead, body: bytes) -> None:
        self.reader, self.http, self.body = reader, http, body

    def decode(self, arrival: pipeline.Arrival) -> pipeline.Command:
        """The request as a command; ``ClientFault`` (400 or 415) for one that cannot be read."""
        document = _json(self.http.content_type, self.body)
        return pipeline.Command(
            arrival,
            credentials_of(self.http.authorization),
            self.http.application_token,
            self.reader(document),
        )


def _json(content_type: str, body: bytes) -> object:
    mimetype, params = parse_options_header(content_type)
    mimetype = mimetype.lower()
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise ClientFault(
            f"Content-Type {shown(content_type or '(none)')} is not read by the emulator's REST endpoints: "
            "send the body as JSON with 'Content-Type: application/json'.",
            http_status=415,
        )
    charset = params.get("charset", "utf-8")
    try:
        text = body.decode("utf-8-sig" if charset.lower().replace("_", "-") == "utf-8" else charset)
    except LookupError:
        raise ClientFault(f"The charset {shown(charset)} is unknown; send UTF-8.", http_status=415) from None
    except UnicodeDecodeError as exc:
        raise ClientFault(
            f"The body is not valid {charset} at byte {exc.start}; send UTF-8 JSON.", http_status=400
        ) from None
    if not text.strip():
        raise ClientFault(f"The body is empty; send a JSON object such as {_EXAMPLE}.", http_status=400)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClientFault(
            f"The body is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
            f"Send a JSON object such as {_EXAMPLE}.",
            http_status=400,
        ) from None
    except (ValueError, RecursionError):  # a number with too many digits; arrays nested too deeply
        raise ClientFault(
            "The body is JSON no client sends (a number with thousands of digits, or nesting "
            f"thousands deep). Send a JSON object such as {_EXAMPLE}.",
            http_status=400,
        ) from None
