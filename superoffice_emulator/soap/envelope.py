"""Reading a SOAP request: either SOAP version, in-headers wherever the seed or a real client puts them.

Our choice (docs/behaviour.md): SOAP 1.1 as the WSDL says, SOAP 1.2 too; the in-headers (``ApplicationToken``,
``Credentials``, ``TimeZone``) inside ``Header`` or directly under ``Envelope`` (the seed's form);
``xsi:type`` attributes and WS-Addressing headers ignored. Under ``--contract netserver`` the
reading is WCF's: see :func:`parse_request` and :mod:`superoffice_emulator.soap.contract`. The parser
never resolves entities, never reads a DTD or the network, and libxml2 refuses nesting deeper than 256.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from lxml import etree

from superoffice_emulator.domain.errors import ClientFault, shown
from superoffice_emulator.soap import ns
from superoffice_emulator.soap.contract import Reading, parameter_error

SoapVersion = Literal["1.1", "1.2"]

_ENVELOPE_TAGS: dict[str, SoapVersion] = {
    "{" + ns.SOAP11_ENV + "}Envelope": "1.1",
    "{" + ns.SOAP12_ENV + "}Envelope": "1.2",
}
_HEADER_AND_BODY_TAGS: dict[SoapVersion, tuple[str, str]] = {
    "1.1": ("{" + ns.SOAP11_ENV + "}Header", "{" + ns.SOAP11_ENV + "}Body"),
    "1.2": ("{" + ns.SOAP12_ENV + "}Header", "{" + ns.SOAP12_ENV + "}Body"),
}
_S86 = "{" + ns.SERVICES86 + "}"
_local = threading.local()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


class SoapRequest:
    """A parsed request: its version, its Services86 in-headers, the body's operation and that
    element's Services86 parameters (the first of each name, as WCF's formatter reads them)."""

    __slots__ = ("headers", "operation", "parameters", "version")

    def __init__(
        self,
        version: SoapVersion,
        operation: str,
        headers: dict[str, etree._Element],
        parameters: dict[str, etree._Element],
    ) -> None:
        self.version, self.operation = version, operation
        self.headers, self.parameters = headers, parameters

    def header_text(self, name: str, child: str | None = None) -> str | None:
        """Text of in-header ``name`` (or of its child ``child``); ``None`` when absent or nil."""
        element = self.headers.get(name)
        if element is not None and child is not None:
            element = next(element.iterchildren(_S86 + child), None)
        if element is None:
            return None
        return element.text or ""


def _thread_parser() -> etree.XMLParser:
    """lxml parsers must not be shared between threads; each thread keeps its own."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _parser()
    return parser


def safe_parser() -> etree.XMLParser:
    """This thread's parser for requests: no entities, no DTD, no network (for other SOAP services)."""
    return _thread_parser()


def version_of(body: bytes, mimetype: str = "") -> SoapVersion:
    """Best guess of the SOAP version of a request that may not parse, for answering a fault:
    the content type when it is SOAP's, else a look at the start of the body."""
    if mimetype == "application/soap+xml":
        return "1.2"
    if mimetype == "text/xml":
        return "1.1"
    return "1.2" if ns.SOAP12_ENV.encode() in body[:4096] else "1.1"


def parse_request(body: bytes, reading: Reading) -> SoapRequest:
    """Parse ``body`` into a :class:`SoapRequest`, or raise :class:`ClientFault` saying what is wrong.

    What NetServer refuses or reads differently goes through ``reading`` (:mod:`.contract`): a
    second ``Body``, a second operation element, a repeated parameter or in-header are refused
    under ``netserver`` and noted under ``lenient`` (the first one is read); in-headers directly
    under ``Envelope`` are read and noted under ``lenient`` and not seen under ``netserver``.
    """
    if not body or body.isspace():
        raise ClientFault("The request body is empty; send a SOAP envelope.", http_status=400)
    try:
        root = etree.fromstring(body, _thread_parser())
    except etree.XMLSyntaxError as exc:
        raise ClientFault(f"The request is not well-formed XML: {exc.msg}", http_status=400) from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ClientFault("DTDs are not allowed in SOAP messages.", http_status=400)
    version = _ENVELOPE_TAGS.get(root.tag)
    if version is None:
        raise ClientFault(
            f"The root element is {shown(root.tag)}; expected a SOAP 1.1 or 1.2 Envelope "
            f"({ns.SOAP11_ENV} or {ns.SOAP12_ENV}).",
            http_status=400,
        )
    header_tag, body_tag = _HEADER_AND_BODY_TAGS[version]
    envelope_body = header_element = None
    bodies = 0
    stray: list[etree._Element] = []
    for child in root:  # one pass: Header, Body, and in-headers placed directly under Envelope
        tag = child.tag
        if tag == body_tag:
            bodies += 1
            envelope_body = envelope_body if envelope_body is not None else child
        elif tag == header_tag:
            header_element = header_element if header_element is not None else child
        elif isinstance(tag, str) and tag.startswith(_S86):
            stray.append(child)
    if envelope_body is None:
        raise ClientFault("The envelope has no Body.", http_status=400)
    if bodies > 1:
        reading.depart(
            f"The envelope has {bodies} Body elements: NetServer refuses such a message; "
            "the emulator read the first.",
            ClientFault(f"The envelope has {bodies} Body elements; a SOAP envelope has one.", 400),
        )
    operation = None
    elements = 0
    for child in envelope_body:
        if isinstance(child.tag, str):
            elements += 1
            operation = operation if operation is not None else child
    if operation is None:
        raise ClientFault("The SOAP Body is empty; it must hold the operation's element.")
    if not operation.tag.startswith(_S86):
        qname = etree.QName(operation)
        raise ClientFault(
            f"The body element {{{qname.namespace}}}{qname.localname} is not in the Services86 "
            f"namespace {ns.SERVICES86}."
        )
    name = operation.tag[len(_S86) :]
    if elements > 1:
        reading.depart(
            f"The Body holds {elements} elements: NetServer refuses a Body with more than the "
            f"operation's element; the emulator read the first, {name}.",
            ClientFault(
                f"The SOAP Body holds {elements} elements; it must hold only the operation's "
                f"element ({name}).",
            ),
        )
    parameters, repeated = _services86_children(operation)
    for parameter, count in repeated:
        reading.depart(
            f"{parameter} appears {count} times in {name}: NetServer's formatter refuses the "
            "request (a:DeserializationFailed); the emulator read the first.",
            parameter_error(
                name,
                parameter,
                f"The element {parameter} appears {count} times; each parameter of {name} is sent once.",
            ),
        )
    headers: dict[str, etree._Element] = {}
    if header_element is not None:
        headers, repeated = _services86_children(header_element)
        for header, count in repeated:
            reading.depart(
                f"The header {header} appears {count} times: NetServer refuses the message; the "
                "emulator read the first.",
                ClientFault(f"The header {header} appears {count} times; send each header once."),
            )
    if stray:
        names = sorted({child.tag[len(_S86) :] for child in stray})
        reading.note(
            f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} directly under Envelope, "
            "outside Header: NetServer reads headers only inside Header and would not see "
            f"{'it' if len(names) == 1 else 'them'}"
            + (" (no ticket: SoSessionException)." if "Credentials" in names else ".")
        )
        if not reading.netserver:  # in-headers in Header come before those under Envelope
            for child in stray:
                headers.setdefault(child.tag[len(_S86) :], child)
    return SoapRequest(version, name, headers, parameters)


def _services86_children(
    parent: etree._Element,
) -> tuple[dict[str, etree._Element], list[tuple[str, int]]]:
    """The Services86 children of ``parent`` by local name (the first of each), and the names
    that appear more than once, with their counts (in one pass over the children)."""
    found: dict[str, etree._Element] = {}
    counts: dict[str, int] | None = None
    for child in parent:
        tag = child.tag
        if isinstance(tag, str) and tag.startswith(_S86):
            local = tag[len(_S86) :]
            if local not in found:
                found[local] = child
            else:  # rare: counted only once a name repeats
                counts = counts if counts is not None else {}
                counts[local] = counts.get(local, 1) + 1
    if counts is None:
        return found, []
    return found, [(local, counts[local]) for local in found if local in counts]  # as first seen


def is_nil(element: etree._Element) -> bool:
    return element.get("{" + ns.XSI + "}nil") in ("true", "1")
