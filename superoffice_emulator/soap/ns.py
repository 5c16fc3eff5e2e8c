"""Namespace URIs and other wire constants of the Services86 contract, in one place."""

from __future__ import annotations

SERVICES86 = "http://www.superoffice.net/ws/crm/NetServer/Services86"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
SERIALIZATION = "http://schemas.microsoft.com/2003/10/Serialization/"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSA = "http://www.w3.org/2005/08/addressing"
WCF_DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
"""WCF's dispatcher faults: ``a:DeserializationFailed``, ``a:ActionNotSupported``."""

SOAP11_CONTENT_TYPE = "text/xml; charset=utf-8"
SOAP12_CONTENT_TYPE = "application/soap+xml; charset=utf-8"

SERVICE_PATH_PREFIX = "/Remote/Services86/"


def soap_action(service: str, operation: str) -> str:
    """The soapAction of ``operation`` on ``service``, e.g. ``.../Appointment/SetActivityStatus``."""
    return f"{SERVICES86}/{service}/{operation}"
