"""The WSDL documents: the real, trimmed ones from NetServer (``tests/contract/``) and ours, and the
namespaces to read them with."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from superoffice_emulator.soap.documents import build_wsdl

CONTRACT = Path(__file__).parents[1] / "contract"
REAL = {
    "Appointment": CONTRACT / "Appointment-SetActivityStatus.wsdl",
    "SoPrincipal": CONTRACT / "SoPrincipal-Authenticate.wsdl",
}
REAL_LOCATION = {
    "Appointment": "http://127.0.0.1:8080/Remote/Services86/Appointment.svc",
    "SoPrincipal": "http://127.0.0.1:8080/Remote/Services86/SoPrincipal.svc",
}
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
XSD = "http://www.w3.org/2001/XMLSchema"
WSAW = "http://www.w3.org/2006/05/addressing/wsdl"
NSMAP = {"wsdl": WSDL, "soap": SOAP, "xs": XSD, "wsaw": WSAW}

SERVICES = ["Appointment", "SoPrincipal"]


def ours(service: str, location: str | None = None) -> etree._Element:
    document = build_wsdl(service, location or REAL_LOCATION[service])  # type: ignore[arg-type]
    return etree.fromstring(document)


def real(service: str) -> etree._Element:
    return etree.parse(str(REAL[service])).getroot()
