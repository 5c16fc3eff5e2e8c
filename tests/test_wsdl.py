"""The spyne-generated WSDL, held to the real Services86 contract (tests/contract/*.wsdl).

The generation tests need only spyne and lxml. The zeep tests (skipped where zeep is not
installed) are the proof that matters: a zeep client built from our WSDL shows the same
operation signatures, sends the same envelope and HTTP headers, and reads the same answers
as a zeep client built from the real, trimmed WSDL.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from contract import services86 as wsdl
from superoffice_emulator.soap import documents, ns
from superoffice_emulator.soap.documents import build_wsdl
from tests.support.wsdl import (
    NSMAP,
    REAL,
    REAL_LOCATION,
    SERVICES,
    SOAP,
    SOAP12,
    WSAW,
    WSDL,
    XSD,
    ours,
    real,
)

OPERATION = {"Appointment": "SetActivityStatus", "SoPrincipal": "AuthenticateUsernamePassword"}


# What `python -m zeep` prints for the real trimmed WSDLs (tests/contract/SOURCES.md), with the
# zeep-assigned namespace prefixes written as ns?.
_OUT_HEADERS = (
    "header: {ExceptionInfo: ns?:SoExceptionInfo, ExtraInfo: ns?:SoExtraInfo,"
    " Succeeded: xsd:boolean, TimeZone: ns?:SoTimeZone}"
)
EXPECTED_SIGNATURES = {
    "SetActivityStatus": (
        "SetActivityStatus(ActivityIdentifier: ns?:ArrayOfstring,"
        " ActivityStatus: ns?:ActivityStatus, _soapheaders={ApplicationToken: xsd:string,"
        " Credentials: ns?:SoCredentials, TimeZone: ns?:SoTimeZone})"
        f" -> {_OUT_HEADERS}, body: {{}}"
    ),
    "AuthenticateUsernamePassword": (
        "AuthenticateUsernamePassword(UserName: xsd:string, Password: xsd:string,"
        " _soapheaders={ApplicationToken: xsd:string})"
        f" -> {_OUT_HEADERS}, body: {{Response: ns?:SoPrincipalCarrier,"
        " Credentials: ns?:SoCredentials, AuthenticationSucceeded: xsd:boolean}"
    ),
}


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NSMAP)
    assert isinstance(found, list)
    assert len(found) == 1, f"{path}: {len(found)} matches"
    element = found[0]
    assert isinstance(element, etree._Element)
    return element


def resolve(node: etree._Element, qname: str) -> str:
    """``prefix:name`` in an attribute value of ``node``, as ``{namespace}name``."""
    prefix, _, name = qname.rpartition(":")
    return f"{{{node.nsmap[prefix or None]}}}{name}"


# --- A structural description of schema components, to compare ours with the real one ----


class Schemas:
    """The global elements and types of a WSDL's ``wsdl:types``, by ``{namespace}name``."""

    def __init__(self, root: etree._Element) -> None:
        self.elements: dict[str, etree._Element] = {}
        self.types: dict[str, etree._Element] = {}
        for schema in root.iterfind(f"{{{WSDL}}}types/{{{XSD}}}schema"):
            tns = schema.get("targetNamespace")
            for node in schema:
                name = node.get("name") if isinstance(node.tag, str) else None
                if name is None:
                    continue
                if node.tag == f"{{{XSD}}}element":
                    self.elements[f"{{{tns}}}{name}"] = node
                elif node.tag in (f"{{{XSD}}}complexType", f"{{{XSD}}}simpleType"):
                    self.types[f"{{{tns}}}{name}"] = node

    def element(self, qname: str) -> Any:
        """A global element: its nillability and its type, fully expanded."""
        node = self.elements[qname]
        return (node.get("nillable", "false"), self._element_type(node, frozenset()))

    def _element_type(self, node: etree._Element, seen: frozenset[str]) -> Any:
        if node.get("type") is not None:
            return self.type(resolve(node, node.get("type", "")), seen)
        inline = node.find(f"{{{XSD}}}complexType")
        assert inline is not None, etree.tostring(node)
        return self._complex(inline, seen)

    def type(self, qname: str, seen: frozenset[str] = frozenset()) -> Any:
        if qname.startswith(f"{{{XSD}}}"):
            return qname
        if qname in seen:
            return ("recursive", qname)
        node = self.types[qname]
        seen = seen | {qname}
        if node.tag == f"{{{XSD}}}simpleType":
            items = node.find(f"{{{XSD}}}list/{{{XSD}}}simpleType/{{{XSD}}}restriction")
            if items is not None:
                return ("list", tuple(e.get("value") for e in items.iterfind(f"{{{XSD}}}enumeration")))
            restriction = node.find(f"{{{XSD}}}restriction")
            assert restriction is not None
            values = [e.get("value") for e in restriction.iterfind(f"{{{XSD}}}enumeration")]
            return (
                ("enum", tuple(values))
                if values
                else self.type(resolve(restriction, restriction.get("base", "")), seen)
            )
        return self._complex(node, seen)

    def _complex(self, node: etree._Element, seen: frozenset[str]) -> Any:
        members: list[Any] = []
        extension = node.find(f"{{{XSD}}}complexContent/{{{XSD}}}extension")
        if extension is not None:
            members.extend(self.type(resolve(extension, extension.get("base", "")), seen)[1])
            node = extension
        for child in node.iterfind(f"{{{XSD}}}sequence/{{{XSD}}}element"):
            members.append(
                (
                    child.get("name"),
                    child.get("minOccurs", "1"),
                    child.get("maxOccurs", "1"),
                    child.get("nillable", "false"),
                    self._element_type(child, seen),
                )
            )
        return ("complex", tuple(members))


def header_elements(root: etree._Element, operation: str, direction: str) -> list[str]:
    """The elements of the ``soap:header``s of a binding operation, resolved via their parts."""
    binding_op = one(root, f"wsdl:binding/wsdl:operation[@name='{operation}']")
    result = []
    for header in binding_op.iterfind(f"{{{WSDL}}}{direction}/{{{SOAP}}}header"):
        message_name = resolve(header, header.get("message", ""))
        assert message_name.startswith(f"{{{ns.SERVICES86}}}")
        message = one(root, f"wsdl:message[@name='{message_name.split('}')[1]}']")
        part = one(message, f"wsdl:part[@name='{header.get('part')}']")
        result.append(resolve(part, part.get("element", "")))
    return result


def body_element(root: etree._Element, operation: str, direction: str) -> str:
    op = one(root, f"wsdl:portType/wsdl:operation[@name='{operation}']")
    io = one(op, f"wsdl:{direction}")
    message_name = resolve(io, io.get("message", "")).split("}")[1]
    part = one(root, f"wsdl:message[@name='{message_name}']/wsdl:part")
    assert part.get("name") == "parameters"
    return resolve(part, part.get("element", ""))


# --- Generation: names, namespaces, structure (spyne and lxml only) ------------------------


@pytest.mark.parametrize(
    ("service", "service_name", "port_type"),
    [
        ("Appointment", "WcfAppointmentService", "Appointment"),
        ("SoPrincipal", "WcfSoPrincipalService", "SoPrincipal"),
    ],
)
def test_service_port_binding_and_port_type_names(service: str, service_name: str, port_type: str) -> None:
    root = ours(service)
    binding_name = f"BasicHttpBinding_{port_type}"
    assert root.get("targetNamespace") == ns.SERVICES86
    assert root.get("name") == service_name
    port = one(root, f"wsdl:service[@name='{service_name}']/wsdl:port")
    assert port.get("name") == binding_name
    assert resolve(port, port.get("binding", "")) == f"{{{ns.SERVICES86}}}{binding_name}"
    binding = one(root, "wsdl:binding")
    assert binding.get("name") == binding_name
    assert resolve(binding, binding.get("type", "")) == f"{{{ns.SERVICES86}}}{port_type}"
    assert one(root, "wsdl:portType").get("name") == port_type
    assert len(root.findall(f"{{{WSDL}}}service")) == 1


@pytest.mark.parametrize("service", SERVICES)
def test_soap11_document_literal_binding(service: str) -> None:
    root = ours(service)
    soap_binding = one(root, "wsdl:binding/soap:binding")
    assert soap_binding.get("transport") == "http://schemas.xmlsoap.org/soap/http"
    assert soap_binding.get("style", "document") == "document"
    assert root.xpath("//*[namespace-uri()=$ns]", ns=SOAP12) == []
    one(root, "wsdl:service/wsdl:port/soap:address")
    for body in root.iterfind(f".//{{{WSDL}}}binding//{{{SOAP}}}body"):
        assert body.get("use") == "literal"
    for header in root.iterfind(f".//{{{WSDL}}}binding//{{{SOAP}}}header"):
        assert header.get("use") == "literal"


@pytest.mark.parametrize("service", SERVICES)
def test_soap_action_and_ws_addressing_actions(service: str) -> None:
    operation = OPERATION[service]
    root = ours(service)
    action = f"http://www.superoffice.net/ws/crm/NetServer/Services86/{service}/{operation}"
    assert action == ns.soap_action(service, operation)
    soap_operation = one(root, f"wsdl:binding/wsdl:operation[@name='{operation}']/soap:operation")
    assert soap_operation.get("soapAction") == action
    assert soap_operation.get("style") == "document"
    port_op = one(root, f"wsdl:portType/wsdl:operation[@name='{operation}']")
    assert one(port_op, "wsdl:input").get(f"{{{WSAW}}}Action") == action
    assert one(port_op, "wsdl:output").get(f"{{{WSAW}}}Action") == action + "Response"
    # ... and all of it as the real WSDL has it.
    real_root = real(service)
    real_op = one(real_root, f"wsdl:binding/wsdl:operation[@name='{operation}']/soap:operation")
    assert real_op.get("soapAction") == action
    real_port_op = one(real_root, f"wsdl:portType/wsdl:operation[@name='{operation}']")
    for direction in ("input", "output"):
        ours_io, real_io = one(port_op, f"wsdl:{direction}"), one(real_port_op, f"wsdl:{direction}")
        assert ours_io.get(f"{{{WSAW}}}Action") == real_io.get(f"{{{WSAW}}}Action")
        assert ours_io.get("name") == real_io.get("name")
        assert ours_io.get("message") == real_io.get("message")


@pytest.mark.parametrize("service", SERVICES)
def test_messages_are_named_as_in_the_real_wsdl(service: str) -> None:
    def messages(root: etree._Element) -> dict[str, list[tuple[str, str]]]:
        return {
            m.get("name", ""): [
                (p.get("name", ""), resolve(p, p.get("element", ""))) for p in m if p.tag == f"{{{WSDL}}}part"
            ]
            for m in root.iterfind(f"{{{WSDL}}}message")
        }

    assert messages(ours(service)) == messages(real(service))


def test_every_schema_is_element_form_qualified() -> None:
    for service in SERVICES:
        schemas = ours(service).findall(f"{{{WSDL}}}types/{{{XSD}}}schema")
        assert {s.get("targetNamespace") for s in schemas} >= {ns.SERVICES86, ns.ARRAYS}
        for schema in schemas:
            assert schema.get("elementFormDefault") == "qualified"


def test_set_activity_status_wrappers() -> None:
    root = ours("Appointment")
    s86 = f"xs:schema[@targetNamespace='{ns.SERVICES86}']"
    request = one(root, f"wsdl:types/{s86}/xs:element[@name='SetActivityStatus']")
    children = request.findall(f"{{{XSD}}}complexType/{{{XSD}}}sequence/{{{XSD}}}element")
    assert [c.get("name") for c in children] == ["ActivityIdentifier", "ActivityStatus"]
    identifier, status = children
    assert resolve(identifier, identifier.get("type", "")) == f"{{{ns.ARRAYS}}}ArrayOfstring"
    assert identifier.get("minOccurs") == "0"
    assert identifier.get("nillable") == "true"
    assert resolve(status, status.get("type", "")) == f"{{{ns.SERVICES86}}}ActivityStatus"
    assert status.get("minOccurs") == "0"
    assert status.get("nillable", "false") == "false"
    response = one(root, f"wsdl:types/{s86}/xs:element[@name='SetActivityStatusResponse']")
    sequence = one(response, "xs:complexType/xs:sequence")
    assert len(sequence) == 0


def test_array_of_string_lives_in_the_arrays_namespace() -> None:
    for service in SERVICES:
        root = ours(service)
        arrays = f"wsdl:types/xs:schema[@targetNamespace='{ns.ARRAYS}']"
        item = one(root, f"{arrays}/xs:complexType[@name='ArrayOfstring']/xs:sequence/xs:element")
        assert item.get("name") == "string"
        assert resolve(item, item.get("type", "")) == f"{{{XSD}}}string"
        assert item.get("nillable") == "true"
        assert item.get("minOccurs") == "0"
        assert item.get("maxOccurs") == "unbounded"


def test_activity_status_enumeration() -> None:
    root = ours("Appointment")
    simple = one(
        root,
        f"wsdl:types/xs:schema[@targetNamespace='{ns.SERVICES86}']/xs:simpleType[@name='ActivityStatus']",
    )
    restriction = one(simple, "xs:restriction")
    assert resolve(restriction, restriction.get("base", "")) == f"{{{XSD}}}string"
    values = [e.get("value") for e in restriction.iterfind(f"{{{XSD}}}enumeration")]
    assert values == ["Unknown", "NotStarted", "Started", "Completed"]


@pytest.mark.parametrize(
    ("service", "in_headers"),
    [
        ("Appointment", ["ApplicationToken", "Credentials", "TimeZone"]),
        ("SoPrincipal", ["ApplicationToken"]),
    ],
)
def test_headers_are_those_of_the_real_wsdl(service: str, in_headers: list[str]) -> None:
    operation = OPERATION[service]
    root, real_root = ours(service), real(service)
    qualified = [f"{{{ns.SERVICES86}}}{name}" for name in in_headers]
    assert header_elements(root, operation, "input") == qualified
    out = ["ExceptionInfo", "ExtraInfo", "Succeeded", "TimeZone"]
    assert header_elements(root, operation, "output") == [f"{{{ns.SERVICES86}}}{name}" for name in out]
    for direction in ("input", "output"):
        assert header_elements(root, operation, direction) == header_elements(real_root, operation, direction)


@pytest.mark.parametrize("service", SERVICES)
def test_body_and_header_types_match_the_real_ones_member_for_member(service: str) -> None:
    """Every element a message carries, with its type expanded all the way down."""
    operation = OPERATION[service]
    root, real_root = ours(service), real(service)
    schemas, real_schemas = Schemas(root), Schemas(real_root)
    elements = [
        body_element(real_root, operation, "input"),
        body_element(real_root, operation, "output"),
        *header_elements(real_root, operation, "input"),
        *header_elements(real_root, operation, "output"),
    ]
    assert [body_element(root, operation, "input"), body_element(root, operation, "output")] == (elements[:2])
    for qname in elements:
        assert schemas.element(qname) == real_schemas.element(qname), qname


def test_so_principal_carrier_members() -> None:
    carrier = Schemas(ours("SoPrincipal")).type(f"{{{ns.SERVICES86}}}SoPrincipalCarrier")
    names = [member[0] for member in carrier[1]]
    for required in (
        "UserType",
        "Associate",
        "AssociateId",
        "PersonId",
        "ContactId",
        "GroupId",
        "RoleId",
        "RoleName",
        "FullName",
        "EMailAddress",
    ):
        assert required in names
    authenticate = Schemas(ours("SoPrincipal")).element(f"{{{ns.SERVICES86}}}AuthenticateResponse")
    assert [m[0] for m in authenticate[1][1]] == ["Response", "Credentials", "AuthenticationSucceeded"]


def test_wsdl_is_generated_from_the_spyne_declaration() -> None:
    """The declaration in contract.services86 is what the document shows."""
    schemas = Schemas(ours("SoPrincipal"))
    carrier = schemas.type(f"{{{ns.SERVICES86}}}SoPrincipalCarrier")
    assert [m[0] for m in carrier[1]] == list(wsdl.SoPrincipalCarrier._type_info)
    status = Schemas(ours("Appointment")).type(f"{{{ns.SERVICES86}}}ActivityStatus")
    assert status == ("enum", tuple(wsdl.ActivityStatus.__values__))


def test_location_is_substituted_per_call() -> None:
    first = "http://127.0.0.1:8080/Cust1/Remote/Services86/Appointment.svc"
    second = "http://example.test:9/Cust2/Remote/Services86/Appointment.svc?a=1&b=<2>"
    for location in (first, second):
        address = one(ours("Appointment", location), "wsdl:service/wsdl:port/soap:address")
        assert address.get("location") == location
    assert build_wsdl("Appointment", first) == build_wsdl("Appointment", first)
    one_doc, other_doc = build_wsdl("Appointment", first), build_wsdl("Appointment", second)
    assert one_doc != other_doc
    assert b"urn:superoffice-emulator" not in one_doc
    assert one_doc.startswith(b"<?xml")


@pytest.mark.parametrize("service", SERVICES)
def test_the_served_document_is_what_spyne_generates_now(service: str) -> None:
    """The files in superoffice_emulator/soap/wsdl/ are spyne's output: a changed declaration needs them
    written again."""
    path = documents.document_path(service)  # type: ignore[arg-type]
    assert path.read_bytes() == wsdl.generate(service), (  # type: ignore[arg-type]
        f"{path} is not what contract/services86.py generates now: run python -m contract"
    )


def test_read_once_per_service() -> None:
    build_wsdl("SoPrincipal", "http://a/")
    before = documents._parts.cache_info()
    build_wsdl("SoPrincipal", "http://b/")
    build_wsdl("SoPrincipal", "http://c/")
    after = documents._parts.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 2


def test_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="Contact"):
        build_wsdl("Contact", "http://a/")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Contact"):
        wsdl.generate("Contact")  # type: ignore[arg-type]


def test_the_emulator_serves_its_wsdl_without_importing_spyne(tmp_path: Path) -> None:
    """spyne generates the documents ahead of time; a running emulator never imports it."""
    code = (
        "import sys\n"
        "from werkzeug.test import Client\n"
        "from superoffice_emulator.app import create_app\n"
        "from superoffice_emulator.settings import Settings\n"
        f"app = create_app(Settings(database_url='sqlite:///{tmp_path / 'w.db'}'))\n"
        "answer = Client(app).get('/Remote/Services86/Appointment.svc?wsdl')\n"
        "assert answer.status_code == 200 and b'WcfAppointmentService' in answer.data, answer.data[:300]\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] == 'spyne')\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- zeep: what a real client sees ---------------------------------------------------------


@pytest.fixture(scope="module")
def zeep() -> Any:
    return pytest.importorskip("zeep")


@pytest.fixture
def wsdl_files(tmp_path: Path) -> dict[str, dict[str, Path]]:
    """Our documents, written where zeep can read them, next to the real ones."""
    files: dict[str, dict[str, Path]] = {"ours": {}, "real": REAL}
    for service in SERVICES:
        path = tmp_path / f"{service}.wsdl"
        path.write_bytes(build_wsdl(service, REAL_LOCATION[service]))  # type: ignore[arg-type]
        files["ours"][service] = path
    return files


def operation_signature(client: Any, operation: str) -> str:
    """The line ``python -m zeep`` prints, with zeep's nsN prefixes written out."""
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    signature = str(port.binding.get(operation))
    prefixes = client.wsdl.types.prefix_map

    return re.sub(r"\b(ns\d+):", lambda m: f"{{{prefixes[m.group(1)]}}}", signature)


@pytest.mark.parametrize("service", SERVICES)
def test_zeep_signature_equals_the_real_one(
    zeep: Any, wsdl_files: dict[str, dict[str, Path]], service: str
) -> None:
    operation = OPERATION[service]
    ours_client = zeep.Client(str(wsdl_files["ours"][service]))
    real_client = zeep.Client(str(wsdl_files["real"][service]))
    signature = operation_signature(ours_client, operation)
    assert signature == operation_signature(real_client, operation)
    schematic = re.sub(r"\{[^}\s]+\}", "ns?:", signature)
    assert schematic == EXPECTED_SIGNATURES[operation]
    assert f"{{{ns.ARRAYS}}}ArrayOfstring" in signature or operation != "SetActivityStatus"


Request = tuple[str, etree._Element, dict[str, str]]


def recording_transport(zeep: Any, reply: bytes) -> tuple[Any, list[Request]]:
    """A zeep transport that records each request (address, envelope, HTTP headers) and
    answers ``reply``; ``post_xml`` is zeep's documented point of customisation."""
    import requests

    sent: list[Request] = []

    class Transport(zeep.Transport):  # type: ignore[misc]
        def post_xml(self, address: str, envelope: etree._Element, headers: Any) -> Any:
            sent.append((address, envelope, dict(headers)))
            response = requests.Response()
            response.status_code = 200
            response._content = reply
            response.headers["Content-Type"] = ns.SOAP11_CONTENT_TYPE
            response.encoding = "utf-8"
            return response

    return Transport(), sent


def canonical(element: etree._Element) -> Any:
    """An element, prefix-free: tag, attributes, text, children; wsa:MessageID values dropped."""
    text = (element.text or "").strip()
    if element.tag == f"{{{ns.WSA}}}MessageID":
        assert text.startswith("urn:uuid:")
        text = "urn:uuid:…"
    return (
        element.tag,
        tuple(sorted(element.attrib.items())),
        text,
        tuple(canonical(child) for child in element if isinstance(child.tag, str)),
    )


def call_both(
    zeep: Any,
    wsdl_files: dict[str, dict[str, Path]],
    service: str,
    reply: str,
    invoke: Callable[[Any], Any],
) -> Iterator[tuple[Any, Request]]:
    """Run ``invoke(client.service)`` against our WSDL and the real one; yield result, request."""
    for side in ("ours", "real"):
        transport, sent = recording_transport(zeep, reply.encode())
        client = zeep.Client(str(wsdl_files[side][service]), transport=transport)
        result = zeep.helpers.serialize_object(invoke(client.service), dict)
        (request,) = sent
        yield result, request


def assert_same_exchange(
    zeep: Any,
    wsdl_files: dict[str, dict[str, Path]],
    service: str,
    reply: str,
    invoke: Callable[[Any], Any],
) -> Any:
    (ours_result, ours_request), (real_result, real_request) = call_both(
        zeep, wsdl_files, service, reply, invoke
    )
    ours_address, ours_envelope, ours_headers = ours_request
    real_address, real_envelope, real_headers = real_request
    assert ours_address == real_address == REAL_LOCATION[service]
    assert ours_headers == real_headers
    assert ours_headers["SOAPAction"] == f'"{ns.soap_action(service, OPERATION[service])}"'
    assert canonical(ours_envelope) == canonical(real_envelope)
    assert ours_result == real_result
    return ours_envelope, ours_result


SET_STATUS_OK = f"""<s:Envelope xmlns:s="{ns.SOAP11_ENV}"><s:Header>
<Succeeded xmlns="{ns.SERVICES86}">true</Succeeded></s:Header><s:Body>
<SetActivityStatusResponse xmlns="{ns.SERVICES86}"/></s:Body></s:Envelope>"""

SET_STATUS_DENIED = f"""<s:Envelope xmlns:s="{ns.SOAP11_ENV}"><s:Header>
<ExceptionInfo xmlns="{ns.SERVICES86}"><Message>No write access to appointment 7</Message>
<FriendlyText>You may not change this appointment.</FriendlyText>
<ExceptionType>SuperOffice.Exceptions.SoSentryException</ExceptionType>
<Source>SuperOffice.CRM.Services</Source><Parameters><SoExceptionInfoParametersKeyValuePair>
<Key>appointment_id</Key><Value>7</Value></SoExceptionInfoParametersKeyValuePair></Parameters>
</ExceptionInfo><Succeeded xmlns="{ns.SERVICES86}">false</Succeeded></s:Header><s:Body>
<SetActivityStatusResponse xmlns="{ns.SERVICES86}"/></s:Body></s:Envelope>"""

AUTHENTICATED = f"""<s:Envelope xmlns:s="{ns.SOAP11_ENV}"><s:Header>
<ExtraInfo xmlns="{ns.SERVICES86}"><ExtraInfoNameValuePair><Key>k</Key><Value>v</Value>
</ExtraInfoNameValuePair></ExtraInfo>
<Succeeded xmlns="{ns.SERVICES86}">true</Succeeded>
<TimeZone xmlns="{ns.SERVICES86}"><SoTimeZoneId>0</SoTimeZoneId>
<SoTimeZoneLocationCode>UTC</SoTimeZoneLocationCode></TimeZone></s:Header><s:Body>
<AuthenticateResponse xmlns="{ns.SERVICES86}"><Response><UserType>InternalAssociate</UserType>
<Associate>SAM</Associate><AssociateId>5</AssociateId><IsPerson>true</IsPerson>
<PersonId>15</PersonId><ContactId>2</ContactId><GroupId>3</GroupId><RoleId>1</RoleId>
<RoleName>Sales</RoleName><FullName>Sam Salesrep</FullName>
<EMailAddress>sam@example.test</EMailAddress>
<SecondaryGroups xmlns:a="{ns.ARRAYS}"><a:int>4</a:int></SecondaryGroups></Response>
<Credentials><Ticket>7T:U2FtU2FsZXNyZXBUaWNrZXQ=</Ticket></Credentials>
<AuthenticationSucceeded>true</AuthenticationSucceeded></AuthenticateResponse>
</s:Body></s:Envelope>"""

REFUSED = f"""<s:Envelope xmlns:s="{ns.SOAP11_ENV}" xmlns:i="{ns.XSI}"><s:Header>
<Succeeded xmlns="{ns.SERVICES86}">true</Succeeded></s:Header><s:Body>
<AuthenticateResponse xmlns="{ns.SERVICES86}"><Response i:nil="true"/>
<Credentials i:nil="true"/><AuthenticationSucceeded>false</AuthenticationSucceeded>
</AuthenticateResponse></s:Body></s:Envelope>"""

IN_HEADERS = {
    "ApplicationToken": "1234567-1234-9876",
    "Credentials": {"Ticket": "7T:1234abcxyzExample=="},
    "TimeZone": {"SoTimeZoneId": 1, "SoTimeZoneLocationCode": "UTC"},
}


def test_zeep_sends_the_same_set_activity_status_request(
    zeep: Any, wsdl_files: dict[str, dict[str, Path]]
) -> None:
    envelope, result = assert_same_exchange(
        zeep,
        wsdl_files,
        "Appointment",
        SET_STATUS_OK,
        lambda service: service.SetActivityStatus(
            ActivityIdentifier={"string": ["appointment_id=666", "sale_id=2", " todo_id=1 "]},
            ActivityStatus="Completed",
            _soapheaders=IN_HEADERS,
        ),
    )
    header = envelope.find(f"{{{ns.SOAP11_ENV}}}Header")
    assert header is not None
    names = [child.tag for child in header]
    assert f"{{{ns.SERVICES86}}}ApplicationToken" in names
    assert f"{{{ns.WSA}}}Action" in names
    body = envelope.find(f"{{{ns.SOAP11_ENV}}}Body/{{{ns.SERVICES86}}}SetActivityStatus")
    assert body is not None
    items = body.findall(f"{{{ns.SERVICES86}}}ActivityIdentifier/{{{ns.ARRAYS}}}string")
    assert [item.text for item in items] == ["appointment_id=666", "sale_id=2", " todo_id=1 "]
    assert result["header"]["Succeeded"] is True


def test_zeep_sends_the_same_request_without_optional_parts(
    zeep: Any, wsdl_files: dict[str, dict[str, Path]]
) -> None:
    assert_same_exchange(
        zeep,
        wsdl_files,
        "Appointment",
        SET_STATUS_OK,
        lambda service: service.SetActivityStatus(_soapheaders={"Credentials": {"Ticket": "7T:x"}}),
    )


def test_zeep_reads_a_wrapped_failure_alike(zeep: Any, wsdl_files: dict[str, dict[str, Path]]) -> None:
    _, result = assert_same_exchange(
        zeep,
        wsdl_files,
        "Appointment",
        SET_STATUS_DENIED,
        lambda service: service.SetActivityStatus(
            ActivityIdentifier={"string": ["appointment_id=7"]},
            ActivityStatus="Completed",
            _soapheaders=IN_HEADERS,
        ),
    )
    assert result["header"]["Succeeded"] is False
    info = result["header"]["ExceptionInfo"]
    assert info["ExceptionType"] == "SuperOffice.Exceptions.SoSentryException"
    pairs = info["Parameters"]["SoExceptionInfoParametersKeyValuePair"]
    assert pairs == [{"Key": "appointment_id", "Value": "7"}]


def test_zeep_authenticates_alike(zeep: Any, wsdl_files: dict[str, dict[str, Path]]) -> None:
    _, result = assert_same_exchange(
        zeep,
        wsdl_files,
        "SoPrincipal",
        AUTHENTICATED,
        lambda service: service.AuthenticateUsernamePassword(
            UserName="sam",
            Password="secret",
            _soapheaders={"ApplicationToken": "1234567-1234-9876"},
        ),
    )
    body = result["body"]
    assert body["AuthenticationSucceeded"] is True
    assert body["Credentials"]["Ticket"] == "7T:U2FtU2FsZXNyZXBUaWNrZXQ="
    assert body["Response"]["AssociateId"] == 5
    assert body["Response"]["SecondaryGroups"] == {"int": [4]}
    assert result["header"]["TimeZone"]["SoTimeZoneLocationCode"] == "UTC"


def test_zeep_reads_a_refused_login_alike(zeep: Any, wsdl_files: dict[str, dict[str, Path]]) -> None:
    _, result = assert_same_exchange(
        zeep,
        wsdl_files,
        "SoPrincipal",
        REFUSED,
        lambda service: service.AuthenticateUsernamePassword(UserName="sam", Password="wrong"),
    )
    assert result["body"]["AuthenticationSucceeded"] is False
    assert result["body"]["Credentials"] == {"Ticket": None}  # zeep's reading of a nil element
