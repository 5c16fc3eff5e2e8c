"""Tickets, logins and application tokens: who is calling, and may they call at all."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from superoffice_emulator.domain.errors import SoSessionException, shown
from superoffice_emulator.domain.sentry import User

TICKET_PREFIX = "7T:"
TOUCH_RESOLUTION = timedelta(seconds=1)
"""The sliding window restarts on every use, to the second: a ticket used many times a second is
written once a second, not once a call. Fixed fixture tickets never expire and are never written."""
PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
"""Argon2id at OWASP's minimum (19 MiB, 2 passes): demo passwords need a proper hash, not a
64 MiB one per login that costs the emulator half a second at start. Verification reads the
parameters from the stored hash, so hashes made with other parameters keep working."""

DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$ahVN1c+BKLf0zceEcmKUgA$a2xySx/uPY1aoyLU1ppD1+2uzfOgntSpKHdDZfGBqPk"
)
"""A hash of no user's password, with :data:`PASSWORD_HASHER`'s parameters: verified for an
unknown user name, so that it takes as long as a known one."""


def new_ticket() -> str:
    """``7T:`` followed by base64 of 192 random bits: unguessable, like NetServer's."""
    return TICKET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (the only form a password is stored in)."""
    return PASSWORD_HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class TicketRow(NamedTuple):
    user: User
    last_used: datetime
    fixed: bool


class AccessTokenRow(NamedTuple):
    user: User
    expires: datetime | None
    """``None``: a fixture's token, which never expires."""


class TokenStore(Protocol):
    def has_application_token(self, token: str) -> bool: ...


class SessionStore(Protocol):
    def find_ticket(self, ticket: str) -> TicketRow | None: ...

    def touch_ticket(self, ticket: str, now: datetime) -> None: ...

    def add_ticket(self, ticket: str, associate_id: int, now: datetime) -> None: ...

    def find_access_token(self, token: str) -> AccessTokenRow | None: ...

    def find_login(self, name: str) -> tuple[User, str] | None: ...

    def has_application_token(self, token: str) -> bool: ...


def check_application_token(store: TokenStore, token: str | None, *, required: bool) -> None:
    """In ``online`` mode the token must be sent and registered; ``onsite`` does not check it."""
    if not required:
        return
    if not token or not token.strip():
        raise SoSessionException(
            "No ApplicationToken was sent. Online installations require the ApplicationToken "
            "header; register the token in the fixtures or run the emulator in onsite mode.",
            friendly_text="The application is not allowed to connect: no application token.",
        )
    if not store.has_application_token(token.strip()):
        raise SoSessionException(
            f"ApplicationToken {shown(token.strip())} is not registered. Add it to "
            "application_tokens in the fixtures, or run the emulator in onsite mode.",
            friendly_text="The application is not allowed to connect: unknown application token.",
        )


def validate_ticket(store: SessionStore, ticket: str | None, now: datetime, lifetime: timedelta) -> User:
    """The user behind ``ticket``; every use restarts its sliding expiry window."""
    if ticket is None or not ticket.strip():
        raise SoSessionException(
            "No ticket was sent in the Credentials header. Authenticate with "
            "SoPrincipal.svc AuthenticateUsernamePassword and send the ticket it returns.",
            friendly_text="You are not logged in.",
        )
    ticket = ticket.strip()
    row = store.find_ticket(ticket)
    if row is None:
        raise SoSessionException(
            "The ticket is unknown (never issued by this emulator, or the tenant was reset). "
            "Authenticate again to get a new ticket.",
            friendly_text="Your session is not valid. Please log in again.",
        )
    if not row.fixed and now - row.last_used > lifetime:
        raise SoSessionException(
            f"The ticket has expired: it was last used {row.last_used:%Y-%m-%d %H:%M:%S} UTC and "
            f"tickets expire after {lifetime} without use. Authenticate again.",
            friendly_text="Your session has expired. Please log in again.",
        )
    if not row.fixed and now - row.last_used >= TOUCH_RESOLUTION:
        store.touch_ticket(ticket, now)
    return row.user


def validate_access_token(store: SessionStore, token: str, now: datetime) -> User:
    """The user an access token was granted to (by the sign-in, or in the fixtures, which never expire)."""
    token = token.strip()
    if not token:
        raise SoSessionException(
            "The access token is empty. Send the access token of a user registered in the fixtures "
            "(access_tokens).",
            friendly_text="You are not logged in.",
        )
    row = store.find_access_token(token)
    if row is None:
        raise SoSessionException(
            "The access token is unknown: it was never granted by this emulator's sign-in nor registered "
            "for a user in the fixtures (access_tokens), or it was revoked, or the tenant was reset.",
            friendly_text="Your session is not valid. Please log in again.",
        )
    if row.expires is not None and now >= row.expires:
        raise SoSessionException(
            f"The access token has expired ({row.expires:%Y-%m-%d %H:%M:%S} UTC). Refresh it with the "
            "refresh token at /login/common/oauth/tokens, or sign in again.",
            friendly_text="Your session has expired. Please log in again.",
        )
    return row.user


def verified_hash(stored: str | None, password: str) -> str | None:
    """``stored`` when ``password`` matches it; ``None`` when not, or when there is no ``stored``
    hash (an unknown user name), which takes as long: a dummy hash is verified instead.

    Run it outside any lock: one verification costs tens of milliseconds of CPU."""
    if stored is None:
        verify_password(DUMMY_HASH, password)
        return None
    return stored if verify_password(stored, password) else None


def login(
    store: SessionStore, name: str | None, password_hash: str, now: datetime
) -> tuple[User, str] | None:
    """A fresh ticket for user ``name`` whose password was verified against ``password_hash``
    (:func:`verified_hash`), or ``None`` when the user or its hash changed meanwhile."""
    found = store.find_login((name or "").strip())
    if found is None or found[1] != password_hash:
        return None
    user, _ = found
    ticket = new_ticket()
    store.add_ticket(ticket, user.associate_id, now)
    return user, ticket
