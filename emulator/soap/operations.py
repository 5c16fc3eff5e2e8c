"""The emulated operations: thin handlers that read the body, call the domain, and build the answer.

A handler gets a :class:`Call` and returns the operation's response element. It never catches
a domain exception: :mod:`emulator.soap.endpoint` translates them, in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from emulator import faults, ns
from emulator.domain import activities, sessions
from emulator.domain.errors import ClientFault, shown
from emulator.domain.sentry import User
from emulator.runtime import Runtime
from emulator.soap.envelope import SoapRequest, is_nil
from emulator.soap.replies import empty_element
from emulator.storage.database import JournalEntry
from emulator.storage.store import TenantStore

_S86 = "{" + ns.SERVICES86 + "}"
_ITEM = "{" + ns.ARRAYS + "}string"


@dataclass
class Call:
    """One SOAP call in flight, and what the journal will say of it."""

    runtime: Runtime
    tenant: str
    service: str
    request: SoapRequest
    now: datetime
    user: str | None = None
    identifiers: list[str | None] = field(default_factory=list)
    status: str | None = None
    outcome: str = "ok"
    started: float = field(default_factory=time.perf_counter)
    journaled: JournalEntry | None = None
    """The entry written in the call's own transaction, when it got that far."""

    def journal_entry(
        self, outcome: str | None = None, exception_type: str | None = None, message: str | None = None
    ) -> JournalEntry:
        return JournalEntry(
            at=self.now,
            service=self.service,
            operation=self.request.operation,
            user=self.user,
            identifiers=self.identifiers,
            status=self.status,
            outcome=outcome or self.outcome,
            exception_type=exception_type,
            message=message,
            duration_ms=(time.perf_counter() - self.started) * 1000,
        )

    @contextmanager
    def session(self) -> Iterator[tuple[TenantStore, User]]:
        """One transaction, after the application token and the ticket have been checked."""
        settings = self.runtime.settings
        self.inject_faults()
        with self.runtime.database.transaction(self.tenant) as store:
            sessions.check_application_token(
                store,
                self.request.header_text("ApplicationToken"),
                required=settings.mode == "online",
            )
            user = sessions.validate_ticket(
                store,
                self.request.header_text("Credentials", "Ticket"),
                self.now,
                self.runtime.ticket_lifetime,
            )
            self.user = user.name
            yield store, user
            # the journal entry commits with the change, or neither does
            self.journaled = self.journal_entry()
            self.runtime.database.record(store, self.journaled)

    def inject_faults(self) -> None:
        """Apply the tenant's injected fault for this call, if one matches."""
        rule = self.runtime.fault_plan(self.tenant).take(self.request.operation, self.identifiers)
        if rule is not None:
            self.outcome = f"injected {rule.kind}"
        faults.apply(rule, self.user)


Handler = Callable[[Call], etree._Element | None]
"""Returns the response element, or ``None`` for the operation's empty response."""


@dataclass(frozen=True)
class Operation:
    handler: Handler
    response_name: str


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    return next(parent.iterchildren(_S86 + name), None)  # a third of find()'s cost


def _read_status(body: etree._Element) -> activities.ActivityStatus:
    element = _child(body, "ActivityStatus")
    if element is None:
        return activities.ActivityStatus.Unknown  # the .NET default of a missing enum
    text = (element.text or "").strip()
    try:
        return activities.ActivityStatus[text]
    except KeyError:
        allowed = ", ".join(s.name for s in activities.ActivityStatus)
        raise ClientFault(
            f"The value {shown(text)} of ActivityStatus is not valid; it must be one of {allowed}."
        ) from None


def _read_identifiers(body: etree._Element) -> list[str | None]:
    array = _child(body, "ActivityIdentifier")
    if array is None or is_nil(array):
        return []
    return [None if is_nil(item) else (item.text or "") for item in array.iterchildren(_ITEM)]


def set_activity_status(call: Call) -> None:
    body = call.request.body
    identifiers = _read_identifiers(body)
    status = _read_status(body)
    call.identifiers, call.status = identifiers, status.name
    with call.session() as (store, user):
        outcome = activities.set_activity_status(
            store, user, identifiers, status, call.now, strict=call.runtime.settings.strict
        )
        call.outcome = "no change" if outcome.skipped_because else "ok"
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


def authenticate_username_password(call: Call) -> etree._Element:
    body = call.request.body
    name_element, password_element = _child(body, "UserName"), _child(body, "Password")
    name = None if name_element is None else name_element.text
    password = None if password_element is None else password_element.text
    call.user = name
    call.inject_faults()
    with call.runtime.database.transaction(call.tenant) as store:
        sessions.check_application_token(
            store,
            call.request.header_text("ApplicationToken"),
            required=call.runtime.settings.mode == "online",
        )
        result = sessions.login(store, name, password, call.now)
    if result is None:
        call.outcome = "refused"
        return authenticate_response(None, None)
    return authenticate_response(*result)


SERVICES: dict[str, dict[str, Operation]] = {
    "Appointment": {
        "SetActivityStatus": Operation(set_activity_status, "SetActivityStatusResponse"),
    },
    "SoPrincipal": {
        "AuthenticateUsernamePassword": Operation(authenticate_username_password, "AuthenticateResponse"),
    },
}
"""Service name → emulated operations. Everything else answers a fault that lists these."""
