"""The floor: the least Python can do per call (lxml parse, one UPDATE and commit, canned answer bytes)."""

import os
import sqlite3
import threading

from lxml import etree

DB = os.environ.get("PEER_DB", "/tmp/peer.db")
ARR = "{http://schemas.microsoft.com/2003/10/Serialization/Arrays}string"
NS = "{http://www.superoffice.net/ws/crm/NetServer/Services86}"
RESP = (
    b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<s:Body><SetActivityStatusResponse xmlns="http://www.superoffice.net/ws/crm/NetServer/Services86"/></s:Body></s:Envelope>'
)
_local = threading.local()
parser = etree.XMLParser(resolve_entities=False, no_network=True)


def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    root = etree.fromstring(body, parser)
    ids = [e.text for e in root.iter(ARR)]
    status = next(root.iter(NS + "ActivityStatus")).text
    c = getattr(_local, "c", None)
    if c is None:
        c = _local.c = sqlite3.connect(DB)
    with c:
        for ident in ids:
            kind, _, num = ident.partition("=")
            c.execute(
                f"update {kind[:-3]} set status=?, updated_count=updated_count+1 where id=?",
                (status, int(num)),
            )
    start_response(
        "200 OK",
        [("Content-Type", "application/soap+xml; charset=utf-8"), ("Content-Length", str(len(RESP)))],
    )
    return [RESP]


async def rsgi(scope, proto):
    """The same floor on granian's RSGI interface (the body is awaited, not read by a blocked thread)."""
    if scope.proto != "http":
        return
    body = await proto()
    root = etree.fromstring(body, parser)
    ids = [e.text for e in root.iter(ARR)]
    status = next(root.iter(NS + "ActivityStatus")).text
    c = getattr(_local, "c", None)
    if c is None:
        c = _local.c = sqlite3.connect(DB)
    with c:
        for ident in ids:
            kind, _, num = ident.partition("=")
            c.execute(
                f"update {kind[:-3]} set status=?, updated_count=updated_count+1 where id=?",
                (status, int(num)),
            )
    proto.response_bytes(200, [("content-type", "application/soap+xml; charset=utf-8")], RESP)
