"""Cross-site and DNS-rebinding protection: no web page in a browser can change the emulator's state.

Two checks, before any route runs:

- **Host.** The admin API and the dashboard answer only requests whose ``Host`` is the address
  the emulator is bound to, a loopback name (``localhost``, ``*.localhost``, ``127.0.0.0/8``,
  ``::1``) or one of the ``--allowed-host`` names; anything else is a DNS-rebinding attempt (a
  page on ``evil.example`` whose name now resolves to 127.0.0.1) and gets 421. SOAP and REST
  calls are not held to the Host: integrations reach a shared emulator under names of their own.
- **Origin.** A state-changing request (any method but GET, HEAD and OPTIONS, on every route,
  SOAP included) whose ``Origin`` names a host that is not allowed, or whose
  ``Sec-Fetch-Site`` is ``cross-site``, was sent by a page on another site and gets 403.
  Clients that send neither header (curl, SOAP stacks, test code, the pytest plugin) are not
  affected, and the dashboard, served by the emulator itself, sends its own origin.

An origin that browser apps may call a REST path from (``--cors-origin``, an application's
``allowed_origins``: :mod:`superoffice_emulator.server.cors`) passes the Origin check on that path;
never on the admin API or the dashboard.

With ``--tls`` the emulator is also allowed SuperOffice's own host names (``sod.superoffice.com``
and the other three of :mod:`superoffice_emulator.domain.hosts`), which it answers as; no other
name under ``superoffice.com``.

``--allowed-host '*'`` turns the Host check off (the Origin check then allows any origin whose
host equals the request's ``Host``, as a same-origin page is).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the HTTP status and a message that names the option to use."""

    status: int
    message: str


def host_name(value: str) -> str:
    """The host part of a ``Host`` header or an origin's netloc, lower-case, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8080
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})
"""Addresses a server binds to but no client names in its Host header."""


@dataclass(frozen=True)
class HostRules:
    """The hosts a request may name: loopback, and the ``--allowed-host`` list.

    ``serve`` adds the address it is bound to (unless that is ``0.0.0.0`` or ``::``).
    """

    allowed: frozenset[str]

    @classmethod
    def of(cls, allowed: Iterable[str] = ()) -> HostRules:
        names = {host_name(a) if a != "*" else "*" for a in allowed}
        return cls(frozenset(names - WILDCARD_ADDRESSES))

    def permits(self, host: str, *, wildcard: bool = True) -> bool:
        """Whether ``host`` is allowed; ``wildcard=False`` ignores an ``*`` entry (origins)."""
        return (wildcard and "*" in self.allowed) or is_loopback(host) or host in self.allowed


def check(
    rules: HostRules,
    *,
    method: str,
    host: str,
    origin: str | None,
    fetch_site: str | None,
    admin: bool,
    app_origin: bool = False,
) -> Refusal | None:
    """The refusal for a request, or ``None`` when it may go on. ``admin``: an admin or dashboard route;
    ``app_origin``: the ``Origin`` is one whose browser apps may call this (non-admin) path
    (:mod:`superoffice_emulator.server.cors`), so its requests are the user's own app's."""
    name = host_name(host) if admin or origin is not None else ""  # a call without Origin needs none
    if admin and not rules.permits(name):
        return Refusal(
            421,
            f"This emulator does not answer its admin API or dashboard under the host name {name!r} "
            "(a protection against DNS rebinding). If that is this machine's name, start the emulator "
            f"with --allowed-host {name} (or EMULATOR_ALLOWED_HOST={name}).",
        )
    if method.upper() in SAFE_METHODS or (app_origin and not admin):
        return None
    if (fetch_site or "").strip().lower() == "cross-site":
        return Refusal(
            403,
            "Refused: this request was sent by a page on another site (Sec-Fetch-Site: cross-site), "
            "and no web page may change the emulator's state. Send it from your own code or the dashboard.",
        )
    if origin is not None and origin.strip() not in {"", "null"}:
        parts = urlsplit(origin.strip())
        from_host = host_name(parts.netloc or "")
        same_origin = "*" in rules.allowed and from_host == name
        if not (same_origin or rules.permits(from_host, wildcard=False)):
            return Refusal(
                403,
                f"Refused: this request comes from a page at {origin.strip()!r}, and no other site's page "
                "may change the emulator's state. If that page is yours, start the emulator with "
                f"--allowed-host {from_host or '<name>'}.",
            )
    elif origin is not None and origin.strip() == "null":  # sandboxed frames, file: pages, redirects
        return Refusal(
            403,
            "Refused: this request comes from a page with an opaque origin (Origin: null), and no web "
            "page may change the emulator's state.",
        )
    return None
