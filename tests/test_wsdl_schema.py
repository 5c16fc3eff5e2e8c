"""Every type and element of the real, trimmed WSDL appears in ours with the same structure.

A .NET or Java proxy is generated from ``wsdl:types``: code written against a proxy of the real
WSDL compiles against a proxy of ours only if every component the real one declares is declared
alike in ours. The comparison walks both schemas with lxml, node by node: names, nesting, named
or anonymous types, order, ``minOccurs``/``maxOccurs``, ``nillable``, ``xs:list`` and
enumeration facets, and the WCF appinfo a proxy generator reads (``IsDictionary``,
``ActualType``, ``EnumerationValue``). Ours may declare more (the real files are trimmed).

What is not compared, because it means nothing to a proxy generator or a validator: namespace
prefixes, the order of attributes, white space, and the order of the global declarations of a
schema (they are found by name). XSD defaults are written out (``minOccurs="1"`` equals no
``minOccurs``), and QName values are compared as ``{namespace}name``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from lxml import etree

from superoffice_emulator.calls.pipeline import Failed
from superoffice_emulator.domain.errors import SoSentryException
from superoffice_emulator.soap import ns
from superoffice_emulator.soap.documents import build_wsdl
from superoffice_emulator.soap.replies import exception_info
from tests.support.wsdl import REAL, SERVICES, WSDL, XSD, ours, real

S86 = ns.SERVICES86
LOCATION = "http://127.0.0.1:8080/"
"""The service address our WSDLs are built with here (the schemas do not depend on it)."""

COMPONENTS = ("element", "complexType", "simpleType", "attribute", "attributeGroup", "group")
"""The kinds of global declaration of a schema; each kind has its own symbol space."""
QNAME_ATTRIBUTES = frozenset({"type", "base", "ref", "itemType", "substitutionGroup"})
DEFAULTS = {
    "minOccurs": "1",
    "maxOccurs": "1",
    "nillable": "false",
    "mixed": "false",
    "abstract": "false",
}


# --- The comparison --------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A schema node reduced to what a proxy generator reads."""

    label: str
    """``tag[name]``, for the path of a difference."""
    tag: str
    attributes: dict[str, str]
    text: str
    children: tuple[Node, ...]


def reduce(node: etree._Element) -> Node:
    attributes: dict[str, str] = {}
    for key, raw in node.attrib.items():
        name, value = str(key), str(raw)
        if name in QNAME_ATTRIBUTES and node.tag.startswith(f"{{{XSD}}}"):
            prefix, _, local = value.rpartition(":")
            value = f"{{{node.nsmap.get(prefix or None, '')}}}{local}"
        if DEFAULTS.get(name) != value:
            attributes[name] = value
    children = tuple(reduce(child) for child in node if isinstance(child.tag, str))
    local = etree.QName(node).localname
    named = node.get("name") or (node.get("value") if local == "enumeration" else node.get("Name"))
    return Node(
        label=f"{local}[{named}]" if named else local,
        tag=node.tag,
        attributes=attributes,
        text=(node.text or "").strip(),
        children=children,
    )


def first_difference(expected: Node, actual: Node, path: str) -> str | None:
    """Where ``actual`` first differs from ``expected``: the path and what differs, or None."""
    here = f"{path}/{expected.label}"
    if expected.tag != actual.tag:
        return f"{here}: ours has {actual.tag} where the real one has {expected.tag}"
    for key in sorted(expected.attributes.keys() | actual.attributes.keys()):
        want, got = expected.attributes.get(key), actual.attributes.get(key)
        if want != got:
            return f"{here}: @{key} is {got!r} in ours, {want!r} in the real one"
    if expected.text != actual.text:
        return f"{here}: text is {actual.text!r} in ours, {expected.text!r} in the real one"
    for want_child, got_child in zip(expected.children, actual.children, strict=False):
        difference = first_difference(want_child, got_child, here)
        if difference is not None:
            return difference
    if len(expected.children) > len(actual.children):
        return f"{here}: ours lacks {expected.children[len(actual.children)].label}"
    if len(expected.children) < len(actual.children):
        return f"{here}: ours has an extra {actual.children[len(expected.children)].label}"
    return None


Key = tuple[str, str, str]
"""(target namespace, kind, name) of a global declaration."""


def schemas(root: etree._Element) -> dict[str, etree._Element]:
    return {s.get("targetNamespace", ""): s for s in root.iterfind(f"{{{WSDL}}}types/{{{XSD}}}schema")}


def components(root: etree._Element) -> dict[Key, etree._Element]:
    found: dict[Key, etree._Element] = {}
    for namespace, schema in schemas(root).items():
        for node in schema:
            if not isinstance(node.tag, str) or node.get("name") is None:
                continue
            key = (namespace, etree.QName(node).localname, node.get("name", ""))
            assert key not in found, f"{key} is declared twice"
            found[key] = node
    return found


def differences(expected_root: etree._Element, actual_root: etree._Element) -> list[str]:
    """Every global declaration of ``expected_root`` that ``actual_root`` lacks or declares
    otherwise, each with the path of its first difference; in the order of ``expected_root``."""
    expected, actual = components(expected_root), components(actual_root)
    assert {kind for _, kind, _ in expected} <= set(COMPONENTS)
    found = []
    for key, node in expected.items():
        namespace, kind, name = key
        path = f"{{{namespace}}}"
        if key not in actual:
            found.append(f"{path}{kind}[{name}]: missing in ours")
            continue
        difference = first_difference(reduce(node), reduce(actual[key]), path)
        if difference is not None:
            found.append(difference)
    return found


# --- Ours against the real ones --------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_real_type_and_element_is_declared_alike_in_ours(service: str) -> None:
    found = differences(real(service), ours(service, LOCATION))
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("service", SERVICES)
def test_the_real_declarations_are_all_compared(service: str) -> None:
    """The walk covers the declarations compared, so that a future change to it cannot skip one."""
    keys = set(components(real(service)))
    assert (S86, "complexType", "SoExtraInfo") in keys
    assert (S86, "element", "Succeeded") in keys
    assert (ns.ARRAYS, "complexType", "ArrayOfstring") in keys
    assert (ns.SERIALIZATION, "simpleType", "duration") in keys
    assert (ns.SERIALIZATION, "attribute", "FactoryType") in keys
    if service == "SoPrincipal":
        assert {(S86, "simpleType", "ETableRight"), (S86, "simpleType", "EFieldRight")} <= keys
        assert (S86, "complexType", "FieldPropertyDictionary") in keys
    assert len(keys) == {"Appointment": 49, "SoPrincipal": 80}[service]


@pytest.mark.parametrize("service", SERVICES)
def test_schema_settings_and_imports_are_the_real_ones(service: str) -> None:
    """Each schema qualifies as the real one does and imports what the real one imports (of the
    namespaces the document has a schema for: the real SoPrincipal.svc also imports a trimmed one)."""
    real_schemas, our_schemas = schemas(real(service)), schemas(ours(service, LOCATION))
    for namespace, real_schema in real_schemas.items():
        our_schema = our_schemas[namespace]
        for setting in ("elementFormDefault", "attributeFormDefault"):
            assert our_schema.get(setting, "unqualified") == real_schema.get(setting, "unqualified"), (
                namespace,
                setting,
            )

        def imports(schema: etree._Element) -> set[str]:
            return {i.get("namespace", "") for i in schema.iterfind(f"{{{XSD}}}import")} & set(real_schemas)

        assert imports(our_schema) >= imports(real_schema), namespace


def test_the_dictionary_entries_are_anonymous_and_the_masks_lists_of_flags() -> None:
    """The two differences from NetServer's schema, stated on their own."""
    root = ours("SoPrincipal", LOCATION)
    declared = components(root)
    for entry in (
        "SoExceptionInfoParametersKeyValuePair",
        "ExtraInfoNameValuePair",
        "FieldPropertyDictionaryKeyValuePair",
    ):
        assert (S86, "complexType", entry) not in declared
        assert (S86, "element", entry) not in declared
        (element,) = [e for e in root.iter(f"{{{XSD}}}element") if e.get("name") == entry]
        assert element.get("type") is None
        assert element.find(f"{{{XSD}}}complexType") is not None
    for rights, right in (("TableRight", "ETableRight"), ("FieldRight", "EFieldRight")):
        mask = declared[(S86, "complexType", rights)].find(f"{{{XSD}}}sequence/{{{XSD}}}element")
        assert mask is not None and mask.get("name") == "Mask"
        assert reduce(mask).attributes["type"] == f"{{{S86}}}{right}"
        item = declared[(S86, "simpleType", right)].find(
            f"{{{XSD}}}list/{{{XSD}}}simpleType/{{{XSD}}}restriction"
        )
        assert item is not None and reduce(item).attributes["base"] == f"{{{XSD}}}string"


def xml_schema(root: etree._Element, directory: Path) -> etree.XMLSchema:
    """The Services86 schema of a WSDL, compiled by lxml with the schemas it imports."""
    files = {namespace: directory / f"schema{i}.xsd" for i, namespace in enumerate(schemas(root))}
    for namespace, schema in schemas(root).items():
        # A new root carries every namespace in scope: QNames in attribute values need them.
        # (lxml's stubs type nsmap without the default namespace's None key; the cast keeps it.)
        nsmap = cast("dict[str, str]", {**schema.nsmap})
        alone = etree.Element(
            schema.tag, attrib={str(k): str(v) for k, v in schema.attrib.items()}, nsmap=nsmap
        )
        alone.extend(copy.deepcopy(list(schema)))
        for imported in alone.iterfind(f"{{{XSD}}}import"):
            imported.set("schemaLocation", files[imported.get("namespace", "")].as_uri())
        files[namespace].write_bytes(etree.tostring(alone))
    return etree.XMLSchema(etree.parse(str(files[S86])))


@pytest.mark.parametrize("service", SERVICES)
def test_our_schemas_are_valid_and_the_emulators_answers_conform(service: str, tmp_path: Path) -> None:
    """The edited schemas still compile, and what the emulator writes into the reshaped types
    (the ``ExceptionInfo`` of a refusal, with its dictionary of parameters) is valid under them."""
    schema = xml_schema(ours(service, LOCATION), tmp_path)
    error = SoSentryException("No write access", parameters={"appointment_id": "7", "table": "appointment"})
    info = exception_info(Failed.of(error))
    assert schema.validate(info), schema.error_log
    assert info.find(f"{{{S86}}}Parameters/{{{S86}}}SoExceptionInfoParametersKeyValuePair") is not None
    info.append(etree.Element(f"{{{S86}}}Surplus"))
    assert not schema.validate(info)


def test_a_mask_is_a_list_of_flag_names(tmp_path: Path) -> None:
    schema = xml_schema(ours("SoPrincipal", LOCATION), tmp_path)

    def table_right(mask: str) -> etree._Element:
        right = etree.Element(f"{{{S86}}}TableRight")
        etree.SubElement(right, f"{{{S86}}}Mask").text = mask
        return right

    assert schema.validate(table_right("Select Update RestrictedUpdate")), schema.error_log
    assert schema.validate(table_right(""))
    assert not schema.validate(table_right("Select Read"))


# --- The comparison fails on drift -----------------------------------------------------------


def _find(root: etree._Element, xpath: str) -> etree._Element:
    found = root.xpath(xpath, namespaces={"xs": XSD})
    assert isinstance(found, list) and len(found) == 1, xpath
    node = found[0]
    assert isinstance(node, etree._Element)
    return node


def _unset(attribute: str) -> Callable[[etree._Element], None]:
    def unset(node: etree._Element) -> None:
        node.attrib.pop(attribute)

    return unset


def _set(attribute: str, value: str) -> Callable[[etree._Element], None]:
    return lambda node: node.set(attribute, value)


def _name_the_inline_type(node: etree._Element) -> None:
    node.remove(node[0])
    node.set("type", "tns:ExtraInfoNameValuePair")


def _swap_with_next(node: etree._Element) -> None:
    following = node.getnext()
    assert following is not None
    following.addnext(node)


def _unlist(node: etree._Element) -> None:
    restriction = _find(node, "xs:list/xs:simpleType/xs:restriction")
    node.remove(node[0])
    node.append(restriction)


_S86_SCHEMA = f"//xs:schema[@targetNamespace='{S86}']"
DRIFTS = [
    pytest.param(
        f"{_S86_SCHEMA}/xs:element[@name='SoExtraInfo']",
        _unset("nillable"),
        "element[SoExtraInfo]: @nillable is None in ours, 'true'",
        id="global-element-not-nillable",
    ),
    pytest.param(
        "//xs:element[@name='ExtraInfoNameValuePair']",
        _name_the_inline_type,
        "complexType[SoExtraInfo]/sequence/element[ExtraInfoNameValuePair]: @type is '{",
        id="anonymous-entry-type-named",
    ),
    pytest.param(
        "//xs:simpleType[@name='ETableRight']",
        _unlist,
        "simpleType[ETableRight]/list: ours has {http://www.w3.org/2001/XMLSchema}restriction",
        id="list-of-flags-turned-enum",
    ),
    pytest.param(
        "//xs:complexType[@name='SoPrincipalCarrier']//xs:element[@name='Associate']",
        _swap_with_next,
        "complexType[SoPrincipalCarrier]/sequence/element[Associate]: @name is 'AssociateId' in ours",
        id="members-reordered",
    ),
    pytest.param(
        "//xs:complexType[@name='ArrayOfint']//xs:element",
        _set("maxOccurs", "1"),
        "complexType[ArrayOfint]/sequence/element[int]: @maxOccurs is None in ours, 'unbounded'",
        id="max-occurs",
    ),
    pytest.param(
        "//xs:complexType[@name='SoTimeZone']//xs:element[@name='SoTimeZoneId']",
        _set("minOccurs", "1"),
        "element[SoTimeZoneId]: @minOccurs is None in ours, '0'",
        id="min-occurs",
    ),
    pytest.param(
        "//xs:simpleType[@name='EjUserStatus']//xs:enumeration[@value='StatusSpm']",
        lambda node: node.getparent().remove(node),
        "restriction/enumeration[StatusSpm]: @value is 'StatusSystem' in ours",
        id="enumeration-value-dropped",
    ),
    pytest.param(
        "//xs:enumeration[@value='StatusSystem']//*[local-name()='EnumerationValue']",
        lambda node: setattr(node, "text", "128"),
        "enumeration[StatusSystem]/annotation/appinfo/EnumerationValue: text is '128' in ours, '127'",
        id="enumeration-number",
    ),
    pytest.param(
        "//xs:complexType[@name='FieldPropertyDictionary']/xs:annotation",
        lambda node: node.getparent().remove(node),
        "complexType[FieldPropertyDictionary]/annotation: ours has {http://www.w3.org/2001/XMLSchema}sequence",
        id="dictionary-appinfo-dropped",
    ),
    pytest.param(
        "//xs:complexType[@name='GrantedModuleLicense']//xs:extension",
        _set("base", "tns:SoPrincipalCarrier"),
        "complexContent/extension: @base is '{http://www.superoffice.net/ws/crm/NetServer/Services86}"
        "SoPrincipalCarrier' in ours",
        id="base-type",
    ),
    pytest.param(
        f"{_S86_SCHEMA}/xs:element[@name='RoleType']",
        lambda node: node.getparent().remove(node),
        "element[RoleType]: missing in ours",
        id="global-element-missing",
    ),
    pytest.param(
        "//xs:simpleType[@name='duration']//xs:pattern",
        _set("value", ".*"),
        "simpleType[duration]/restriction/pattern: @value is '.*' in ours",
        id="facet",
    ),
]


@pytest.mark.parametrize(("xpath", "drift", "reported"), DRIFTS)
def test_any_drift_is_reported_with_its_path(
    xpath: str, drift: Callable[[etree._Element], None], reported: str
) -> None:
    """The real document against a copy of itself with one change: the change is found."""
    expected = real("SoPrincipal")
    assert differences(expected, expected) == []
    actual = copy.deepcopy(expected)
    drift(_find(actual, xpath))
    found = differences(expected, actual)
    assert len(found) == 1, found
    assert reported in found[0], found[0]


# --- What zeep reads -------------------------------------------------------------------------


def _signatures(path: Path) -> Iterator[tuple[tuple[str, str], str]]:
    """zeep's signature of every global element and type, with its nsN prefixes written out."""
    zeep = pytest.importorskip("zeep")
    types = zeep.Client(str(path)).wsdl.types
    prefixes = types.prefix_map

    def plain(signature: str) -> str:
        return re.sub(r"\b(ns\d+):", lambda m: f"{{{prefixes[m.group(1)]}}}", signature)

    root = etree.parse(str(path)).getroot()
    for namespace, kind, name in components(root):
        qname = f"{{{namespace}}}{name}"
        if kind == "element":
            element: Any = types.get_element(qname)
            yield ("element", qname), plain(f"{element.nillable} {element.signature(schema=types)}")
        elif kind in ("complexType", "simpleType"):
            yield ("type", qname), plain(types.get_type(qname).signature(schema=types))


@pytest.mark.parametrize("service", SERVICES)
def test_zeep_reads_every_real_type_and_element_alike(service: str, tmp_path: Path) -> None:
    path = tmp_path / f"{service}.wsdl"
    path.write_bytes(build_wsdl(service, "http://127.0.0.1:8080/"))  # type: ignore[arg-type]
    our_signatures = dict(_signatures(path))
    real_signatures = list(_signatures(REAL[service]))
    assert real_signatures
    for key, signature in real_signatures:
        assert our_signatures.get(key) == signature, key
