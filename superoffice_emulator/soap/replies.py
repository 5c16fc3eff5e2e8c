"""Writing SOAP answers: the one place where an outcome's failure becomes SOAP's wire form.

Every answer that is not a fault carries the four out-headers of the message contract in WCF's order,
``ExceptionInfo``, ``ExtraInfo``, ``Succeeded``, ``TimeZone``; a header without a value is an empty
element with ``i:nil="true"``, as WCF writes it (a success: all but ``Succeeded`` nil). A NetServer
failure (:class:`superoffice_emulator.calls.pipeline.Failed`, the facts of an ``SoException``) is
wrapped as NetServer does with ``WrapExceptions`` on: HTTP 200, the operation's empty response body,
``Succeeded`` false and ``ExceptionInfo`` filled. With wrapping off, and for requests that cannot be
read at all, the answer is a SOAP Fault in the request's version, whose ``detail`` carries the same
``ExceptionInfo``.
"""

from __future__ import annotations

import functools
from typing import Any

from lxml import etree

from superoffice_emulator.calls.pipeline import Failed
from superoffice_emulator.server.web import Reply
from superoffice_emulator.soap import ns
from superoffice_emulator.soap.envelope import SoapVersion

_S86 = "{" + ns.SERVICES86 + "}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NIL = "{" + ns.XSI + "}nil"
_DISPATCHER = {"a": ns.WCF_DISPATCHER}
_ENV_NS: dict[SoapVersion, str] = {"1.1": ns.SOAP11_ENV, "1.2": ns.SOAP12_ENV}
_CONTENT_TYPES: dict[SoapVersion, str] = {
    "1.1": ns.SOAP11_CONTENT_TYPE,
    "1.2": ns.SOAP12_CONTENT_TYPE,
}


def _envelope(version: SoapVersion) -> tuple[etree._Element, etree._Element, etree._Element]:
    env = _ENV_NS[version]
    root = etree.Element(f"{{{env}}}Envelope", nsmap={"s": env})
    header = etree.SubElement(root, f"{{{env}}}Header")
    body = etree.SubElement(root, f"{{{env}}}Body")
    return root, header, body


def _nil(name: str) -> etree._Element:
    element = empty_element(name, i=ns.XSI)
    element.set(_NIL, "true")
    return element


def _out_headers(header: etree._Element, exception_info: etree._Element | None) -> None:
    """The out-headers in WCF's order; ``exception_info`` ``None`` on a success."""
    header.append(exception_info if exception_info is not None else _nil("ExceptionInfo"))
    header.append(_nil("ExtraInfo"))
    succeeded = empty_element("Succeeded")
    succeeded.text = "false" if exception_info is not None else "true"
    header.append(succeeded)
    header.append(_nil("TimeZone"))


def _serialize(version: SoapVersion, root: etree._Element, status: int = 200) -> Reply:
    body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return Reply(status, _CONTENT_TYPES[version], body)


def success(version: SoapVersion, response: etree._Element) -> Reply:
    """``response`` (the operation's response element) with ``Succeeded`` true."""
    root, header, body = _envelope(version)
    _out_headers(header, None)
    body.append(response)
    return _serialize(version, root)


@functools.lru_cache(maxsize=32)
def empty_success(version: SoapVersion, response_name: str) -> Reply:
    """The constant answer of an operation whose response is an empty element (built once)."""
    return success(version, empty_element(response_name))


_DEFAULT_NS: Any = {None: ns.SERVICES86}  # lxml-stubs do not allow the None (default) prefix


def empty_element(name: str, **extra_namespaces: str) -> etree._Element:
    """A Services86 element with the namespace as default, like WCF writes it."""
    return etree.Element(_S86 + name, nsmap={**_DEFAULT_NS, **extra_namespaces})


def exception_info(error: Failed, name: str = "ExceptionInfo") -> etree._Element:
    """``SoExceptionInfo`` for ``error``; no stack trace ever leaves the emulator."""
    info = empty_element(name)
    for child, text in (
        ("Message", error.message),
        ("FriendlyText", error.friendly_text),
        ("ExceptionType", error.exception_type),
        ("Source", error.source),
    ):
        etree.SubElement(info, _S86 + child).text = text
    if error.parameters:
        parameters = etree.SubElement(info, _S86 + "Parameters")
        for key, value in error.parameters.items():
            pair = etree.SubElement(parameters, _S86 + "SoExceptionInfoParametersKeyValuePair")
            etree.SubElement(pair, _S86 + "Key").text = key
            etree.SubElement(pair, _S86 + "Value").text = value
    return info


def failure(version: SoapVersion, error: Failed, empty_response: etree._Element, *, wrap: bool) -> Reply:
    """A NetServer failure: wrapped in ``ExceptionInfo`` (the default) or as a SOAP Fault."""
    if not wrap:
        return fault(version, error.message, client=False, detail=exception_info(error))
    root, header, body = _envelope(version)
    _out_headers(header, exception_info(error))
    body.append(empty_response)
    return _serialize(version, root)


def client_fault(version: SoapVersion, message: str, status: int, wcf_code: str | None = None) -> Reply:
    """A request that could not be understood: always a SOAP Fault with the sender's code.

    ``wcf_code`` (``DeserializationFailed``, ``ActionNotSupported``) is WCF's dispatcher code,
    ``a:<code>``: the SOAP 1.1 ``faultcode``, and the ``Subcode`` under ``s:Sender`` in SOAP 1.2.
    """
    return fault(version, message, client=True, status=status, wcf_code=wcf_code)


def fault(
    version: SoapVersion,
    message: str,
    *,
    client: bool,
    detail: etree._Element | None = None,
    status: int = 500,
    wcf_code: str | None = None,
) -> Reply:
    """A SOAP Fault in ``version``; ``client`` picks Client/Sender over Server/Receiver."""
    env = _ENV_NS[version]
    root, header, body = _envelope(version)
    root.remove(header)
    fault_element = etree.SubElement(body, f"{{{env}}}Fault")
    if version == "1.1":
        if wcf_code is not None:
            etree.SubElement(fault_element, "faultcode", nsmap=_DISPATCHER).text = f"a:{wcf_code}"
        else:
            etree.SubElement(fault_element, "faultcode").text = "s:Client" if client else "s:Server"
        reason = etree.SubElement(fault_element, "faultstring")
        reason.set(_XML_LANG, "en-US")
        reason.text = message
        if detail is not None:
            etree.SubElement(fault_element, "detail").append(detail)
    else:
        code = etree.SubElement(fault_element, f"{{{env}}}Code")
        value = etree.SubElement(code, f"{{{env}}}Value")
        value.text = "s:Sender" if client else "s:Receiver"
        if wcf_code is not None:
            subcode = etree.SubElement(code, f"{{{env}}}Subcode")
            etree.SubElement(subcode, f"{{{env}}}Value", nsmap=_DISPATCHER).text = f"a:{wcf_code}"
        reason = etree.SubElement(etree.SubElement(fault_element, f"{{{env}}}Reason"), f"{{{env}}}Text")
        reason.set(_XML_LANG, "en-US")
        reason.text = message
        if detail is not None:
            etree.SubElement(fault_element, f"{{{env}}}Detail").append(detail)
    return _serialize(version, root, status)
