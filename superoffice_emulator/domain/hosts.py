"""SuperOffice Online's own host names, which its official libraries and samples hard-code.

    superoffice_root("sod.superoffice.com")        # "https://sod.superoffice.com"
    superoffice_root("SOD.superoffice.com:8443")   # "https://sod.superoffice.com:8443"
    superoffice_root("127.0.0.1:8080")             # None: not one of SuperOffice's names

A client that signs in at ``https://sod.superoffice.com/login`` reaches the emulator under that
name once the name resolves to it and the client trusts its certificate authority; the emulator
then answers as that host, with ``https`` whatever carried the request (a TLS proxy in front
of it, say).
"""

from __future__ import annotations

SUPEROFFICE_HOSTS: tuple[str, ...] = (
    "sod.superoffice.com",
    "qaonline.superoffice.com",
    "online.superoffice.com",
    "stage.superoffice.com",
)
"""The unnumbered hosts of SuperOffice's environments (development, stage, production, stage's
older name), where the sign-in, the system-user exchange and the tenant status live."""


def superoffice_root(host: str) -> str | None:
    """``https://{env}.superoffice.com`` (with a port other than 443 when ``host`` names one) when
    the ``Host`` header ``host`` names one of :data:`SUPEROFFICE_HOSTS`, else ``None``."""
    name, _, port = host.strip().lower().partition(":")
    name = name.rstrip(".")
    if name not in SUPEROFFICE_HOSTS or (port and not port.isdigit()):
        return None
    return f"https://{name}" if port in ("", "443") else f"https://{name}:{port}"
