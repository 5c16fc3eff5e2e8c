"""The few lines a server logs when it listens: every front it answers on, how it behaves, how to log in.

    superoffice-emulator 0.1.0 listening on http://127.0.0.1:8080/ (werkzeug, in this process; database: ...)
      Mode       onsite (application tokens not checked), contract lenient (answers what NetServer ...)
      SOAP       http://127.0.0.1:8080/Remote/Services86/Appointment.svc   WSDL: ...Appointment.svc?wsdl
      REST       http://127.0.0.1:8080/api/v1/Agents/Appointment/SetActivityStatus   OpenAPI: ...openapi.json
                 tenant default; another tenant's under /<tenant>/Remote/... and /<tenant>/api/...
      Dashboard  http://127.0.0.1:8080/_emulator/ui/
      Admin API  http://127.0.0.1:8080/_emulator/   OpenAPI: http://127.0.0.1:8080/_emulator/openapi.json
      Logins     demo / demo   ticket 7T:1234abcxyzExample==

With ``--cors-origin '*'`` a ``WARNING`` line says what that opens to every website.
The logins and tickets are those of the loaded fixtures. A password is shown when the fixture file
gives it in plain text, or when the fixtures are the shipped demo data, whose users' passwords are
their names (the convention ``scripts/make_fixtures.py`` hashes); a file that holds only a hash
shows ``(hashed)``.
"""

from __future__ import annotations

from collections.abc import Iterator

from superoffice_emulator import __version__
from superoffice_emulator.domain.hosts import SUPEROFFICE_HOSTS
from superoffice_emulator.rest.paths import API_ROOT, OPENAPI, endpoint_paths
from superoffice_emulator.server.preflight import shown_url
from superoffice_emulator.settings import Settings
from superoffice_emulator.soap.operations import SERVICES
from superoffice_emulator.storage.fixtures import Fixtures, UserFixture, published_password

MAX_USERS = 8
"""Users the banner names; the admin API's ``users`` lists them all."""

MODES = {  # what each --mode and --contract means, as the banner says it
    "onsite": "application tokens not checked",
    "online": "a registered application token required",
}
CONTRACTS = {
    "lenient": "answers what NetServer refuses, with contract_warnings",
    "netserver": "refuses what NetServer refuses",
}


def banner(settings: Settings, fixtures: Fixtures, host: str, port: int, how: str) -> str:
    """The start-up text: its first line says ``listening on http://HOST:PORT/``."""
    base = f"{'https' if settings.tls else 'http'}://{_url_host(host)}:{port}"
    shown = _browsable(base, host)
    lines = [
        f"superoffice-emulator {__version__} listening on {base}/ ({how};"
        f" database: {shown_url(settings.database_url)})",
        f"  {'Mode':<10} {settings.mode} ({MODES[settings.mode]}),"
        f" contract {settings.contract} ({CONTRACTS[settings.contract]})",
    ]
    for index, service in enumerate(SERVICES):
        endpoint = f"{shown}/Remote/Services86/{service}.svc"
        lines.append(f"  {'SOAP' if index == 0 else '':<10} {endpoint}   WSDL: {endpoint}?wsdl")
    for index, path in enumerate(endpoint_paths()):
        openapi = f"   OpenAPI: {shown}{OPENAPI}" if index == 0 else ""
        lines.append(f"  {'REST' if index == 0 else '':<10} {shown}{path}{openapi}")
    lines.append(
        f"  {'':<10} tenant {settings.default_tenant}; another tenant's under"
        f" /<tenant>/Remote/Services86/... and /<tenant>{API_ROOT}/..."
    )
    admin = f"{shown}/_emulator"
    lines.append(f"  {'Dashboard':<10} {admin}/ui/")
    guard = "open" if settings.admin_token is None else "needs Authorization: Bearer <--admin-token>"
    lines.append(f"  {'Admin API':<10} {admin}/   OpenAPI: {admin}/openapi.json   ({guard})")
    lines.extend(_tls(settings, host))
    if "*" in settings.cors_origins:
        lines.append(
            f"  {'WARNING':<10} --cors-origin '*': any website's pages may call the REST API with the"
            " fixtures' published tickets and tokens and change data; name your app's origins instead"
        )
    lines.extend(_logins(settings, fixtures))
    if fixtures.application_tokens:
        need = "required" if settings.mode == "online" else "not checked in onsite mode"
        lines.append(f"  {'App token':<10} {', '.join(fixtures.application_tokens)} ({need})")
    return "\n".join(lines)


def _tls(settings: Settings, host: str) -> Iterator[str]:
    """Where the certificate authority is, and the names the emulator answers as SuperOffice."""
    if not settings.tls:
        return
    from superoffice_emulator.server import certificates

    authority = certificates.directory(settings) / certificates.AUTHORITY
    yield f"  {'HTTPS':<10} certificate authority {authority}   (how to trust it: superoffice-emulator ca)"
    others = [
        name for name in certificates.certificate_names(settings, host) if name not in SUPEROFFICE_HOSTS
    ]
    yield f"  {'':<10} certificate for {', '.join(others)} and SuperOffice's {', '.join(SUPEROFFICE_HOSTS)}"


def _logins(settings: Settings, fixtures: Fixtures) -> Iterator[str]:
    demo = settings.demo_fixtures
    users = fixtures.users
    width = max((len(_login(user, demo)) for user in users[:MAX_USERS]), default=0)
    for index, user in enumerate(users[:MAX_USERS]):
        label = "Logins" if index == 0 else ""
        tickets = f"   ticket {', '.join(user.tickets)}" if user.tickets else ""
        yield f"  {label:<10} {_login(user, demo):<{width}}{tickets}".rstrip()
    if len(users) > MAX_USERS:
        yield f"  {'':<10} ... and {len(users) - MAX_USERS} more: GET /_emulator/users"
    if not users:
        yield f"  {'Logins':<10} none (the fixtures hold no users)"


def _login(user: UserFixture, demo: bool) -> str:
    return f"{user.name} / {published_password(user, demo) or '(hashed)'}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _browsable(base: str, host: str) -> str:
    """``base`` with a wildcard address replaced by loopback, so that the URLs can be opened."""
    if host in ("0.0.0.0", ""):
        return base.replace(f"//{host}:", "//127.0.0.1:", 1)
    if host == "::":
        return base.replace("//[::]:", "//[::1]:", 1)
    return base
