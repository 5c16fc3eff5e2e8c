"""SOAP as a client writes it and reads it back: the endpoints, the seed's tickets and token, the
request envelopes, the headers, and ``Answer``, an answer taken apart.

The post helpers go through a werkzeug ``Client`` (the app in-process, no socket):

- ``post``: any body, the raw ``TestResponse``;
- ``call``: any body, the ``Answer``;
- ``set_status``: a SetActivityStatus written by :func:`envelope`, the ``Answer``;
- ``login``: an AuthenticateUsernamePassword written by :func:`login_envelope`, the ``Answer``.

Each takes ``path`` (``APPOINTMENT`` or ``SOPRINCIPAL``, a tenant's prefix in front of them where
the test needs one; ``set_status`` and ``login`` put ``/{tenant}`` in front for ``tenant``) and
``headers`` (the operation's SOAP 1.1 headers when left out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lxml import etree
from werkzeug.test import Client, TestResponse

APPOINTMENT = "/Remote/Services86/Appointment.svc"
SOPRINCIPAL = "/Remote/Services86/SoPrincipal.svc"
DEMO_TICKET = "7T:1234abcxyzExample=="
SAM_TICKET = "7T:U2FtU2FsZXNyZXBUaWNrZXQ="
RITA_TICKET = "7T:Uml0YVJlYWRvbmx5VGlja2V0"
TOKEN = "1234567-1234-9876"

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
S86 = "{http://www.superoffice.net/ws/crm/NetServer/Services86}"

SOAP11_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"',
}
SOAP12_HEADERS = {"Content-Type": "application/soap+xml; charset=utf-8"}
LOGIN_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": "http://www.superoffice.net/ws/crm/NetServer/Services86/SoPrincipal/AuthenticateUsernamePassword",
}
"""AuthenticateUsernamePassword's SOAP 1.1 headers (its SOAPAction unquoted, as some clients send it)."""


def envelope(
    identifiers: Sequence[str | None] | None,
    status: str | None = "Completed",
    *,
    ticket: str | None = DEMO_TICKET,
    token: str | None = TOKEN,
    version: str = "1.1",
    headers_in_header: bool = True,
) -> bytes:
    """A SetActivityStatus request, written by hand as a client would send it."""
    env = SOAP11 if version == "1.1" else SOAP12
    head = ""
    if token is not None:
        head += f"<t:ApplicationToken>{token}</t:ApplicationToken>"
    if ticket is not None:
        head += f"<t:Credentials><t:Ticket>{ticket}</t:Ticket></t:Credentials>"
    if headers_in_header:
        head = f"<s:Header>{head}</s:Header>"
    array = ""
    if identifiers is not None:
        items = "".join(
            '<a:string xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>'
            if i is None
            else f"<a:string>{i}</a:string>"
            for i in identifiers
        )
        array = f"<t:ActivityIdentifier>{items}</t:ActivityIdentifier>"
    status_xml = "" if status is None else f"<t:ActivityStatus>{status}</t:ActivityStatus>"
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{env}" '
        'xmlns:a="http://schemas.microsoft.com/2003/10/Serialization/Arrays" '
        'xmlns:t="http://www.superoffice.net/ws/crm/NetServer/Services86">'
        f"{head}<s:Body><t:SetActivityStatus>{array}{status_xml}</t:SetActivityStatus></s:Body>"
        "</s:Envelope>"
    ).encode()


def login_envelope(user: str, password: str, token: str | None = TOKEN) -> bytes:
    """An AuthenticateUsernamePassword request in SOAP 1.1, the token (when given) in Header."""
    head = f"<t:ApplicationToken>{token}</t:ApplicationToken>" if token else ""
    return (
        f'<s:Envelope xmlns:s="{SOAP11}" '
        'xmlns:t="http://www.superoffice.net/ws/crm/NetServer/Services86">'
        f"<s:Header>{head}</s:Header><s:Body><t:AuthenticateUsernamePassword>"
        f"<t:UserName>{user}</t:UserName><t:Password>{password}</t:Password>"
        "</t:AuthenticateUsernamePassword></s:Body></s:Envelope>"
    ).encode()


class Answer:
    """A SOAP answer taken apart: ``Succeeded``, ``ExceptionInfo`` fields, Body, Fault."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.root = etree.fromstring(body)
        self.envelope_ns = etree.QName(self.root).namespace
        env = "{" + str(self.envelope_ns) + "}"
        succeeded = self.root.find(f"{env}Header/{S86}Succeeded")
        self.succeeded = None if succeeded is None else succeeded.text == "true"
        info = self.root.find(f"{env}Header/{S86}ExceptionInfo")
        if info is None:
            info = self.root.find(f".//{S86}ExceptionInfo")
        self.info: dict[str, str | None] = {}
        self.parameters: dict[str, str | None] = {}
        if info is not None:
            self.info = {etree.QName(c).localname: c.text for c in info if c.tag != f"{S86}Parameters"}
            for pair in info.iterfind(f"{S86}Parameters/{S86}SoExceptionInfoParametersKeyValuePair"):
                self.parameters[pair.findtext(f"{S86}Key") or ""] = pair.findtext(f"{S86}Value")
        body_element = self.root.find(f"{env}Body")
        assert body_element is not None
        self.body = body_element[0] if len(body_element) else None
        self.fault = self.root.find(f"{env}Body/{env}Fault")

    @classmethod
    def of(cls, response: TestResponse) -> Answer:
        """The answer in a werkzeug test response."""
        return cls(response.status_code, response.data)

    @property
    def fault_text(self) -> str:
        assert self.fault is not None, "expected a SOAP Fault"
        return " ".join(str(t).strip() for t in self.fault.itertext() if str(t).strip())


def post(
    client: Client, body: bytes, headers: Mapping[str, str] | None = None, *, path: str = APPOINTMENT
) -> TestResponse:
    """POST ``body`` to ``path``; ``headers`` None: SetActivityStatus's SOAP 1.1 headers."""
    return client.post(path, data=body, headers=dict(SOAP11_HEADERS if headers is None else headers))


def call(
    client: Client, body: bytes, headers: Mapping[str, str] | None = None, *, path: str = APPOINTMENT
) -> Answer:
    """:func:`post`, the answer taken apart."""
    return Answer.of(post(client, body, headers, path=path))


def set_status(
    client: Client,
    ids: Sequence[str | None],
    status: str = "Completed",
    *,
    ticket: str | None = DEMO_TICKET,
    token: str | None = TOKEN,
    tenant: str | None = None,
    path: str = APPOINTMENT,
) -> Answer:
    """SetActivityStatus of ``ids`` to ``status`` with ``ticket`` and ``token``, at ``path`` (of
    ``tenant``)."""
    return call(client, envelope(ids, status, ticket=ticket, token=token), path=_of(tenant, path))


def login(
    client: Client,
    user: str,
    password: str,
    *,
    token: str | None = TOKEN,
    tenant: str | None = None,
    path: str = SOPRINCIPAL,
) -> Answer:
    """AuthenticateUsernamePassword as ``user`` with ``password`` (and ``token``), at ``path`` (of
    ``tenant``)."""
    return call(client, login_envelope(user, password, token), LOGIN_HEADERS, path=_of(tenant, path))


def _of(tenant: str | None, path: str) -> str:
    return path if tenant is None else f"/{tenant}{path}"
