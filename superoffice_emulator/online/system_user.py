"""SuperOffice's system-user exchange (``PartnerSystemUser``) over werkzeug: REST and SOAP 1.1.

Paths as SuperOffice serves them (in the spellings its samples use: ``Login`` or ``login``,
``services`` or ``Services``); not under a tenant, whose name is a parameter::

    POST /Login/api/PartnerSystemUser/Authenticate        JSON {SignedSystemToken, ApplicationToken,
                                                          ContextIdentifier, ReturnTokenType}
    POST /login/services/PartnerSystemUserService.svc     SOAP 1.1: headers ApplicationToken and
                                                          ContextIdentifier, body AuthenticationRequest
    GET  /login/services/PartnerSystemUserService.svc?wsdl

Both answer ``{IsSuccessful, Token, ErrorMessage}``: the token a JWT (RS256, the sign-in's key, issuer
``SuperOffice AS``, audience ``spn:<serial>``) whose ``.../identity/ticket`` claim holds a new ``7T:``
ticket of the consent's system user, stored as a login's ticket is. A refusal is HTTP 200 with
``IsSuccessful`` false and an ``ErrorMessage`` naming SuperOffice's code (``InvalidSignature (7): ...``);
it mints nothing. A request that cannot be read is HTTP 400 (REST) or a SOAP Fault. Every exchange of
a tenant is journaled (tenant, application, outcome), never the tokens or the secret. The rules are
:mod:`superoffice_emulator.domain.system_users`'.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from lxml import etree
from werkzeug.exceptions import MethodNotAllowed, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from superoffice_emulator.calls.journal import record_event
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.domain import sessions
from superoffice_emulator.domain.online import CLAIMS, Application
from superoffice_emulator.domain.sentry import User
from superoffice_emulator.domain.system_users import (
    ISSUER,
    TICKET_CLAIM,
    Refusal,
    SystemUserRefused,
    authenticate,
    parse_signed_token,
)
from superoffice_emulator.domain.values import is_tenant_name
from superoffice_emulator.online import signin
from superoffice_emulator.server import bodies
from superoffice_emulator.server.web import json_response, response_of, text_response
from superoffice_emulator.soap import ns, replies
from superoffice_emulator.soap.documents import LOCATION_PLACEHOLDER
from superoffice_emulator.soap.envelope import safe_parser
from superoffice_emulator.storage.database import TenantLimitReached
from superoffice_emulator.storage.keys import SigningKey

log = logging.getLogger("superoffice_emulator.online")

NAMESPACE = "http://www.superoffice.com/superid/partnersystemuser/0.1"
ACTION = NAMESPACE + "/IPartnerSystemUserService/Authenticate"
TOKEN_TYPES = ("Jwt", "Saml")
EVENT = "SystemUser"
"""The journal's name of an exchange (an event, like a sign-in: :func:`record_event`)."""
WSDL = Path(__file__).resolve().parent / "PartnerSystemUserService.wsdl"

_NS = "{" + NAMESPACE + "}"
_ENVELOPE = "{" + ns.SOAP11_ENV + "}"


@dataclass(frozen=True)
class Asked:
    """An exchange's parameters, from either wire."""

    signed_token: str
    application_token: str
    context: str
    token_type: str
    """``Jwt`` or ``Saml``."""


@dataclass(frozen=True)
class Answer:
    successful: bool
    token: str | None = None
    error: str | None = None


class Unreadable(Exception):
    """A request that cannot be read (HTTP 400, or a SOAP Fault); nothing was looked at."""

    def __init__(self, message: str, status: int = 400, wcf_code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.wcf_code = message, status, wcf_code


# -- the exchange, for either wire ----------------------------------------------------------------
def exchange(runtime: Runtime, request: Request, asked: Asked, wire: str) -> Answer:
    """Check ``asked`` and mint a ticket and its JWT, or refuse; journaled in the tenant."""
    if asked.token_type != "Jwt":
        return Answer(False, error="ReturnTokenType Saml is not supported by the emulator; ask for Jwt.")
    tenant = asked.context.strip()
    if not is_tenant_name(tenant):
        return Answer(
            False, error=str(SystemUserRefused(Refusal.Denied, "The ContextIdentifier is not a tenant's."))
        )
    now = runtime.clock()
    try:
        signed = parse_signed_token(asked.signed_token)
    except SystemUserRefused as exc:
        problem: SystemUserRefused | None = exc
        create = False
    else:
        problem = None
        create = runtime.database.fixtures.has_system_token(signed.system_token)
    key = runtime.database.signing_keys.current() if problem is None else None  # its own transaction, first
    try:
        with runtime.database.transaction(tenant, create=create) as store:
            client_id = user_name = None
            try:
                if problem is not None:
                    raise problem
                application, user = authenticate(store, signed, asked.application_token.strip(), now)
                client_id, user_name = application.client_id, user.name
                ticket = sessions.new_ticket()
                store.add_ticket(ticket, user.associate_id, now)
                assert key is not None
                answer = Answer(True, _jwt(key, request, tenant, application, user, ticket, now))
                outcome, refusal, detail = "granted", None, f"a system user ticket over {wire}"
            except SystemUserRefused as exc:
                client_id = exc.client_id
                answer = Answer(False, error=str(exc))
                outcome, refusal, detail = "refused", exc.code.name, str(exc)
            record_event(
                runtime,
                store,
                EVENT,
                outcome,
                user=user_name,
                application=client_id or "(no application)",
                detail=detail,
                error=refusal,
            )
    except TenantLimitReached as exc:
        return Answer(False, error=str(SystemUserRefused(Refusal.Denied, str(exc))))
    return answer


def _jwt(
    key: SigningKey,
    request: Request,
    tenant: str,
    application: Application,
    user: User,
    ticket: str,
    now: datetime,
) -> str:
    """The answer's JWT: the id_token's SuperOffice claims, issued by ``SuperOffice AS`` to
    ``spn:<serial>``, with the ticket."""
    import jwt  # here: PyJWT loads cryptography, which serving a call never needs

    issued = int(now.replace(tzinfo=UTC).timestamp())
    claims = signin.id_claims(signin.public_root(request), tenant, application, user, None, issued)
    claims["iss"] = ISSUER
    claims["aud"] = "spn:" + claims[CLAIMS + "serial"]
    claims[TICKET_CLAIM] = ticket
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


# -- REST ---------------------------------------------------------------------------------------
def rest(runtime: Runtime, request: Request) -> Response:
    """``POST /Login/api/PartnerSystemUser/Authenticate``: JSON in, JSON out."""
    if request.method != "POST":
        raise MethodNotAllowed(valid_methods=("POST",))
    try:
        asked = _rest_request(_body(request))
    except Unreadable as exc:
        return _json(Answer(False, error=exc.message), exc.status)
    return _json(exchange(runtime, request, asked, "rest"))


def _json(answer: Answer, status: int = 200) -> Response:
    return json_response(
        {"IsSuccessful": answer.successful, "Token": answer.token, "ErrorMessage": answer.error}, status
    )


def _body(request: Request) -> bytes:
    try:
        return bodies.read_body(request)
    except RequestEntityTooLarge:
        raise Unreadable(
            f"The request body is larger than {request.max_content_length} bytes (max_body_bytes).", 413
        ) from None


_REST_EXAMPLE = (
    '{"SignedSystemToken": "...", "ApplicationToken": "...", "ContextIdentifier": "Cust12345", '
    '"ReturnTokenType": "JWT"}'
)


def _rest_request(body: bytes) -> Asked:
    """The JSON body's parameters, their names in any case (as NetServer's JSON reader takes them)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise Unreadable(f"The request body is not JSON; send {_REST_EXAMPLE}.") from None
    if not isinstance(value, dict):
        raise Unreadable(f"The request body must be a JSON object: {_REST_EXAMPLE}.")
    found = {str(name).lower(): item for name, item in value.items()}
    texts: dict[str, str] = {}
    for name in ("SignedSystemToken", "ApplicationToken", "ContextIdentifier"):
        item = found.get(name.lower())
        if item is not None and not isinstance(item, str):
            raise Unreadable(f"{name} must be a string.")
        texts[name] = item or ""
    kind = found.get("returntokentype")
    return Asked(
        texts["SignedSystemToken"], texts["ApplicationToken"], texts["ContextIdentifier"], _token_type(kind)
    )


def _token_type(value: object) -> str:
    """``Jwt`` (also when absent: .NET's default) or ``Saml``, by name in any case or by number."""
    if value is None or value == "":
        return "Jwt"
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(TOKEN_TYPES):
        return TOKEN_TYPES[value]
    if isinstance(value, str):
        for name in TOKEN_TYPES:
            if value.strip().lower() == name.lower():
                return name
    raise Unreadable(
        f"ReturnTokenType {str(value)[:40]!r} is not one of Jwt, Saml.", wcf_code="DeserializationFailed"
    )


# -- SOAP ---------------------------------------------------------------------------------------
def soap(runtime: Runtime, request: Request) -> Response:
    """``PartnerSystemUserService.svc``: the WSDL on ``GET ?wsdl``, the exchange on ``POST``."""
    if request.method in ("GET", "HEAD"):
        if any(name.lower() in ("wsdl", "singlewsdl") for name in request.args):
            return Response(wsdl(request.base_url), content_type="text/xml; charset=utf-8")
        return text_response(200, f"PartnerSystemUserService: its WSDL is at {request.base_url}?wsdl")
    if request.method != "POST":
        raise MethodNotAllowed(valid_methods=("GET", "POST"))
    try:
        asked = _soap_request(request)
    except Unreadable as exc:
        return response_of(replies.client_fault("1.1", exc.message, exc.status, exc.wcf_code))
    answer = exchange(runtime, request, asked, "soap")
    return Response(_soap_answer(answer), content_type=ns.SOAP11_CONTENT_TYPE)


def _soap_request(request: Request) -> Asked:
    if request.mimetype != "text/xml":  # basicHttpBinding: SOAP 1.1 only, as WCF answers it
        raise Unreadable(
            f"Cannot process the message because the content type {request.content_type!r} was not the "
            f"expected type '{ns.SOAP11_CONTENT_TYPE}'.",
            415,
        )
    action = request.headers.get("SOAPAction", "").strip().strip('"')
    if action != ACTION:
        raise Unreadable(
            f"The message with Action {action!r} cannot be processed at the receiver: "
            f"PartnerSystemUserService answers {ACTION}.",
            500,
            "ActionNotSupported",
        )
    body = _body(request)
    try:
        root = etree.fromstring(body, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise Unreadable(f"The request is not well-formed XML: {exc.msg}") from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise Unreadable("DTDs are not allowed in SOAP messages.")
    if root.tag != _ENVELOPE + "Envelope":
        raise Unreadable(f"The root element must be a SOAP 1.1 Envelope ({ns.SOAP11_ENV}).")
    header = root.find(_ENVELOPE + "Header")
    operation = root.find(f"{_ENVELOPE}Body/{_NS}AuthenticationRequest")
    if operation is None:
        raise Unreadable(
            f"The Body must hold AuthenticationRequest in {NAMESPACE}.", 500, "DeserializationFailed"
        )

    def text(parent: etree._Element | None, name: str) -> str:
        element = None if parent is None else parent.find(_NS + name)
        return "" if element is None else element.text or ""

    kind = text(operation, "ReturnTokenType").strip()
    if kind and kind not in TOKEN_TYPES:
        raise Unreadable(
            f"The formatter threw an exception while trying to deserialize the message: ReturnTokenType "
            f"{kind[:40]!r} is not one of Jwt, Saml.",
            500,
            "DeserializationFailed",
        )
    return Asked(
        text(operation, "SignedSystemToken"),
        text(header, "ApplicationToken"),
        text(header, "ContextIdentifier"),
        kind or "Jwt",
    )


def _soap_answer(answer: Answer) -> bytes:
    """``AuthenticationResponse {IsSuccessful, Token, ErrorMessage}`` in a SOAP 1.1 envelope."""
    root = etree.Element(_ENVELOPE + "Envelope", nsmap={"s": ns.SOAP11_ENV})
    body = etree.SubElement(root, _ENVELOPE + "Body")
    default: Any = {None: NAMESPACE, "i": ns.XSI}  # lxml-stubs do not allow the None (default) prefix
    response = etree.SubElement(body, _NS + "AuthenticationResponse", nsmap=default)
    etree.SubElement(response, _NS + "IsSuccessful").text = "true" if answer.successful else "false"
    for name, value in (("Token", answer.token), ("ErrorMessage", answer.error)):
        element = etree.SubElement(response, _NS + name)
        if value is None:
            element.set("{" + ns.XSI + "}nil", "true")
        else:
            element.text = value
    return etree.tostring(root, encoding="utf-8")


@functools.cache
def _wsdl_parts() -> tuple[bytes, bytes]:
    head, placeholder, tail = WSDL.read_bytes().partition(quoteattr(LOCATION_PLACEHOLDER).encode())
    if not placeholder:
        raise RuntimeError(f"{WSDL} has no soap:address placeholder")
    return head, tail


def wsdl(location: str) -> bytes:
    """The service's WSDL, its ``soap:address`` at ``location``."""
    head, tail = _wsdl_parts()
    return head + quoteattr(location).encode() + tail


def view(runtime: Runtime, request: Request, args: Mapping[str, str]) -> Response:
    """The mounted view: the REST or the SOAP exchange by path."""
    if request.path.lower().endswith(".svc"):
        return soap(runtime, request)
    return rest(runtime, request)
