"""The call pipeline: one emulated operation, from a wire's request to its reply, for every wire.

A wire (SOAP, REST) is a codec around :func:`run`::

    arrival = Arrival("soap", tenant, service, request_body=body)
    reply = pipeline.run(runtime, arrival, codec.decode, codec.encode)

:func:`run` decodes, verifies a password if the call carries one (no lock held), then runs one
transaction that takes an injected fault, checks the application token and the credentials, runs
the domain rule, encodes the reply and writes the journal row. A failure is translated into an
:data:`Outcome` here: nothing raised reaches a codec. ``docs/architecture.md`` follows one call
through the modules.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol, TypeVar

from superoffice_emulator.calls import faults
from superoffice_emulator.calls.faults import TransportKind
from superoffice_emulator.calls.journal import CallWire, JournalEntry
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.domain import activities, sessions
from superoffice_emulator.domain.errors import (
    ClientFault,
    ClientFaultKind,
    SoDbAccessException,
    SoException,
    SoSessionException,
)
from superoffice_emulator.domain.online import calling_application, check_running, is_access_token
from superoffice_emulator.domain.sentry import User
from superoffice_emulator.storage.database import StorageError, TenantLimitReached
from superoffice_emulator.storage.store import TenantStore

log = logging.getLogger("superoffice_emulator.calls.pipeline")

UNREAD = "(unreadable)"
"""The operation's name in the journal while (or when) the codec could not read it."""


# -- the input --------------------------------------------------------------------------------------
@dataclass(slots=True)
class Arrival:
    """What is known of a request before it is decoded: the raw facts every journal entry has.

    The codec fills in ``operation`` as soon as it has read the operation's name (SOAP: from
    the body; REST: from the path), so that a request whose arguments cannot be read is
    journaled under its operation.
    """

    wire: CallWire
    tenant: str
    service: str
    operation: str = UNREAD
    started: float = field(default_factory=time.perf_counter)
    """``time.perf_counter()`` when the request arrived; the journal's duration counts from here."""
    request_body: bytes = b""
    """The request's raw body, for the journal."""
    contract_warnings: list[str] = field(default_factory=list)
    """Sentences the codec adds while it decodes, one for each point where the real service would
    have refused the request or read it differently (``--contract lenient``); the journal entry
    and the log line carry them, also when the call fails later."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket (SOAP ``Credentials/Ticket``, REST ``Authorization: SOTicket <ticket>``)."""

    ticket: str


@dataclass(frozen=True, slots=True)
class Password:
    """A user name and password (REST ``Authorization: Basic``); refused in ``online`` mode."""

    user: str
    password: str


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An access token (REST ``Authorization: Bearer <token>``); accepted in ``online`` mode only."""

    token: str


@dataclass(frozen=True, slots=True)
class Unusable:
    """Credentials the wire could not use (REST: no ``Authorization``, an unknown scheme).

    ``message`` says what was wrong and what to send; the call fails with ``SoSessionException``.
    """

    message: str


Credentials = Ticket | Password | AccessToken | Unusable | None
"""How the caller says who it is; ``None`` when it sent nothing (SOAP: no ticket header)."""


@dataclass(frozen=True, slots=True)
class SetActivityStatus:
    """``Appointment.SetActivityStatus``: set ``status`` on every activity named, or on none."""

    service: ClassVar[str] = "Appointment"
    name: ClassVar[str] = "SetActivityStatus"
    identifiers: Sequence[str | None]
    """As sent: ``appointment_id=666`` and the like; ``None`` for a nil item."""
    status: activities.ActivityStatus


@dataclass(frozen=True, slots=True)
class AuthenticateUsernamePassword:
    """``SoPrincipal.AuthenticateUsernamePassword``: a fresh ticket for a correct login."""

    service: ClassVar[str] = "SoPrincipal"
    name: ClassVar[str] = "AuthenticateUsernamePassword"
    identifiers: ClassVar[Sequence[str | None]] = ()
    user_name: str | None
    password: str | None


Arguments = SetActivityStatus | AuthenticateUsernamePassword
"""The operations' arguments; each class names its service and operation."""

SERVICES: dict[str, dict[str, type[Arguments]]] = {}
"""Service name → its emulated operations (the one registry; the wires map their names to these)."""
for _operation in (SetActivityStatus, AuthenticateUsernamePassword):
    SERVICES.setdefault(_operation.service, {})[_operation.name] = _operation


@dataclass(frozen=True, slots=True)
class Command:
    """A decoded request, the same whatever the wire: who calls, with which token, to do what."""

    arrival: Arrival
    credentials: Credentials
    application_token: str | None
    arguments: Arguments

    @property
    def tenant(self) -> str:
        return self.arrival.tenant

    @property
    def operation(self) -> str:
        return self.arguments.name


# -- the output -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Login:
    """The result of an authentication: the user and the new ticket, or both ``None`` (refused)."""

    user: User | None
    ticket: str | None


Result = Login | None
"""An operation's result; ``None`` for an operation that answers nothing (SetActivityStatus)."""


@dataclass(frozen=True, slots=True)
class Succeeded:
    value: Result


@dataclass(frozen=True, slots=True)
class Failed:
    """A NetServer failure: the facts of ``SoExceptionInfo`` (never a stack trace)."""

    exception_type: str
    """The full .NET type, e.g. ``SuperOffice.Exceptions.SoSentryException``."""
    message: str
    friendly_text: str
    source: str
    parameters: Mapping[str, str]

    @classmethod
    def of(cls, error: SoException) -> Failed:
        return cls(error.exception_type, error.message, error.friendly_text, error.source, error.parameters)


@dataclass(frozen=True, slots=True)
class Refused:
    """The request could not be read (as WCF's deserializer would refuse it); nothing ran."""

    message: str
    http_status: int
    kind: ClientFaultKind = "unreadable"


@dataclass(frozen=True, slots=True)
class Crashed:
    """A bug in the emulator; the log has the traceback, the client gets the type's name only."""

    error_type: str
    message: str
    """``str()`` of the exception: for the journal and the log, never for the client."""


@dataclass(frozen=True, slots=True)
class Injected:
    """An injected transport fault: the wire shows this instead of the call's answer."""

    kind: TransportKind

    @property
    def http_status(self) -> int | None:
        """500 or 503 for the HTTP faults; ``None`` for ``drop`` and ``malformed``."""
        return {"http500": 500, "http503": 503}.get(self.kind)


Outcome = Succeeded | Failed | Refused | Crashed | Injected


class Encoded(Protocol):
    """A wire's encoded reply (:class:`superoffice_emulator.server.web.Reply`): the journal keeps its body."""

    @property
    def body(self) -> bytes: ...


E = TypeVar("E", bound=Encoded)
Encode = Callable[[Outcome], E]
"""A codec's writer: an :data:`Outcome` as the wire's reply."""


Decode = Callable[[Arrival], Command]
"""A codec's reader: the request's bytes (which it holds) as a :class:`Command`, or ``ClientFault``."""


# -- the pipeline -----------------------------------------------------------------------------------
def run(runtime: Runtime, arrival: Arrival, decode: Decode, encode: Encode[E]) -> E:
    """The reply to one request: decoded, checked, run and journaled in one transaction, logged."""
    now = runtime.clock()
    database = runtime.database
    command: Command | None = None
    caller: str | None = None
    try:
        command = decode(arrival)
        arguments = command.arguments
        if isinstance(arguments, AuthenticateUsernamePassword):
            caller = arguments.user_name
        verified = _verified_password(runtime, command)  # no lock held
        with database.transaction(arrival.tenant, create=_may_create(runtime, command, verified)) as store:
            fault = database.take_fault(store, arguments.name, arguments.identifiers)
            refusal = None if fault is None else _refusal(fault, caller)
            injected = None if fault is None else fault.kind
            if refusal is not None:  # the fault's count commits with the journal row
                reply = encode(refusal)
                entry = _entry(arrival, command, now, refusal, caller, reply.body, injected=injected)
            else:
                user = _authenticated(store, runtime, command, verified, now)
                caller = caller if user is None else user.name
                result, done = _perform(
                    store, runtime, arguments, user, verified, command.application_token, now
                )
                reply = encode(Succeeded(result))
                latency = 0 if fault is None else fault.latency_ms
                entry = _entry(arrival, command, now, done, caller, reply.body, latency, injected=injected)
            database.record(store, entry)
    except Exception as exc:
        return _failed(runtime, arrival, command, now, caller, exc, encode)
    if fault is not None and fault.kind == "latency":
        time.sleep(fault.latency_ms / 1000)  # committed, no lock held; never on an event loop
    _log(arrival, entry)
    return reply


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called an endpoint that is not a call (:func:`signed_in`)."""

    user: User
    application: str | None
    """The application it acts for, as :func:`~superoffice_emulator.domain.online.calling_application`
    keys it (a client id, or a plain registered application token); ``None`` onsite, where
    applications are not told apart."""


@contextmanager
def signed_in(
    runtime: Runtime, arrival: Arrival, credentials: Credentials, application_token: str | None
) -> Iterator[tuple[TenantStore, Caller]]:
    """A store of ``arrival``'s tenant in one write transaction, and the caller, checked as a call's
    caller is (application token, ticket, token or password): for the REST endpoints that are not
    calls (``Webhook``). Online the caller must also name its application (its access token's, or
    its ``SO-AppToken``'s). A refusal raises ``SoException``; the block's work commits when it ends."""
    command = Command(arrival, credentials, application_token, _NO_OPERATION)
    verified = _verified_password(runtime, command)
    with runtime.database.transaction(
        arrival.tenant, create=_may_create(runtime, command, verified)
    ) as store:
        user = _authenticated(store, runtime, command, verified, runtime.clock())
        assert user is not None, "only a login has no caller"
        online = runtime.settings.mode == "online"
        yield store, Caller(user, _application(store, command) if online else None)


def _application(store: TenantStore, command: Command) -> str:
    """The application an Online caller (already authenticated) acts for."""
    credentials = _as_access_token(command.credentials, online=True)
    granted_to = None
    if isinstance(credentials, AccessToken):
        grant = store.access_token_grant(credentials.token.strip())
        granted_to = None if grant is None else grant[0]
    named = (command.application_token or "").strip() or None
    if named is not None:  # registered: checked on authentication
        application = store.find_application_by_secret(named)
        named = named if application is None else application.client_id
    return calling_application(granted_to, named)


_NO_OPERATION = SetActivityStatus((), activities.ActivityStatus.Unknown)
"""The arguments of :func:`signed_in`'s command: any but a login's (whose password is its own)."""


def _failed(
    runtime: Runtime,
    arrival: Arrival,
    command: Command | None,
    now: datetime,
    caller: str | None,
    exc: Exception,
    encode: Encode[E],
) -> E:
    """The reply to a call that raised ``exc``, whose transaction (if it began) rolled back; its
    journal row is written in a transaction of its own, which makes no tenant."""
    outcome = _failure(arrival, exc)
    reply = encode(outcome)
    entry = _entry(arrival, command, now, outcome, caller, reply.body)
    try:
        with runtime.database.transaction(arrival.tenant, create=False) as store:
            runtime.database.record(store, entry)
    except StorageError:
        log.exception("could not write the journal entry")
    _log(arrival, entry)
    return reply


def _verified_password(runtime: Runtime, command: Command) -> str | None:
    """The stored hash a login's or a call's password matches (``None``: none, or no password).

    Read without the writer's lock and verified outside any lock (Argon2 is made to be slow). For a
    tenant not made yet, the fixtures answer as they would make it.
    """
    arguments, credentials = command.arguments, command.credentials
    online = runtime.settings.mode == "online"
    if isinstance(arguments, AuthenticateUsernamePassword):
        name, password = (arguments.user_name or "").strip(), arguments.password or ""
    elif isinstance(credentials, Password) and not online:
        name, password = credentials.user.strip(), credentials.password
    else:
        return None
    with runtime.database.passwords(command.tenant) as passwords:
        sessions.check_application_token(passwords, command.application_token, required=online)
        stored = passwords.password_hash(name)
    return sessions.verified_hash(stored, password)


def _may_create(runtime: Runtime, command: Command, verified: str | None) -> bool:
    """Whether the fixtures accept the call's credentials: a tenant not made yet is made for it."""
    credentials = command.credentials
    fixtures = runtime.database.fixtures
    if isinstance(credentials, Ticket):
        ticket = credentials.ticket.strip()
        online = runtime.settings.mode == "online"
        return fixtures.has_ticket(ticket) or (online and fixtures.has_access_token(ticket))
    if isinstance(credentials, AccessToken):
        return runtime.settings.mode == "online" and fixtures.has_access_token(credentials.token.strip())
    return verified is not None  # a password verified against the fixtures' hash


def _refusal(fault: faults.FaultRule, caller: str | None) -> Outcome | None:
    """What an injected fault answers instead of the call (``None``: ``latency``, the call goes on)."""
    if fault.kind == "latency":
        return None
    if fault.kind in faults.TRANSPORT_KINDS:
        return Injected(fault.kind)
    return Failed.of(faults.failure(fault, caller))


def _authenticated(
    store: TenantStore, runtime: Runtime, command: Command, verified: str | None, now: datetime
) -> User | None:
    """The caller, once the application token and the credentials are checked; ``None`` for a login,
    whose password is its rule's business."""
    online = runtime.settings.mode == "online"
    if online:
        check_running(command.tenant, store.state)
    if isinstance(command.arguments, AuthenticateUsernamePassword):
        return None
    credentials = command.credentials
    # A Bearer access token names its application: SO-AppToken is for calls from a server
    # (SuperOffice's reference), so a browser app never has to ship its client secret; sent, it is checked.
    bearer = isinstance(credentials, AccessToken) and not command.application_token
    sessions.check_application_token(store, command.application_token, required=online and not bearer)
    credentials = _as_access_token(credentials, online)
    if credentials is None or isinstance(credentials, Ticket):
        ticket = None if credentials is None else credentials.ticket
        return sessions.validate_ticket(store, ticket, now, runtime.ticket_lifetime)
    if isinstance(credentials, Unusable):
        raise SoSessionException(credentials.message, friendly_text="You are not logged in.")
    if isinstance(credentials, AccessToken):
        if not online:
            raise SoSessionException(
                "Onsite installations do not accept access tokens (Bearer); they are for Online. "
                "Send a ticket (SOTicket) or a user name and password (Basic), or run the "
                "emulator in online mode.",
                friendly_text="You are not logged in.",
            )
        return sessions.validate_access_token(store, credentials.token, now)
    if online:
        raise SoSessionException(
            "Basic authentication (a user name and password on a call) is not allowed in Online; "
            "send a ticket (SOTicket) or an access token (Bearer).",
            friendly_text="You are not logged in.",
        )
    found = store.find_login(credentials.user.strip())
    if found is None or found[1] != verified:  # verified before the lock (or changed since)
        raise SoSessionException(
            "The user name or password is wrong.", friendly_text="Wrong user name or password."
        )
    return found[0]


def _as_access_token(credentials: Credentials, online: bool) -> Credentials:
    """``credentials``, an ``8A:`` token sent as the ticket read as the access token it is: Online,
    Services86 takes an access token as the ticket."""
    if online and isinstance(credentials, Ticket) and is_access_token(credentials.ticket):
        return AccessToken(credentials.ticket)
    return credentials


def _perform(
    store: TenantStore,
    runtime: Runtime,
    arguments: Arguments,
    user: User | None,
    verified: str | None,
    application_token: str | None,
    now: datetime,
) -> tuple[Result, str]:
    """The operation's domain rule: its result and the journal's outcome."""
    if isinstance(arguments, AuthenticateUsernamePassword):
        if verified is not None:
            online = runtime.settings.mode == "online"
            sessions.check_application_token(store, application_token, required=online)
            found = sessions.login(store, arguments.user_name, verified, now)
            if found is not None:
                return Login(*found), "ok"
        return Login(None, None), "refused"
    assert user is not None, "a call other than a login is authenticated"
    strict = runtime.settings.strict
    changed = activities.set_activity_status(
        store, user, arguments.identifiers, arguments.status, now, strict=strict
    )
    if changed.changes:  # the events go to the outbox in this transaction: none if it rolls back
        context = runtime.context_identifier(store.tenant)
        runtime.database.emit(store, changed.changes, user.associate_id, now, context)
    return None, "no change" if changed.skipped_because else "ok"


def too_many_tenants(exc: TenantLimitReached) -> SoException:
    """What a caller is told when its tenant cannot be made: the database holds the most it may."""
    return SoException(str(exc), friendly_text="The emulator holds too many tenants.")


def _failure(arrival: Arrival, exc: Exception) -> Outcome:
    """The outcome of a call that raised ``exc``: what the client is told (never a stack trace)."""
    if isinstance(exc, SoException):
        return Failed.of(exc)
    if isinstance(exc, ClientFault):
        return Refused(exc.message, exc.http_status, exc.kind)
    if isinstance(exc, TenantLimitReached):
        log.error("%s: tenant %s not created: %s", arrival.wire, arrival.tenant, exc)
        return Failed.of(too_many_tenants(exc))
    if isinstance(exc, StorageError):
        log.error("database error in %s.%s", arrival.service, arrival.operation, exc_info=exc)
        return Failed.of(
            SoDbAccessException(
                f"The emulator's database failed: {exc.kind}. See the emulator's log.",
                friendly_text="The database could not be reached. Try again later.",
            )
        )
    log.error("unexpected error in %s.%s", arrival.service, arrival.operation, exc_info=exc)
    return Crashed(type(exc).__name__, str(exc))


def _entry(
    arrival: Arrival,
    command: Command | None,
    now: datetime,
    outcome: Outcome | str,
    caller: str | None,
    response_body: bytes,
    latency_ms: int = 0,
    *,
    injected: str | None = None,
) -> JournalEntry:
    """The journal's entry of the call; ``outcome`` a string for one that succeeded ("ok", ...);
    ``injected`` the kind of the fault injected into it, if any.

    Its duration counts an injected latency's wait, which follows the commit.
    """
    arguments = None if command is None else command.arguments
    if isinstance(outcome, str):
        described: tuple[str, str | None, str | None] = (outcome, None, None)
    elif isinstance(outcome, Failed):
        described = ("failed", outcome.exception_type, outcome.message)
    elif isinstance(outcome, Refused):
        described = ("fault", "ClientFault", outcome.message)
    elif isinstance(outcome, Crashed):
        described = ("error", outcome.error_type, outcome.message)
    elif isinstance(outcome, Injected):
        described = (f"injected {outcome.kind}", None, None)
    else:
        described = ("ok", None, None)
    status = arguments.status.name if isinstance(arguments, SetActivityStatus) else None
    return JournalEntry(
        at=now,
        service=arrival.service,
        operation=arrival.operation if arguments is None else arguments.name,
        user=caller,
        identifiers=() if arguments is None else arguments.identifiers,
        status=status,
        outcome=described[0],
        exception_type=described[1],
        message=described[2],
        duration_ms=(time.perf_counter() - arrival.started) * 1000 + latency_ms,
        wire=arrival.wire,
        contract_warnings=tuple(arrival.contract_warnings),
        request_body=arrival.request_body,
        response_body=response_body,
        injected=injected,
    )


def _log(arrival: Arrival, entry: JournalEntry) -> None:
    if log.isEnabledFor(logging.INFO):
        log.info(
            "%s %s.%s user=%s ids=%d status=%s outcome=%s%s %.1fms%s",
            arrival.tenant,
            entry.service,
            entry.operation,
            entry.user or "-",
            len(entry.identifiers),
            entry.status or "-",
            entry.outcome,
            f" ({entry.exception_type})" if entry.exception_type else "",
            entry.duration_ms,
            "".join(f" [contract: {warning}]" for warning in entry.contract_warnings),
            extra={"journal": entry, "tenant": arrival.tenant, "wire": arrival.wire},
        )
