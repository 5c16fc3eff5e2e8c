"""Reading a SOAP request: either SOAP version, in-headers wherever the seed or a real client puts them.

Contract B.1: SOAP 1.1 as the WSDL says, SOAP 1.2 too; the in-headers (``ApplicationToken``,
``Credentials``, ``TimeZone``) inside ``Header`` or directly under ``Envelope`` (the seed's
form); ``xsi:type`` attributes and WS-Addressing headers ignored. The parser never resolves
entities, never reads a DTD or the network, and libxml2 refuses nesting deeper than 256.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree

from emulator import ns
from emulator.domain.errors import ClientFault, shown

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


@dataclass(frozen=True)
class SoapRequest:
    """A parsed request: its version, its Services86 in-headers, and the body's operation element."""

    version: SoapVersion
    operation: str
    body: etree._Element
    headers: dict[str, etree._Element]

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


def version_of(body: bytes, mimetype: str = "") -> SoapVersion:
    """Best guess of the SOAP version of a request that may not parse, for answering a fault:
    the content type when it is SOAP's, else a look at the start of the body."""
    if mimetype == "application/soap+xml":
        return "1.2"
    if mimetype == "text/xml":
        return "1.1"
    return "1.2" if ns.SOAP12_ENV.encode() in body[:4096] else "1.1"


def parse_request(body: bytes) -> SoapRequest:
    """Parse ``body`` into a :class:`SoapRequest`, or raise :class:`ClientFault` saying what is wrong."""
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
    body_element = header_element = None
    headers: dict[str, etree._Element] = {}
    for child in root:  # one pass: Header, Body, and in-headers placed directly under Envelope
        tag = child.tag
        if tag == body_tag:
            body_element = body_element if body_element is not None else child
        elif tag == header_tag:
            header_element = header_element if header_element is not None else child
        elif isinstance(tag, str) and tag.startswith(_S86):
            headers.setdefault(tag[len(_S86) :], child)
    if body_element is None:
        raise ClientFault("The envelope has no Body.", http_status=400)
    operation = next((c for c in body_element if isinstance(c.tag, str)), None)
    if operation is None:
        raise ClientFault("The SOAP Body is empty; it must hold the operation's element.")
    if not operation.tag.startswith(_S86):
        qname = etree.QName(operation)
        raise ClientFault(
            f"The body element {{{qname.namespace}}}{qname.localname} is not in the Services86 "
            f"namespace {ns.SERVICES86}."
        )
    if header_element is not None:  # in-headers in Header come before those under Envelope
        in_header = {
            child.tag[len(_S86) :]: child
            for child in reversed(header_element)
            if isinstance(child.tag, str) and child.tag.startswith(_S86)
        }
        headers = in_header | {name: e for name, e in headers.items() if name not in in_header}
    return SoapRequest(version, operation.tag[len(_S86) :], operation, headers)


def is_nil(element: etree._Element) -> bool:
    return element.get("{" + ns.XSI + "}nil") in ("true", "1")
