"""The contract modes on the SOAP wire: what NetServer's WCF refuses, refused or noted.

NetServer's services run on WCF's ``basicHttpBinding`` behind IIS: SOAP 1.1 only, the
``SOAPAction`` selects the operation, headers are read from ``Header`` only, and a body that does
not deserialize is a fault. Under ``netserver`` the codec refuses such a request as WCF answers it;
under ``lenient`` it reads the request anyway (the docs' schematic forms) and notes each point in the
arrival's ``contract_warnings``::

    reading = Reading("lenient", arrival.contract_warnings)
    reading.depart("NetServer would ...", unsupported_content_type(content_type))  # noted
    Reading("netserver", []).depart("...", refusal)                                # raises refusal

The refusals begin with WCF's own words, then say what to do in ours.
"""

from __future__ import annotations

from collections.abc import Iterable

from superoffice_emulator.domain.errors import ClientFault, shown
from superoffice_emulator.settings import Contract
from superoffice_emulator.soap import ns


class Reading:
    """How one request is read: under ``netserver`` a departure from WCF's rules is refused;
    under ``lenient`` it is read anyway and its sentence added to ``warnings``."""

    __slots__ = ("contract", "warnings")

    def __init__(self, contract: Contract, warnings: list[str]) -> None:
        self.contract = contract
        self.warnings = warnings

    @property
    def netserver(self) -> bool:
        return self.contract == "netserver"

    def depart(self, warning: str, refusal: ClientFault) -> None:
        """A point where NetServer refuses the request: raise ``refusal``, or note ``warning``."""
        if self.netserver:
            raise refusal
        self.warnings.append(warning)

    def note(self, warning: str) -> None:
        """A point NetServer reads differently (it does not refuse): noted under ``lenient`` only."""
        if not self.netserver:
            self.warnings.append(warning)


def wrong_content_type(content_type: str) -> str:
    """WCF's sentence for a request body type its SOAP 1.1 encoder does not read (HTTP 415)."""
    return (
        f"Cannot process the message because the content type '{content_type}' was not the "
        f"expected type '{ns.SOAP11_CONTENT_TYPE}'."
    )


def unsupported_content_type(content_type: str) -> ClientFault:
    """What WCF answers a SOAP 1.2 content type: HTTP 415."""
    return ClientFault(
        f"{wrong_content_type(content_type)} NetServer's basicHttpBinding takes SOAP 1.1 only: "
        "send a SOAP 1.1 envelope with that Content-Type and a SOAPAction header.",
        http_status=415,
        kind="wrong_content_type",
    )


def version_mismatch() -> ClientFault:
    """What WCF's SOAP 1.1 encoder answers a SOAP 1.2 envelope sent as ``text/xml``."""
    return ClientFault(
        f"The envelope version of the incoming message (Soap12 ({ns.SOAP12_ENV})) does not match "
        f"that of the encoder (Soap11 ({ns.SOAP11_ENV})). Make sure the binding is configured with "
        "the same version as the expected messages. NetServer takes SOAP 1.1 envelopes only.",
        http_status=400,
    )


def action_not_supported(action: str, service: str, operations: Iterable[str]) -> ClientFault:
    """WCF's ContractFilter mismatch: the SOAPAction names no operation of the service."""
    expected = ", ".join(repr(ns.soap_action(service, name)) for name in sorted(operations))
    return ClientFault(
        f"The message with Action '{action}' cannot be processed at the receiver, due to a "
        "ContractFilter mismatch at the EndpointDispatcher. This may be because of either a "
        "contract mismatch (mismatched Actions between sender and receiver) or a binding/security "
        "mismatch between the sender and the receiver.  Check that sender and receiver have the "
        "same contract and the same binding (including security requirements, e.g. Message, "
        f"Transport, None). The SOAPAction header selects the operation; {service}.svc of this "
        f"emulator takes: {expected}.",
        kind="action_not_supported",
    )


def deserialization_failed(detail: str) -> ClientFault:
    """WCF's formatter could not read the body: ``detail`` names the value and what is allowed."""
    return ClientFault(
        f"The formatter threw an exception while trying to deserialize the message: {detail}",
        kind="deserialization_failed",
    )


def parameter_error(operation: str, parameter: str, detail: str) -> ClientFault:
    """A parameter of ``operation`` that does not deserialize, as WCF's formatter says it."""
    return deserialization_failed(
        f"There was an error while trying to deserialize parameter {ns.SERVICES86}:{parameter}. {detail}"
    )


def missing_action_warning(service: str, operation: str) -> str:
    return (
        "The request has no SOAPAction: NetServer selects the operation by it, and answers a "
        "request without one with an a:ActionNotSupported fault, changing nothing. Send "
        f'SOAPAction: "{ns.soap_action(service, operation)}".'
    )


def soap12_warning(content_type: str) -> str:
    return (
        f"The request is SOAP 1.2 (Content-Type {shown(content_type)}): NetServer's "
        f"basicHttpBinding takes SOAP 1.1 only and answers HTTP 415, expecting "
        f"'{ns.SOAP11_CONTENT_TYPE}'."
    )
