"""The SOAP codec: a POSTed envelope read into a :class:`~superoffice_emulator.calls.pipeline.Command`,
the outcome written back.

:func:`reply` is the whole way of a SOAP POST, from the request's headers and body to the reply,
whatever the server: the route check, the body, the codec around
:func:`superoffice_emulator.calls.pipeline.run`.

How a request is read depends on the tenant's contract mode (``--contract``,
:mod:`superoffice_emulator.soap.contract`): ``netserver`` selects the operation by the SOAPAction and
refuses what WCF refuses; ``lenient`` reads the body's operation and notes each difference in
the arrival's ``contract_warnings``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType

from werkzeug.http import parse_options_header

from superoffice_emulator.calls import pipeline
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.domain.errors import ClientFault, ClientFaultKind, shown
from superoffice_emulator.server import web
from superoffice_emulator.server.web import Headers, Reply
from superoffice_emulator.settings import Contract
from superoffice_emulator.soap import contract, ns, replies
from superoffice_emulator.soap.contract import Reading
from superoffice_emulator.soap.envelope import SoapRequest, SoapVersion, parse_request, version_of
from superoffice_emulator.soap.operations import SERVICES, Operation
from superoffice_emulator.soap.paths import service_at

_SOAP_CONTENT_TYPES = ("text/xml", "application/soap+xml")
_MALFORMED = Reply(200, ns.SOAP11_CONTENT_TYPE, b"<s:Envelope><s:Body><SetActivityStatusResp")
"""The injected ``malformed`` answer: an envelope cut short."""


class HttpHead:
    """What a SOAP call reads of the HTTP request besides its body."""

    __slots__ = ("content_type", "mimetype", "mimetype_params", "soap_action")

    def __init__(self, content_type: str, soap_action: str) -> None:
        self.content_type = content_type
        """The Content-Type header as sent ("" when absent)."""
        self.soap_action = soap_action
        """The SOAPAction header as sent ("" when absent)."""
        self.mimetype, self.mimetype_params = _parse_content_type(content_type)
        """The content type's mimetype (lower case) and its parameters."""

    @classmethod
    def of(cls, headers: Headers) -> HttpHead:
        return cls(headers.get("content-type") or "", headers.get("soapaction") or "")


@functools.lru_cache(maxsize=64)
def _parse_content_type(value: str) -> tuple[str, Mapping[str, str]]:
    """Mimetype (lower case) and parameters; a client sends the same header on every call."""
    mimetype, params = parse_options_header(value)
    return mimetype.lower(), MappingProxyType(params)


def reply(
    runtime: Runtime, headers: Headers, read_body: Callable[[], bytes], tenant: str | None, file_name: str
) -> Reply:
    """The reply to a POST to ``[/tenant]/Remote/Services86/<file_name>``.

    A path that names no service is ``NotFound``, a body over the limit or cut short (read by
    ``read_body``, after the path is known) an HTTP error: raised for the app's one error handler.
    """
    tenant, service = service_at(tenant, file_name, runtime.settings.default_tenant)
    body = read_body()
    codec = SoapCodec(service, HttpHead.of(headers), body, runtime.contract(tenant))
    wrap = runtime.settings.wrap_exceptions
    arrival = pipeline.Arrival("soap", tenant, service, request_body=body)
    return pipeline.run(runtime, arrival, codec.decode, lambda outcome: codec.encode(outcome, wrap=wrap))


class SoapCodec:
    """One request's codec: :meth:`decode` for the pipeline, then :meth:`encode` of its outcome.

    The answer is in the request's SOAP version: guessed from the content type or the body until the
    envelope is read, so that even an unreadable request gets a fault it can parse. ``contract`` is how
    the request is read (:mod:`superoffice_emulator.soap.contract`).
    """

    __slots__ = ("body", "contract", "http", "operation", "service", "version")

    def __init__(self, service: str, http: HttpHead, body: bytes, contract: Contract = "lenient") -> None:
        self.service, self.http, self.body, self.contract = service, http, body, contract
        self.version: SoapVersion = version_of(body, http.mimetype)
        self.operation: Operation | None = None

    def decode(self, arrival: pipeline.Arrival) -> pipeline.Command:
        """The envelope as a command; ``ClientFault`` for what WCF would not accept."""
        reading = Reading(self.contract, arrival.contract_warnings)
        _check_content_type(self.http, reading)
        request = parse_request(self.body, reading)
        arrival.operation = request.operation
        if request.version == "1.2" and self.http.mimetype == "text/xml":
            reading.depart(
                "The envelope is SOAP 1.2, sent as text/xml: NetServer's SOAP 1.1 encoder refuses it "
                "(the envelope version does not match).",
                contract.version_mismatch(),
            )
        self.version = request.version
        self.operation = operation = _operation(self.service, request, self.http, reading)
        ticket = request.header_text("Credentials", "Ticket")
        return pipeline.Command(
            arrival,
            None if ticket is None else pipeline.Ticket(ticket),
            request.header_text("ApplicationToken"),
            operation.read(request),
        )

    def encode(self, outcome: pipeline.Outcome, *, wrap: bool) -> Reply:
        """The answer to ``outcome``: the response, a wrapped failure or a fault, or the injected fault."""
        version, operation = self.version, self.operation
        if isinstance(outcome, pipeline.Refused):
            code = _WCF_FAULT_CODES.get(outcome.kind)
            return replies.client_fault(version, outcome.message, outcome.http_status, code)
        if isinstance(outcome, pipeline.Injected):
            return web.injected(outcome, _MALFORMED)
        if isinstance(outcome, pipeline.Crashed):
            message = f"Internal error in the emulator ({outcome.error_type}); see its log."
            return replies.fault(version, message, client=False)
        assert operation is not None, "a call that ran was decoded"
        if isinstance(outcome, pipeline.Failed):
            empty = replies.empty_element(operation.response_name)
            return replies.failure(version, outcome, empty, wrap=wrap)
        response = operation.write(outcome.value)
        if response is None:
            return replies.empty_success(version, operation.response_name)
        return replies.success(version, response)


_WCF_FAULT_CODES: dict[ClientFaultKind, str] = {
    "deserialization_failed": "DeserializationFailed",
    "action_not_supported": "ActionNotSupported",
}
"""The WCF dispatcher's fault code of a refusal (``a:...``); the others are ``s:Client``/``s:Sender``."""


def _check_content_type(http: HttpHead, reading: Reading) -> None:
    if http.mimetype not in _SOAP_CONTENT_TYPES:
        raise ClientFault(
            f"{contract.wrong_content_type(http.content_type)} Content-Type "
            f"{shown(http.content_type or '(none)')} is not SOAP. Send "
            f"'{ns.SOAP11_CONTENT_TYPE}' (SOAP 1.1) or '{ns.SOAP12_CONTENT_TYPE}' (SOAP 1.2).",
            http_status=415,
            kind="wrong_content_type",
        )
    if http.mimetype == "application/soap+xml":
        reading.depart(
            contract.soap12_warning(http.content_type), contract.unsupported_content_type(http.content_type)
        )


def _operation(service: str, request: SoapRequest, http: HttpHead, reading: Reading) -> Operation:
    """The operation to run: under ``netserver`` the one the SOAPAction names, as WCF selects it;
    under ``lenient`` the body's, with a SOAPAction that, when sent, must agree."""
    operations = SERVICES[service]
    action = _action(http, request.version)
    if reading.netserver:
        selected = next((name for name in operations if ns.soap_action(service, name) == action), None)
        if selected is None:
            raise contract.action_not_supported(action, service, operations)
        if request.operation != selected:
            raise contract.deserialization_failed(
                f"Error in deserializing body of request message for operation '{selected}'. "
                f"OperationFormatter encountered an invalid Message body. Expected to find node type "
                f"'Element' with name '{selected}' and namespace '{ns.SERVICES86}'. Found node type "
                f"'Element' with name '{request.operation}'. The SOAPAction names {selected}; the "
                f"body's element must be {selected}."
            )
        return operations[selected]
    operation = operations.get(request.operation)
    if operation is None:
        raise ClientFault(
            f"The operation {shown(request.operation)} of {service}.svc is not emulated. "
            f"This emulator implements: {', '.join(sorted(operations))}."
        )
    expected = ns.soap_action(service, request.operation)
    if action and action != expected:
        raise ClientFault(
            f"The SOAPAction {shown(action)} does not match the body's operation "
            f"{shown(request.operation)}; expected {expected!r}."
        )
    if not action:
        reading.note(contract.missing_action_warning(service, request.operation))
    return operation


def _action(http: HttpHead, version: SoapVersion) -> str:
    if version == "1.2" and "action" in http.mimetype_params:
        return http.mimetype_params["action"].strip().strip('"')
    return http.soap_action.strip().strip('"')
