"""System users of SuperOffice Online apps: consents, signed system tokens, and the exchange's rules.

An application that asks for a system user (``system_user``) and is approved in a tenant has a
*consent* there: a system token fixed per tenant and app (``"App Name-8k8Q7DmBgo"``), which the
id_token of an administrator's sign-in carries. For background work the app signs
``token + "." + yyyyMMddHHmm`` (UTC) with its RSA private key (PKCS#1 v1.5, SHA-256) and exchanges
``token.stamp.base64(signature)`` for a ticket::

    signed = parse_signed_token(text)                    # SystemUserRefused: malformed
    user = authenticate(store, signed, app_token, now)   # SystemUserRefused: the first failing check

Refusals carry SuperOffice's authorization error codes (:class:`Refusal`). The timestamp window,
:data:`TIMESTAMP_WINDOW` either side of now, is this emulator's choice (SuperOffice documents none).
The RSA work is ``cryptography``'s, loaded when first used.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

from superoffice_emulator.domain.online import CLAIMS, RUNNING_STATES, Application
from superoffice_emulator.domain.sentry import User

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

ISSUER = "SuperOffice AS"
"""The issuer of the exchange's JWT (not the sign-in's: SuperOffice's samples check this name)."""
SYSTEM_TOKEN_CLAIM = CLAIMS + "system_token"
TICKET_CLAIM = CLAIMS + "ticket"
TIMESTAMP_FORMAT = "%Y%m%d%H%M"
TIMESTAMP_WINDOW = timedelta(minutes=5)
"""How far a signed token's minute may lie from the emulator's clock, either way."""
MAX_SIGNED_TOKEN = 4096
"""The longest signed token read: a 200-character system token and a 4096-bit signature fit easily."""


class Refusal(IntEnum):
    """SuperOffice's authorization error codes (``AuthorizeErrorCode``)."""

    Revoked = 1
    InvalidRedirectUrl = 2
    Expired = 3
    Denied = 4
    NeedsReapproval = 5
    InvalidTimestamp = 6
    InvalidSignature = 7


class SystemUserRefused(Exception):
    """An exchange refused; nothing was minted. ``str()`` is the answer's ``ErrorMessage``."""

    def __init__(self, code: Refusal, detail: str) -> None:
        self.code = code
        self.detail = detail
        self.client_id: str | None = None
        """The application the exchange was found to be for, once it was."""
        super().__init__(f"{code.name} ({code.value}): {detail}")


@dataclass(frozen=True)
class Consent:
    """An application's approval in a tenant: its system token and the associate it acts as."""

    client_id: str
    system_token: str
    associate_id: int


@dataclass(frozen=True)
class SignedToken:
    """A signed system token taken apart: ``system_token.stamp.base64(signature)``."""

    system_token: str
    stamp: str
    signed_at: datetime
    signature: bytes

    @property
    def payload(self) -> bytes:
        """What the signature signs: the system token and the stamp, as UTF-8."""
        return f"{self.system_token}.{self.stamp}".encode()


class SystemUserStore(Protocol):
    state: str | None

    def tenant_exists(self) -> bool: ...

    def find_application_by_secret(self, secret: str) -> Application | None: ...

    def find_consent(self, client_id: str) -> Consent | None: ...

    def find_user(self, associate_id: int) -> User | None: ...


def new_system_token(application_name: str) -> str:
    """``"<application name>-<10 random letters and digits>"``, as SuperOffice shapes them."""
    alphabet = string.ascii_letters + string.digits
    return application_name + "-" + "".join(secrets.choice(alphabet) for _ in range(10))


def storable(text: str) -> bool:
    """Whether ``text`` can be looked up at all: no NUL (PostgreSQL refuses it), valid UTF-8."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from JSON's \ud800
        return False
    return True


_STAMP = re.compile(r"\d{12}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def parse_signed_token(text: str) -> SignedToken:
    """``text`` taken apart; a shape that is not ``token.yyyyMMddHHmm.base64`` is refused.

    The system token may hold dots itself (it starts with the app's name): the last two dots split.
    """
    if len(text) > MAX_SIGNED_TOKEN:
        raise SystemUserRefused(
            Refusal.InvalidSignature, f"The signed system token is longer than {MAX_SIGNED_TOKEN} characters."
        )
    if not storable(text):
        raise SystemUserRefused(
            Refusal.InvalidSignature, "The signed system token holds characters no text has."
        )
    parts = text.strip().rsplit(".", 2)
    if len(parts) != 3 or not parts[0]:
        raise SystemUserRefused(
            Refusal.InvalidSignature,
            "The signed system token is not shaped systemToken.yyyyMMddHHmm.base64(signature).",
        )
    token, stamp, signature = parts
    if not _STAMP.fullmatch(stamp):
        raise SystemUserRefused(
            Refusal.InvalidTimestamp, f"The timestamp {stamp[:20]!r} is not yyyyMMddHHmm (12 digits, UTC)."
        )
    try:
        signed_at = datetime.strptime(stamp, TIMESTAMP_FORMAT)
    except ValueError:
        raise SystemUserRefused(
            Refusal.InvalidTimestamp, f"The timestamp {stamp} is not a date and time (yyyyMMddHHmm, UTC)."
        ) from None
    if not _BASE64.fullmatch(signature):
        raise SystemUserRefused(Refusal.InvalidSignature, "The signature is not base64.")
    try:
        decoded = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise SystemUserRefused(Refusal.InvalidSignature, "The signature is not base64.") from None
    return SignedToken(token, stamp, signed_at, decoded)


def check_timestamp(signed: SignedToken, now: datetime) -> None:
    """The signed minute must lie within :data:`TIMESTAMP_WINDOW` of ``now`` (UTC), either way."""
    if abs(now.replace(tzinfo=None) - signed.signed_at) > TIMESTAMP_WINDOW:
        raise SystemUserRefused(
            Refusal.InvalidTimestamp,
            f"The timestamp {signed.stamp} (UTC) is more than {int(TIMESTAMP_WINDOW.total_seconds() // 60)} "
            f"minutes from the emulator's clock ({now:%Y%m%d%H%M} UTC): sign the token again, now.",
        )


def authenticate(
    store: SystemUserStore, signed: SignedToken, application_token: str, now: datetime
) -> tuple[Application, User]:
    """The application and the system user a signed token stands for in the store's tenant; the
    first failing check refuses (:class:`SystemUserRefused`), in the order: timestamp, tenant,
    application, consent, signature, user."""
    check_timestamp(signed, now)
    if not store.tenant_exists():
        raise SystemUserRefused(Refusal.Denied, "The tenant (ContextIdentifier) is not known.")
    if store.state is not None and store.state not in RUNNING_STATES:
        raise SystemUserRefused(Refusal.Denied, f"The tenant is {store.state}, not running.")
    known = application_token and storable(application_token)
    application = store.find_application_by_secret(application_token) if known else None
    if application is None:
        raise SystemUserRefused(
            Refusal.Denied, "The ApplicationToken is not the client secret of an application in this tenant."
        )
    try:
        return application, _system_user(store, application, signed)
    except SystemUserRefused as exc:
        exc.client_id = application.client_id
        raise


def _system_user(store: SystemUserStore, application: Application, signed: SignedToken) -> User:
    if not application.system_user:
        raise SystemUserRefused(
            Refusal.Denied, f"The application {application.client_id} does not ask for a system user."
        )
    consent = store.find_consent(application.client_id)
    if consent is None:
        raise SystemUserRefused(
            Refusal.Revoked,
            f"The tenant has no consent for {application.client_id}: never approved, or revoked.",
        )
    if not hmac.compare_digest(consent.system_token.encode(), signed.system_token.encode()):
        raise SystemUserRefused(
            Refusal.Revoked,
            f"The system token is not the one this tenant's consent for {application.client_id} holds.",
        )
    verify_signature(application, signed)
    user = store.find_user(consent.associate_id)
    if user is None:
        raise SystemUserRefused(Refusal.Denied, "The consent's system user no longer exists.")
    return user


def verify_signature(application: Application, signed: SignedToken) -> None:
    """The signature must verify with the application's registered public key (RSA, PKCS#1 v1.5,
    SHA-256)."""
    if not application.public_key:
        raise SystemUserRefused(
            Refusal.InvalidSignature, f"The application {application.client_id} has no public key registered."
        )
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        key = load_public_key(application.public_key)
    except ValueError as exc:
        raise SystemUserRefused(
            Refusal.InvalidSignature, f"The application's registered public key cannot be read: {exc}"
        ) from None
    try:
        key.verify(signed.signature, signed.payload, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SystemUserRefused(
            Refusal.InvalidSignature,
            "The signature does not verify with the application's public key "
            "(RSA PKCS#1 v1.5 over SHA-256 of 'systemToken.yyyyMMddHHmm').",
        ) from None


# -- public keys --------------------------------------------------------------------------------
_XML_KEY = re.compile(r"\s*<RSAKeyValue>.*</RSAKeyValue>\s*", re.DOTALL)
_PEM_KEY = re.compile(
    r"\s*-----BEGIN (?:RSA )?PUBLIC KEY-----.+-----END (?:RSA )?PUBLIC KEY-----\s*", re.DOTALL
)


def _xml_number(text: str, name: str) -> int:
    found = re.search(rf"<{name}>\s*([A-Za-z0-9+/=\s]+?)\s*</{name}>", text)
    if found is None:
        raise ValueError(f"the RSA XML key has no {name}")
    try:
        raw = base64.b64decode("".join(found.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the RSA XML key's {name} is not base64") from None
    return int.from_bytes(raw, "big")


def public_key_shape_error(text: str) -> str | None:
    """What is wrong with the shape of a public key as given (PEM or RSA XML); ``None``: nothing.

    A textual check only: the key itself is read when first used (:func:`load_public_key`).
    """
    if _PEM_KEY.fullmatch(text) or _XML_KEY.fullmatch(text):
        return None
    return (
        "is neither a PEM public key (-----BEGIN PUBLIC KEY-----) nor an RSA XML key "
        "(<RSAKeyValue><Modulus>..</Modulus><Exponent>..</Exponent></RSAKeyValue>)"
    )


def load_public_key(text: str) -> RSAPublicKey:
    """The RSA public key in ``text``: PEM, or the XML form SuperOffice's developer portal gives
    (``<RSAKeyValue><Modulus>`` and ``<Exponent>``, base64 of big-endian numbers). ``ValueError``
    when it is neither, or not RSA."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if _XML_KEY.fullmatch(text):
        numbers = rsa.RSAPublicNumbers(_xml_number(text, "Exponent"), _xml_number(text, "Modulus"))
        return numbers.public_key()
    try:
        key = serialization.load_pem_public_key(text.strip().encode("ascii", "replace"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the PEM key is not an RSA key")
    return key
