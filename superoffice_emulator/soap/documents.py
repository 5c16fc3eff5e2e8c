"""The WSDL documents the emulator serves: spyne's output, written ahead of time, read at run time.

:mod:`contract.services86` declares the Services86 contract with spyne and generates the documents;
``python -m contract`` writes them to ``superoffice_emulator/soap/wsdl/`` with the
``soap:address`` location left as :data:`LOCATION_PLACEHOLDER`, and ``tests/test_wsdl.py`` proves that
the files are what spyne generates from the declaration now. Serving the files keeps spyne out of the
running emulator: importing it costs about a third of a second of a cold start, and its memory.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import quoteattr

ServiceName = Literal["Appointment", "SoPrincipal"]
SERVICE_NAMES: tuple[ServiceName, ...] = ("Appointment", "SoPrincipal")

LOCATION_PLACEHOLDER = "urn:superoffice-emulator:soap-address-location"
"""Stands for the ``soap:address`` location in the written documents; never seen by a client."""

DOCUMENTS = Path(__file__).resolve().parent / "wsdl"


def document_path(service: ServiceName) -> Path:
    """Where the document of ``service`` is written, e.g.
    ``superoffice_emulator/soap/wsdl/Appointment.wsdl``."""
    if service not in SERVICE_NAMES:
        raise ValueError(f"unknown service {service!r}; known: {', '.join(SERVICE_NAMES)}")
    return DOCUMENTS / f"{service}.wsdl"


@functools.cache
def _parts(service: ServiceName) -> tuple[bytes, bytes]:
    """The document of ``service`` split around its ``soap:address`` location (read once)."""
    path = document_path(service)
    head, placeholder, tail = path.read_bytes().partition(quoteattr(LOCATION_PLACEHOLDER).encode())
    if not placeholder:
        raise RuntimeError(f"{path} has no soap:address placeholder; run python -m contract")
    return head, tail


def build_wsdl(service: ServiceName, location: str) -> bytes:
    """The WSDL of ``service`` (``Appointment`` or ``SoPrincipal``), served at ``location``.

    ``location`` is the full endpoint URL, e.g.
    ``http://127.0.0.1:8080/Cust1/Remote/Services86/Appointment.svc``; it becomes the
    ``soap:address`` location.
    """
    head, tail = _parts(service)
    return head + quoteattr(location).encode() + tail
