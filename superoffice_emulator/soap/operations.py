"""The emulated operations as SOAP has them: each one's body read into arguments, its result written.

Per operation, a reader (the body element → the :mod:`superoffice_emulator.calls.pipeline` arguments; a
value WCF would not deserialize is a :class:`ClientFault`) and a writer (the result → the response
element, ``None`` for an empty one). What an operation does is
:mod:`superoffice_emulator.calls.pipeline`' business.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lxml import etree

from superoffice_emulator.calls import pipeline
from superoffice_emulator.domain import activities
from superoffice_emulator.domain.errors import shown
from superoffice_emulator.domain.sentry import User
from superoffice_emulator.soap import ns
from superoffice_emulator.soap.contract import parameter_error
from superoffice_emulator.soap.envelope import SoapRequest, is_nil
from superoffice_emulator.soap.replies import empty_element

_S86 = "{" + ns.SERVICES86 + "}"
_ITEM = "{" + ns.ARRAYS + "}string"


def _read_status(parameters: Mapping[str, etree._Element]) -> activities.ActivityStatus:
    element = parameters.get("ActivityStatus")
    if element is None:
        return activities.ActivityStatus.Unknown  # the .NET default of a missing enum
    text = (element.text or "").strip()
    try:
        return activities.ActivityStatus[text]
    except KeyError:
        allowed = ", ".join(s.name for s in activities.ActivityStatus)
        raise parameter_error(
            "SetActivityStatus",
            "ActivityStatus",
            f"The value {shown(text)} of ActivityStatus is not valid; it must be one of {allowed}.",
        ) from None


def _read_identifiers(parameters: Mapping[str, etree._Element]) -> list[str | None]:
    array = parameters.get("ActivityIdentifier")
    if array is None or is_nil(array):
        return []
    return [None if is_nil(item) else (item.text or "") for item in array.iterchildren(_ITEM)]


def read_set_activity_status(request: SoapRequest) -> pipeline.SetActivityStatus:
    parameters = request.parameters
    return pipeline.SetActivityStatus(_read_identifiers(parameters), _read_status(parameters))


def write_nothing(result: pipeline.Result) -> etree._Element | None:
    return None


def _add(parent: etree._Element, name: str, text: object) -> etree._Element:
    element = etree.SubElement(parent, _S86 + name)
    element.text = str(text).lower() if isinstance(text, bool) else str(text)
    return element


def _nil(parent: etree._Element, name: str) -> None:
    etree.SubElement(parent, _S86 + name).set("{" + ns.XSI + "}nil", "true")


def authenticate_response(user: User | None, ticket: str | None) -> etree._Element:
    """``AuthenticateResponse`` with the principal and ticket, or nil ones when login failed."""
    response = empty_element("AuthenticateResponse", i=ns.XSI)
    if user is None or ticket is None:
        _nil(response, "Response")
        _nil(response, "Credentials")
        _add(response, "AuthenticationSucceeded", False)
        return response
    carrier = etree.SubElement(response, _S86 + "Response")
    for name, value in (
        ("UserType", user.user_type),
        ("Associate", user.name),
        ("AssociateId", user.associate_id),
        ("IsPerson", True),
        ("PersonId", user.person_id),
        ("ContactId", user.contact_id),
        ("GroupId", user.group_id),
        ("RoleId", user.role_id),
        ("RoleName", user.role_name),
        ("FullName", user.full_name),
        ("EMailAddress", user.email),
    ):
        _add(carrier, name, value)
    _add(etree.SubElement(response, _S86 + "Credentials"), "Ticket", ticket)
    _add(response, "AuthenticationSucceeded", True)
    return response


def read_authenticate_username_password(request: SoapRequest) -> pipeline.AuthenticateUsernamePassword:
    name_element, password_element = request.parameters.get("UserName"), request.parameters.get("Password")
    name = None if name_element is None else name_element.text
    password = None if password_element is None else password_element.text
    return pipeline.AuthenticateUsernamePassword(name, password)


def write_authenticate_response(result: pipeline.Result) -> etree._Element:
    if result is None:
        return authenticate_response(None, None)
    return authenticate_response(result.user, result.ticket)


@dataclass(frozen=True)
class Operation:
    """One operation on the SOAP wire: its body reader, its response writer and the response's name."""

    read: Callable[[SoapRequest], pipeline.Arguments]
    write: Callable[[pipeline.Result], etree._Element | None]
    """The response element; ``None`` for the operation's empty response."""
    response_name: str


_OPERATIONS: dict[type[pipeline.Arguments], Operation] = {
    pipeline.SetActivityStatus: Operation(
        read_set_activity_status, write_nothing, "SetActivityStatusResponse"
    ),
    pipeline.AuthenticateUsernamePassword: Operation(
        read_authenticate_username_password, write_authenticate_response, "AuthenticateResponse"
    ),
}

SERVICES: dict[str, dict[str, Operation]] = {
    service: {name: _OPERATIONS[arguments] for name, arguments in operations.items()}
    for service, operations in pipeline.SERVICES.items()
}
"""Service name → operation name → how SOAP reads and writes it, for every operation of
:data:`superoffice_emulator.calls.pipeline.SERVICES` (a missing one fails at import)."""
