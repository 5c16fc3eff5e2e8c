"""The call pipeline: one emulated operation, from a decoded command to its outcome, for any wire.

A wire (SOAP today, the REST twin next) is a codec around :func:`run`::

    arrival = Arrival("soap", tenant, service, request_body=body)   # what the journal knows at once
    reply = calls.run(runtime, arrival, codec.decode, codec.encode)  # bytes -> Command -> Outcome -> reply

:func:`run` calls the codec's ``decode`` (so that a request it cannot read is journaled and
logged like any other), then checks the application token and the credentials (a ticket, or a
user name and password), applies the tenant's injected faults, runs the domain operation in one
transaction that also writes the journal entry, and translates every failure into an
:data:`Outcome`: nothing raised here ever reaches a codec. The journal keeps the request's raw
body and the encoded reply's: a call that succeeds in its own transaction has its reply encoded
inside it, before the commit, so that its one journal row has the response body (no second
write). The codec only maps bytes to a :class:`Command` and an :data:`Outcome` to bytes; it
never catches an exception of its own.

Injected faults: ``sentry`` and ``session`` come back as :class:`Failed`, like a real refusal; ``latency``
is served here (the pipeline waits, then the call goes on); the transport faults (``http500``,
``http503``, ``drop``, ``malformed``) come back as :class:`Injected`, which the codec shows instead of its
answer (:func:`superoffice_emulator.server.web.injected` does the wire-independent ones).

A wire's codec maps its credentials (SOAP: ``Credentials/Ticket`` → :class:`Ticket`; REST
(:mod:`superoffice_emulator.rest`): ``SOTicket`` → :class:`Ticket`, ``Basic`` → :class:`Password`,
``Bearer`` → :class:`AccessToken`, anything it cannot use → :class:`Unusable`) and its body to
a :class:`Command`, and each outcome to its own form (SOAP: ``ExceptionInfo`` or a Fault; REST:
204 for :class:`Succeeded`, an HTTP status and a JSON body with :class:`Failed`'s facts). An
operation is one arguments class here (:data:`SERVICES`) and, per wire, a reader and a writer.

Contract warnings (``--contract lenient``): while it decodes, a codec appends to
``arrival.contract_warnings`` a sentence for each point where the real service would have
refused the request or read it differently; the journal entry and the log line carry them,
whatever the outcome. A refusal's :class:`Refused` keeps the ``ClientFault``'s ``kind``, which
each codec maps to its wire (SOAP: WCF's ``a:DeserializationFailed``, ``a:ActionNotSupported``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar, cast

from superoffice_emulator.calls import faults
from superoffice_emulator.calls.faults import TransportFault, TransportKind
from superoffice_emulator.calls.journal import JournalEntry
from superoffice_emulator.calls.runtime import Runtime
from superoffice_emulator.domain import activities, sessions
from superoffice_emulator.domain.errors import (
    ClientFault,
    ClientFaultKind,
    SoDbAccessException,
    SoException,
    SoSessionException,
)
from superoffice_emulator.domain.sentry import User
from superoffice_emulator.server import blocking
from superoffice_emulator.storage.database import StorageError, TenantLimitReached
from superoffice_emulator.storage.store import TenantStore

log = logging.getLogger("superoffice_emulator.calls.pipeline")

Wire = Literal["soap", "rest"]
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

    wire: Wire
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

    def perform(self, call: Call[Any]) -> None:
        call.identifiers, call.status = self.identifiers, self.status.name

        def change(store: TenantStore, user: User) -> None:
            changed = activities.set_activity_status(
                store, user, self.identifiers, self.status, call.now, strict=call.runtime.settings.strict
            )
            call.outcome = "no change" if changed.skipped_because else "ok"

        call.in_session(None, change)


@dataclass(frozen=True, slots=True)
class AuthenticateUsernamePassword:
    """``SoPrincipal.AuthenticateUsernamePassword``: a fresh ticket for a correct login."""

    service: ClassVar[str] = "SoPrincipal"
    name: ClassVar[str] = "AuthenticateUsernamePassword"
    user_name: str | None
    password: str | None

    def perform(self, call: Call[Any]) -> Login:
        blocking.about_to_block()  # a password is verified: never on the event loop
        call.user = self.user_name
        call.inject_faults()
        name = (self.user_name or "").strip()
        verified = call.verified_hash(name, self.password or "")  # outside any lock
        if verified is not None:
            with call.runtime.database.transaction(call.tenant) as store:
                call.check_application_token(store)
                result = sessions.login(store, name, verified, call.now)
            if result is not None:
                return Login(*result)
        call.outcome = "refused"
        return Login(None, None)


Arguments = SetActivityStatus | AuthenticateUsernamePassword
"""The operations' arguments; each class names its service and operation and runs it."""

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


# -- one call in flight -----------------------------------------------------------------------------
@dataclass
class Call(Generic[E]):
    """One command in flight, and what the journal will say of it."""

    runtime: Runtime
    command: Command
    now: datetime
    encode: Encode[E]
    user: str | None = None
    identifiers: Sequence[str | None] = ()
    status: str | None = None
    outcome: str = "ok"
    injected: str | None = None
    """The kind of the injected fault that hit this call, if one did."""
    journaled: JournalEntry | None = None
    """The entry written in the call's own transaction, when it got that far."""
    reply: E | None = None
    """The reply encoded in that transaction (the journal entry has its body)."""

    @property
    def tenant(self) -> str:
        return self.command.tenant

    def journal_entry(
        self,
        outcome: str | None = None,
        exception_type: str | None = None,
        message: str | None = None,
        response_body: bytes = b"",
    ) -> JournalEntry:
        arrival = self.command.arrival
        return JournalEntry(
            wire=arrival.wire,
            at=self.now,
            service=arrival.service,
            operation=self.command.arguments.name,
            user=self.user,
            identifiers=self.identifiers,
            status=self.status,
            outcome=outcome or self.outcome,
            exception_type=exception_type,
            message=message,
            duration_ms=(time.perf_counter() - arrival.started) * 1000,
            contract_warnings=tuple(arrival.contract_warnings),
            request_body=arrival.request_body,
            response_body=response_body,
            injected=self.injected,
        )

    def in_session(self, answer: Result, work: Callable[[TenantStore, User], object]) -> None:
        """Run ``work`` with the tenant's store and the caller in one transaction, after the
        application token and the credentials have been checked.

        ``answer`` is the operation's result should it succeed (known before it runs): its reply
        is encoded before the commit, for the journal entry written in the same transaction.

        A tenant is made from the fixtures on its first call only when the fixtures accept the
        credentials; any other call to a tenant that does not exist fails as bad credentials do
        on one that does, and writes nothing.
        """
        credentials = self.command.credentials
        verified: str | None = None
        if isinstance(credentials, Password) and self.runtime.settings.mode != "online":
            verified = self.verified_hash(credentials.user.strip(), credentials.password)  # no lock held
        database = self.runtime.database
        with database.transaction(self.tenant, create=lambda: self._fixtures_accept(verified)) as store:
            rule = self._take_fault(store)
            if rule is None:
                self._authenticated(store, verified, answer, work)
                return
        # the rule's count is committed; its failure (or its wait) comes outside the transaction
        faults.apply(rule, self.user)
        with database.transaction(self.tenant, create=False) as store:  # after a latency fault
            self._authenticated(store, verified, answer, work)

    def _authenticated(
        self,
        store: TenantStore,
        verified: str | None,
        answer: Result,
        work: Callable[[TenantStore, User], object],
    ) -> None:
        self.check_application_token(store)
        user = self._authenticate(store, verified)
        self.user = user.name
        work(store, user)
        # the journal entry commits with the change, or neither does
        self.reply = self.encode(Succeeded(answer))
        self.journaled = self.journal_entry(response_body=self.reply.body)
        self.runtime.database.record(store, self.journaled)

    def _take_fault(self, store: TenantStore) -> faults.FaultRule | None:
        rule = self.runtime.database.take_fault(store, self.command.arguments.name, self.identifiers)
        if rule is not None and rule.kind == "latency":
            blocking.about_to_block()  # in the transaction: the rule's count is rolled back
        if rule is not None:
            self.outcome, self.injected = f"injected {rule.kind}", rule.kind
        return rule

    def _fixtures_accept(self, verified: str | None) -> bool:
        """Whether the fixtures accept the call's credentials (a new tenant may be made for it)."""
        credentials = self.command.credentials
        fixtures = self.runtime.database.fixtures
        if isinstance(credentials, Ticket):
            return fixtures.has_ticket(credentials.ticket.strip())
        if isinstance(credentials, AccessToken):
            return self.runtime.settings.mode == "online" and fixtures.has_access_token(
                credentials.token.strip()
            )
        return verified is not None  # a password verified against the fixtures' hash

    def verified_hash(self, name: str, password: str) -> str | None:
        """The hash of user ``name`` that ``password`` matches (``None``: it does not, or there is
        no such user), read without the writer's lock and verified outside any lock; for a tenant
        not made yet, as the fixtures would make it. Checks the application token too."""
        blocking.about_to_block()
        database = self.runtime.database
        with database.reading(self.tenant) as store:
            exists = store.tenant_exists()
            if exists:
                self.check_application_token(store)
                found = store.find_login(name)
                stored = None if found is None else found[1]
        if not exists:
            self.check_application_token(database.fixtures)
            stored = database.fixtures.password_hash(name)
        return sessions.verified_hash(stored, password)

    def check_application_token(self, store: sessions.TokenStore) -> None:
        required = self.runtime.settings.mode == "online"
        sessions.check_application_token(store, self.command.application_token, required=required)

    def _authenticate(self, store: TenantStore, verified: str | None) -> User:
        credentials = self.command.credentials
        online = self.runtime.settings.mode == "online"
        if credentials is None or isinstance(credentials, Ticket):
            ticket = None if credentials is None else credentials.ticket
            return sessions.validate_ticket(store, ticket, self.now, self.runtime.ticket_lifetime)
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
            return sessions.validate_access_token(store, credentials.token)
        if online:
            raise SoSessionException(
                "Basic authentication (a user name and password on a call) is not allowed in Online; "
                "send a ticket (SOTicket) or an access token (Bearer).",
                friendly_text="You are not logged in.",
            )
        found = store.find_login(credentials.user.strip())
        if found is None or found[1] != verified:  # verified before the lock (or changed since)
            raise _wrong_password()
        return found[0]

    def inject_faults(self) -> None:
        """Apply the tenant's injected fault for this call, if one matches (in a transaction of its own)."""
        command = self.command
        rule = self.runtime.database.take_fault_now(command.tenant, command.arguments.name, self.identifiers)
        if rule is not None:
            self.outcome, self.injected = f"injected {rule.kind}", rule.kind
        faults.apply(rule, self.user)


def _wrong_password() -> SoSessionException:
    return SoSessionException(
        "The user name or password is wrong.", friendly_text="Wrong user name or password."
    )


# -- the pipeline -----------------------------------------------------------------------------------
Decode = Callable[[Arrival], Command]
"""A codec's reader: the request's bytes (which it holds) as a :class:`Command`, or ``ClientFault``."""


def run(runtime: Runtime, arrival: Arrival, decode: Decode, encode: Encode[E]) -> E:
    """Decode, authenticate, run the operation, translate its failure, encode the outcome; journal
    and log the call; the reply."""
    call: Call[E] | None = None
    outcome: Outcome
    try:
        command = decode(arrival)
        call = Call(runtime, command, runtime.clock(), encode)
        outcome = Succeeded(command.arguments.perform(call))
    except SoException as exc:
        outcome = Failed.of(exc)
    except ClientFault as exc:
        outcome = Refused(exc.message, exc.http_status, exc.kind)
    except TransportFault as exc:
        outcome = Injected(exc.kind)
    except TenantLimitReached as exc:
        log.error("%s: tenant %s not created: %s", arrival.wire, arrival.tenant, exc)
        outcome = Failed.of(SoException(str(exc), friendly_text="The emulator holds too many tenants."))
    except StorageError as exc:
        log.exception("database error in %s.%s", arrival.service, arrival.operation)
        outcome = Failed.of(
            SoDbAccessException(
                f"The emulator's database failed: {exc.kind}. See the emulator's log.",
                friendly_text="The database could not be reached. Try again later.",
            )
        )
    except Exception as exc:  # never a stack trace to the client; the log has it
        log.exception("unexpected error in %s.%s", arrival.service, arrival.operation)
        outcome = Crashed(type(exc).__name__, str(exc))
    ran = call is not None and call.reply is not None and isinstance(outcome, Succeeded)
    reply = cast(E, call.reply) if ran and call is not None else encode(outcome)
    _journal(runtime, arrival, call, outcome, reply.body)
    return reply


def _described(outcome: Outcome) -> tuple[str | None, str | None, str | None]:
    """Journal outcome, exception type and message of a call that did not succeed (else ``None``s)."""
    if isinstance(outcome, Failed):
        return "failed", outcome.exception_type, outcome.message
    if isinstance(outcome, Refused):
        return "fault", "ClientFault", outcome.message
    if isinstance(outcome, Crashed):
        return "error", outcome.error_type, outcome.message
    return None, None, None


def _journal(
    runtime: Runtime, arrival: Arrival, call: Call[Any] | None, result: Outcome, response_body: bytes
) -> None:
    """Log the call, and write its journal entry unless its own transaction already did."""
    duration_ms = (time.perf_counter() - arrival.started) * 1000
    outcome, exception_type, message = _described(result)
    written = call.journaled if call is not None and outcome is None else None
    if written is not None:
        entry = written
    elif call is not None:
        entry = call.journal_entry(outcome, exception_type, message, response_body)
    else:
        entry = JournalEntry(
            runtime.clock(), arrival.service, arrival.operation, None, [], None,
            outcome or "ok", exception_type, message, duration_ms, arrival.wire,
            tuple(arrival.contract_warnings), arrival.request_body, response_body,
        )  # fmt: skip
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
            duration_ms,
            "".join(f" [contract: {warning}]" for warning in entry.contract_warnings),
            extra={"journal": entry, "tenant": arrival.tenant, "wire": arrival.wire},
        )
    if written is not None:
        return
    try:  # a request that never got in creates no tenant (its entry goes under the orphans' cap)
        # the call may have committed a fault's count already: never run it again from here
        with blocking.allowed(), runtime.database.transaction(arrival.tenant, create=False) as store:
            runtime.database.record(store, entry, tenant_may_be_missing=True)
    except StorageError:
        log.exception("could not write the journal entry")
