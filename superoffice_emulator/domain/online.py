"""SuperOffice Online's front door in plain rules: applications, tenant states, codes and tokens.

The emulator is its own SuperID (docs/online.md). What an application may do, how long a code or an
access token lives, how a PKCE verifier is checked and when a tenant answers calls are decided here;
the HTTP side (:mod:`superoffice_emulator.online`) only reads requests and writes answers::

    application.permits_redirect("http://localhost:3000/callback")   # exact match only
    pkce_matches(challenge, "S256", verifier)
    check_running("Cust12345", "Suspended")                          # SoSessionException
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from superoffice_emulator.domain.errors import SoSessionException

TENANT_STATES: dict[str, int] = {
    "Unknown": 0,
    "Provisioning": 1,
    "Running": 2,
    "Deleted": 3,
    "Suspended": 4,
    "OnlineMaintenance": 5,
    "OfflineMaintenance": 6,
    "ProvisioningFailed": 8,
    "Deleting": 10,
    "DeleteFailed": 11,
    "MigrationPending": 12,
}
"""The tenant states of SuperOffice's status answer, with their numbers."""
RUNNING_STATES = frozenset({"Running", "OnlineMaintenance"})
"""The states whose ``IsRunning`` is true: a tenant in one of them answers calls."""
DEFAULT_STATE = "Running"

CODE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME = timedelta(seconds=3600)
ID_TOKEN_LIFETIME = timedelta(seconds=300)
ACCESS_TOKEN_PREFIX = "8A:"
PKCE_METHODS = ("S256", "plain")
CLAIMS = "http://schemes.superoffice.net/identity/"
"""The prefix of SuperOffice's own id_token claims."""

RESPONSE_TYPES = ("code", "id_token", "code id_token", "token id_token", "token")
"""The response types SuperID's discovery lists: the code flow, the implicit flow and the hybrid one."""


PARAMETER_LIMIT = 2048
"""The most characters an authorize or logout parameter may have (``id_token_hint`` excepted): the
sign-in echoes ``state`` into a redirect's ``Location`` and copies ``nonce`` into an id_token."""
ID_TOKEN_HINT_LIMIT = 8192


def overlong(params: Mapping[str, str], names: Iterable[str]) -> str | None:
    """Why one of ``names`` in ``params`` is too long to accept (``invalid_request``); ``None`` when
    none is."""
    for name in names:
        limit = ID_TOKEN_HINT_LIMIT if name == "id_token_hint" else PARAMETER_LIMIT
        if len(params.get(name, "")) > limit:
            return f"invalid_request: {name} has more than {limit} characters."
    return None


def response_type(value: str) -> frozenset[str] | None:
    """The words of a ``response_type`` (in any order, as OAuth 2.0's Multiple Response Types
    allows); ``None`` when it is none of :data:`RESPONSE_TYPES`."""
    words = frozenset(value.split())
    return words if any(words == frozenset(known.split()) for known in RESPONSE_TYPES) else None


def default_response_mode(words: frozenset[str]) -> str:
    """``query`` for the code alone, else ``fragment``: a token never travels in a query string."""
    return "query" if words == {"code"} else "fragment"


def needs_nonce(words: frozenset[str]) -> bool:
    """Whether the authorize request must send a ``nonce``: whenever the id_token comes from the
    authorize endpoint itself (OpenID Connect Core, 3.2.2.1 and 3.3.2.11)."""
    return "id_token" in words


@dataclass(frozen=True)
class Application:
    """An application registered in the developer portal, as one tenant knows it."""

    client_id: str
    client_secret: str
    name: str
    redirect_uris: tuple[str, ...]
    allowed_origins: tuple[str, ...] = ()
    public_key: str | None = None
    """The RSA public key (PEM or RSA XML) a system user's signed token is checked with; ``None``: none."""
    system_user: bool = False
    """Whether the application asks for a system user (its consents then hold a system token)."""

    def permits_redirect(self, uri: str) -> bool:
        """Whether ``uri`` equals a registered redirect URI exactly (never a prefix: no open redirect)."""
        return uri in self.redirect_uris

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(secret.encode(), self.client_secret.encode())


def check_running(tenant: str, state: str | None) -> None:
    """Refuse a call to a tenant that is not running (``SoSessionException``, docs/online.md)."""
    if state is None or state in RUNNING_STATES:
        return
    raise SoSessionException(
        f"The tenant {tenant} is {state}, not running: it answers no calls until its state is Running "
        "or OnlineMaintenance again (GET /api/state/{ctx} shows it; the admin API sets it).",
        friendly_text="This SuperOffice installation is not available right now.",
    )


def calling_application(granted_to: str | None, named: str | None) -> str:
    """The application an Online caller acts for, as a key: the client id its access token was
    granted to (``granted_to``; ``None`` for a fixture's token or a ticket) and the key its
    ``SO-AppToken`` names (``named``: an application's client id when the token is its client
    secret, else the registered token itself; ``None`` when none was sent). Both must agree, and
    one must be there: else :class:`SoSessionException`."""
    if granted_to is not None and named is not None and granted_to != named:
        raise SoSessionException(
            f"The access token was granted to the application {granted_to}, but the SO-AppToken "
            f"(ApplicationToken) sent beside it is not {granted_to}'s client secret. Send the "
            "application's own client secret, or no SO-AppToken beside its access token.",
            friendly_text="The application is not allowed to connect: its tokens disagree.",
        )
    application = granted_to if granted_to is not None else named
    if application is None:
        raise SoSessionException(
            "This endpoint answers an application, and the call names none: send SO-AppToken "
            "(ApplicationToken) or use an app's access token (one the sign-in granted; the fixtures' "
            "access tokens belong to no application).",
            friendly_text="The application is not allowed to connect: no application token.",
        )
    return application


def pkce_matches(challenge: str, method: str, verifier: str) -> bool:
    """Whether ``verifier`` answers ``challenge`` (RFC 7636): ``S256`` or ``plain``."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        expected = verifier
    return hmac.compare_digest(expected.encode(), challenge.encode())


def _minted(tenant: str, prefix: str = "") -> str:
    """``<prefix><tenant>.<random>``: the tenant is read back by :func:`tenant_of` (its name has no dot)."""
    return f"{prefix}{tenant}.{secrets.token_urlsafe(32)}"


def new_access_token(tenant: str) -> str:
    """``8A:<ctx>.<random>``: shaped like SuperID's, opaque to clients."""
    return _minted(tenant, ACCESS_TOKEN_PREFIX)


def new_code(tenant: str) -> str:
    return _minted(tenant)


def new_refresh_token(tenant: str) -> str:
    return _minted(tenant)


def tenant_of(value: str) -> str:
    """The tenant a minted code or token names (empty when it names none)."""
    value = value.removeprefix(ACCESS_TOKEN_PREFIX)
    tenant, dot, _ = value.rpartition(".")
    return tenant if dot else ""


def is_access_token(value: str) -> bool:
    """Whether a ticket is in fact an access token (SOAP's ``Credentials/Ticket`` takes both)."""
    return value.strip().startswith(ACCESS_TOKEN_PREFIX)


def origin_key(value: str) -> str | None:
    """``value`` as origins are compared: ``scheme://host[:port]`` in lower case, without a trailing
    slash; ``None`` when it names no origin (``null``, a path, a query, no host)."""
    text = value.strip().lower().removesuffix("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises on a port that is no number
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc or parts.path or parts.query or parts.fragment or "@" in text:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def origin_allowed(origin: str, allowed: Iterable[str]) -> bool:
    """Whether a page at ``origin`` may call: ``allowed`` names it (in any case, with or without a
    trailing slash) or holds ``*``. An opaque origin (``null``: a sandboxed frame, a file) never may."""
    key = origin_key(origin)
    if key is None:
        return False
    return any(entry.strip() == "*" or origin_key(entry) == key for entry in allowed)
