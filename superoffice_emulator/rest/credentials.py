"""The ``Authorization`` header of a REST call as the pipeline's credentials.

    credentials_of("SOTicket 7T:abc==")        # Ticket("7T:abc==")
    credentials_of("Basic ZGVtbzpkZW1v")       # Password("demo", "demo"); refused Online
    credentials_of("Bearer 8A:Cust1.xyz")      # AccessToken("8A:Cust1.xyz"); refused onsite
    credentials_of(None)                       # Unusable("No Authorization header ...")

The scheme is matched in any case (the docs write SOTicket, SoTicket and SOTICKET). What the
header's value means (which mode takes which scheme, whether the ticket is known) is the
pipeline's business; this module only reads it.
"""

from __future__ import annotations

import base64
import binascii

from superoffice_emulator.calls import pipeline
from superoffice_emulator.domain.errors import shown

SCHEMES = (
    "SOTicket <ticket> (a ticket from SoPrincipal.svc or the fixtures)",
    "Basic <base64 of user:password> (onsite installations only)",
    "Bearer <access token> (Online installations only)",
)
CHALLENGE = "SOTicket, Basic, Bearer"
"""The ``WWW-Authenticate`` value of a 401: the schemes a client may use."""
_SEND = "Send an Authorization header with one of: " + "; ".join(SCHEMES) + "."


def credentials_of(header: str | None) -> pipeline.Credentials:
    """The credentials in an ``Authorization`` header's value (``None``: no header)."""
    if header is None or not header.strip():
        return pipeline.Unusable("No Authorization header was sent. " + _SEND)
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    name = scheme.lower()
    if name not in ("soticket", "basic", "bearer"):
        return pipeline.Unusable(
            f"The Authorization scheme {shown(scheme)} is not one NetServer reads. {_SEND}"
        )
    if not value:
        return pipeline.Unusable(f"The Authorization header names the scheme {scheme} but no value. {_SEND}")
    if name == "soticket":
        return pipeline.Ticket(value)
    if name == "bearer":
        return pipeline.AccessToken(value)
    try:
        user, colon, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, colon, password = "", "", ""
    if not colon:
        return pipeline.Unusable(
            "The Basic credentials are not base64 of user:password in UTF-8, e.g. "
            f"'Basic {base64.b64encode(b'demo:demo').decode()}'."
        )
    return pipeline.Password(user, password)
