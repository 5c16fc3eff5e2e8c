"""pytest fixtures for testing a SuperOffice SOAP client against the emulator (loaded automatically).

Installing ``superoffice-emulator`` registers this plugin (entry point ``pytest11``), so a test only
names the fixtures::

    def test_complete_an_appointment(superoffice_client, superoffice_tenant):
        appointment = superoffice_client("Appointment")  # a zeep client, ticket header already set
        appointment.service.SetActivityStatus(
            ActivityIdentifier={"string": ["appointment_id=1"]}, ActivityStatus="Completed"
        )

- ``superoffice_emulator``: one live emulator per test session, on a free port, with its SQLite file
  in a temporary directory (a :class:`~superoffice_emulator.testing.LiveServer`).
- ``superoffice_tenant``: a fresh tenant per test (``t-<8 hex digits>``), created from the fixtures and
  dropped afterwards, so tests never see each other's changes, also when run in parallel.
  ``superoffice_tenant.calls(operation=..., outcome=..., wire=..., user=...)`` are its journal
  entries (oldest first, with ``request_body`` and ``response_body``), and
  ``superoffice_tenant.assert_called(operation, outcome=..., times=...)`` verifies them (a failure
  lists the calls seen).
- ``superoffice_client``: ``superoffice_client("Appointment")`` is a zeep client built from the WSDL that
  the tenant's endpoint serves, pointing at that endpoint, with the ``ApplicationToken`` and
  ``Credentials`` headers set.
- ``superoffice_rest``: the tenant's REST twin: ``.session`` is a ``requests`` session with
  ``Authorization: SOTicket <ticket>`` and ``SO-AppToken`` set, ``.post("Agents/Appointment/
  SetActivityStatus", json=...)`` posts relative to ``.base_url`` (``http://127.0.0.1:PORT/<tenant>/api/v1``),
  ``.headers`` are the headers for any other client, ``.as_user(ticket=...)`` another caller.
- ``superoffice_system_user``: the demo application's system user in the tenant: ``.sign()`` signs
  its system token for the current minute with the demo app's private key (``.private_key``, also
  :func:`demo_private_key`), ``.authenticate()`` posts the exchange, ``.ticket()`` is a fresh ticket.
  :func:`sign_system_token` signs any token with any key.
- ``superoffice_sign_in``: ``superoffice_sign_in("demo")`` signs a user of the tenant in to the
  Online application ``superoffice_app`` (the demo app) without a browser, code flow with PKCE, and
  returns the access, refresh and id tokens with the id_token's checked claims.
- ``superoffice_webhooks``: a webhook receiver for the tenant (a real local HTTP server):
  ``.register(["activity.changed"], secret="s")`` registers it through the REST ``Webhook``
  endpoint, ``.assert_posted("activity.changed", primary_key=666)`` waits until the tenant's
  outbox has settled and returns the posts of that event (a failure lists every post);
  ``.events()`` are all the posts so far, each with ``.json``, ``.headers``, ``.event_id``,
  ``.signed_with(secret)``.

``pip install 'superoffice-emulator[pytest]'`` brings pytest and the clients these fixtures use
(zeep, requests); a fixture whose client is missing fails naming that extra.

Configuration, on the command line or in the ``[pytest]`` ini section (the command line wins):
``--superoffice-fixtures`` / ``superoffice_fixtures`` (a fixture file, YAML or JSON),
``--superoffice-mode`` / ``superoffice_mode`` (``onsite`` or ``online``),
``--superoffice-contract`` / ``superoffice_contract`` (``netserver``, the default: a request the
real NetServer refuses fails here too; or ``lenient``), and the ini values ``superoffice_ticket``
and ``superoffice_application_token``. For anything else, override the ``superoffice_settings``
fixture in a ``conftest.py``. One test can start from its own data with
``@pytest.mark.superoffice_fixtures("data/empty.yaml")`` (relative to the test file), and read
its requests leniently with ``@pytest.mark.superoffice_contract("lenient")``.
"""

from __future__ import annotations

import base64
import importlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING, Any, cast

import pytest

from superoffice_emulator.settings import (
    CONTRACTS,
    MODES,
    Contract,
    Mode,
    SettingError,
    Settings,
    declarations,
    default_fixtures,
)

if TYPE_CHECKING:
    from superoffice_emulator.testing import LiveServer, Posted, WebhookReceiver

DEFAULT_TICKET = "7T:1234abcxyzExample=="
"""The demo user's fixed ticket in the shipped fixtures (user ``demo``, an administrator)."""
DEFAULT_APPLICATION_TOKEN = "1234567-1234-9876"
"""The application token registered in the shipped fixtures."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("superoffice-emulator", "SuperOffice NetServer emulator")
    group.addoption(
        "--superoffice-fixtures",
        metavar="FILE",
        help="Fixture file (YAML or JSON) every superoffice_tenant starts from [default: the demo data].",
    )
    group.addoption(
        "--superoffice-mode",
        choices=MODES,
        help="onsite (application tokens not checked) or online (required) [default: onsite].",
    )
    group.addoption(
        "--superoffice-contract",
        choices=CONTRACTS,
        help="netserver (refuse what NetServer refuses) or lenient (accept the docs' schematic "
        "requests, journal where NetServer would differ) [default: netserver].",
    )
    parser.addini("superoffice_fixtures", "Fixture file for superoffice_tenant (relative to the ini file).")
    parser.addini("superoffice_contract", "netserver or lenient.", default="netserver")
    parser.addini("superoffice_mode", "onsite or online.", default="onsite")
    parser.addini("superoffice_ticket", "Ticket superoffice_client sends.", default=DEFAULT_TICKET)
    parser.addini(
        "superoffice_application_token",
        "ApplicationToken superoffice_client sends.",
        default=DEFAULT_APPLICATION_TOKEN,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "superoffice_fixtures(path): start this test's superoffice_tenant from the fixture file at path "
        "(relative to the test file).",
    )
    config.addinivalue_line(
        "markers",
        "superoffice_contract(mode): read this test's requests to its superoffice_tenant under the "
        "contract mode 'lenient' or 'netserver'.",
    )


# -- the server ---------------------------------------------------------------------------------
def _fixtures_file(config: pytest.Config) -> Path:
    option = config.getoption("superoffice_fixtures")
    if option:
        return Path(option).resolve()
    ini = str(config.getini("superoffice_fixtures") or "")
    if ini:
        base = config.inipath.parent if config.inipath else config.rootpath
        return (base / ini).resolve()
    return default_fixtures()


def _mode(config: pytest.Config) -> Mode:
    mode = str(config.getoption("superoffice_mode") or config.getini("superoffice_mode"))
    (rule,) = (d.rule for d in declarations(Settings) if d.name == "mode")  # the CLI's rule
    try:
        return cast(Mode, rule.parse(mode))
    except SettingError:
        raise pytest.UsageError(f"superoffice_mode = {mode!r}: use one of {', '.join(MODES)}.") from None


def _contract(value: object, where: str) -> Contract:
    if value not in CONTRACTS:
        raise pytest.UsageError(f"{where} = {value!r}: use one of {', '.join(CONTRACTS)}.")
    return value


@pytest.fixture(scope="session")
def superoffice_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The emulator's settings; override this fixture in a ``conftest.py`` to change anything."""
    database = tmp_path_factory.mktemp("superoffice-emulator") / "emulator.db"
    return Settings(
        database_url=f"sqlite:///{database}",
        webhook_fast_retries=True,  # a failing receiver's three tries take a moment, not 5 s
        fixtures=_fixtures_file(request.config),
        mode=_mode(request.config),
        contract=_contract(
            request.config.getoption("superoffice_contract") or request.config.getini("superoffice_contract"),
            "superoffice_contract",
        ),
    )


@pytest.fixture(scope="session")
def superoffice_emulator(superoffice_settings: Settings) -> Iterator[LiveServer]:
    """A live emulator on 127.0.0.1 and a free port, for the whole test session."""
    from superoffice_emulator.storage.fixtures import FixtureError
    from superoffice_emulator.testing import LiveServer

    try:
        server = LiveServer(superoffice_settings)
    except FixtureError as exc:
        raise pytest.UsageError(f"superoffice_fixtures: {exc}") from None
    with server:
        yield server


# -- one tenant per test ------------------------------------------------------------------------
class AdminAPIError(Exception):
    """The admin API answered an HTTP error; ``status`` and the answer's ``body`` say which."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body.strip()}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class SuperOfficeTenant:
    """A tenant of the live emulator: its own data, journal and injected faults."""

    name: str
    server: LiveServer

    @property
    def url(self) -> str:
        """The tenant's base URL, ``http://127.0.0.1:PORT/<name>``."""
        return self.server.url(f"/{self.name}")

    def service_url(self, service: str) -> str:
        """The endpoint of ``service``, e.g. ``.../<name>/Remote/Services86/Appointment.svc``."""
        return f"{self.url}/Remote/Services86/{service}.svc"

    def wsdl_url(self, service: str) -> str:
        return self.service_url(service) + "?wsdl"

    def admin_url(self, path: str = "") -> str:
        """A URL of the tenant's admin API, e.g. ``admin_url("journal")``."""
        return f"{self.url}/_emulator/{path.lstrip('/')}"

    def admin(self, path: str, *, method: str = "GET", json_body: object = None) -> Any:
        """Call the tenant's admin API and return its JSON answer, e.g. ``admin("activities/appointment/1")``.

        Sends the emulator's admin token when it has one; an HTTP error raises :class:`AdminAPIError`.
        """
        data = None if json_body is None else json.dumps(json_body).encode()
        request = urllib.request.Request(self.admin_url(path), data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        token = self.server.app.runtime.settings.admin_token
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            with exc:
                raise AdminAPIError(exc.code, exc.read().decode("utf-8", "replace")) from None

    def calls(
        self,
        operation: str | None = None,
        outcome: str | None = None,
        wire: str | None = None,
        user: str | None = None,
    ) -> list[dict[str, Any]]:
        """The tenant's journal entries matching every filter given, oldest first: dicts as the
        admin API's ``journal`` returns them, with ``request_body`` and ``response_body``."""
        query = {"operation": operation, "outcome": outcome, "wire": wire, "user": user}
        query_string = urllib.parse.urlencode(
            {**{key: value for key, value in query.items() if value is not None}, "limit": 2**31 - 1}
        )
        return list(reversed(self.admin(f"journal?{query_string}")))

    def assert_called(
        self,
        operation: str | None = None,
        *,
        outcome: str | None = None,
        wire: str | None = None,
        user: str | None = None,
        times: int | None = None,
    ) -> list[dict[str, Any]]:
        """Assert that the tenant's journal has calls matching every filter given: ``times`` of
        them, or at least one. The matching entries, oldest first; on failure, the message
        lists every call the tenant saw."""
        __tracebackhide__ = True  # a failure points at the test's line, not at this method
        matching = self.calls(operation, outcome, wire, user)
        if (len(matching) == times) if times is not None else bool(matching):
            return matching
        wanted = {"operation": operation, "outcome": outcome, "wire": wire, "user": user}
        described = ", ".join(f"{key}={value!r}" for key, value in wanted.items() if value is not None)
        expected = "at least once" if times is None else f"{times} time{'s' * (times != 1)}"
        seen = self.calls()
        lines = [
            f"expected calls with {described or 'any filter'} {expected}, found {len(matching)}; "
            f"tenant {self.name} saw {len(seen)} call{'s' * (len(seen) != 1)}:"
        ]
        lines += [f"  {_described_call(entry)}" for entry in seen] or ["  (none)"]
        raise AssertionError("\n".join(lines))

    def reset(self, fixtures: Path | None = None) -> None:
        """Put the tenant back to the session's fixtures, or to the fixture file ``fixtures``."""
        from superoffice_emulator.storage.fixtures import load_fixtures

        database = self.server.app.runtime.database
        database.reset(self.name, load_fixtures(fixtures) if fixtures else None)  # its faults too


def _described_call(entry: dict[str, Any]) -> str:
    """One journal entry on one line, for a failed verification."""
    failure = f" {entry['exception_type']}" if entry.get("exception_type") else ""
    return (
        f"#{entry['id']} {entry['wire']} {entry['service']}.{entry['operation']} "
        f"user={entry['user'] or '-'} ids={entry['identifiers']} outcome={entry['outcome']}{failure}"
    )


@pytest.fixture
def superoffice_tenant(
    superoffice_emulator: LiveServer, request: pytest.FixtureRequest
) -> Iterator[SuperOfficeTenant]:
    """A fresh tenant for this test, created from the fixtures and dropped after it."""
    tenant = SuperOfficeTenant(f"t-{uuid.uuid4().hex[:8]}", superoffice_emulator)
    runtime = superoffice_emulator.app.runtime
    marker = request.node.get_closest_marker("superoffice_fixtures")
    if marker is not None:
        tenant.reset(request.path.parent / str(marker.args[0]))
    else:
        runtime.database.ensure_tenant(tenant.name)
    contract = request.node.get_closest_marker("superoffice_contract")
    if contract is not None:
        runtime.contracts[tenant.name] = _contract(
            contract.args[0] if contract.args else None, "superoffice_contract"
        )
    yield tenant
    runtime.database.drop_tenant(tenant.name)  # its faults too
    runtime.contracts.pop(tenant.name, None)


# -- the REST twin ------------------------------------------------------------------------------
@dataclass
class SuperOfficeRest:
    """The tenant's REST endpoints and a ready ``requests`` session for them."""

    tenant: SuperOfficeTenant
    headers: dict[str, str]
    """``Authorization`` and ``SO-AppToken`` as the session sends them: give them to any other client."""
    session: Any
    """A ``requests.Session`` with :attr:`headers` set."""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/<tenant>/api/v1``: what ``new WebApi(...)`` and friends point at is
        :attr:`tenant`'s ``url``; paths below this one are the Agents endpoints."""
        return f"{self.tenant.url}/api/v1"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def post(self, path: str, **kwargs: Any) -> Any:
        """``session.post`` below :attr:`base_url`, e.g. ``"Agents/Appointment/SetActivityStatus"``."""
        kwargs.setdefault("timeout", 60)
        return self.session.post(self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 60)
        return self.session.get(self.url(path), **kwargs)

    def as_user(
        self, *, ticket: str | None = None, application_token: str | EllipsisType | None = ...
    ) -> SuperOfficeRest:
        """Another caller on the same tenant: ``ticket`` (``None``: no Authorization header)."""
        token = self.headers.get("SO-AppToken") if application_token is ... else application_token
        return _rest(self.tenant, ticket, token, self._closing)

    def close(self) -> None:
        for session in self._closing:
            session.close()
        self._closing.clear()

    _closing: list[Any] = field(default_factory=list)


def _rest(
    tenant: SuperOfficeTenant, ticket: str | None, token: str | None, closing: list[Any]
) -> SuperOfficeRest:
    requests = _client_package("requests", "superoffice_rest")
    headers = {}
    if ticket is not None:
        headers["Authorization"] = f"SOTicket {ticket}"
    if token is not None:
        headers["SO-AppToken"] = token
    session = requests.Session()
    session.headers.update(headers)
    closing.append(session)
    return SuperOfficeRest(tenant, headers, session, closing)


@pytest.fixture
def superoffice_rest(
    superoffice_tenant: SuperOfficeTenant, request: pytest.FixtureRequest
) -> Iterator[SuperOfficeRest]:
    """The tenant's REST twin with a ``requests`` session whose ticket and application token are set."""
    rest = _rest(
        superoffice_tenant,
        str(request.config.getini("superoffice_ticket")),
        str(request.config.getini("superoffice_application_token")),
        [],
    )
    yield rest
    rest.close()


# -- webhooks -----------------------------------------------------------------------------------
@dataclass
class SuperOfficeWebhooks:
    """A webhook receiver of the tenant: registers itself, and says what the emulator posted to it."""

    tenant: SuperOfficeTenant
    receiver: WebhookReceiver
    headers: dict[str, str]
    """``Authorization`` and ``SO-AppToken`` for the REST ``Webhook`` endpoint."""

    @property
    def url(self) -> str:
        """The receiver's URL, the ``TargetUrl`` :meth:`register` gives."""
        return self.receiver.url

    def register(
        self,
        events: tuple[str, ...] | list[str] = ("activity.changed", "document.changed", "sale.*"),
        *,
        name: str = "pytest",
        secret: str = "",
        **fields: Any,
    ) -> dict[str, Any]:
        """Register the receiver for ``events`` (``POST /api/v1/Webhook``; other carrier fields as
        ``fields``, e.g. ``Headers={...}``): the saved carrier. Refused: :class:`AdminAPIError`."""
        carrier = {"Name": name, "Events": list(events), "TargetUrl": self.url, "Secret": secret, **fields}
        request = urllib.request.Request(
            f"{self.tenant.url}/api/v1/Webhook",
            data=json.dumps(carrier).encode(),
            headers={**self.headers, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                saved: dict[str, Any] = json.load(response)
                return saved
        except urllib.error.HTTPError as exc:
            with exc:
                raise AdminAPIError(exc.code, exc.read().decode("utf-8", "replace")) from None

    def settled(self, within: float = 60) -> list[dict[str, Any]]:
        """Wait until none of the tenant's events is pending (each delivered, or failed after its
        tries, or dropped): the outbox's events, oldest first, as the admin API lists them."""
        __tracebackhide__ = True
        deadline = time.monotonic() + within
        while self.tenant.admin("webhooks/events?outcome=pending&limit=1")["events"]:
            if time.monotonic() > deadline:
                raise AssertionError(f"webhook events of {self.tenant.name} still pending after {within:g} s")
            time.sleep(0.05)
        return list(reversed(self.tenant.admin("webhooks/events?limit=1000")["events"]))

    def events(self) -> list[Posted]:
        """Every event posted to the receiver so far (not the test posts of a registration)."""
        return self.receiver.events()

    def assert_posted(
        self, event: str | None = None, *, primary_key: int | None = None, times: int | None = None
    ) -> list[Posted]:
        """Once the outbox has settled, assert the receiver got posts of ``event`` (about the record
        ``primary_key``): ``times`` of them, or at least one. Every try of an event counts."""
        __tracebackhide__ = True
        self.settled()
        posts = self.events()
        matching = [
            p
            for p in posts
            if (event is None or p.event == event)
            and (primary_key is None or p.json["PrimaryKey"] == primary_key)
        ]
        if (len(matching) == times) if times is not None else bool(matching):
            return matching
        expected = "at least once" if times is None else f"{times} time{'s' * (times != 1)}"
        lines = [
            f"expected {event or 'any event'} (PrimaryKey {primary_key}) {expected}, found {len(matching)}:"
        ]
        lines += [f"  {p.event} PrimaryKey={p.json.get('PrimaryKey')} retry={p.retry}" for p in posts] or [
            "  (none)"
        ]
        raise AssertionError("\n".join(lines))


@pytest.fixture
def superoffice_webhooks(
    superoffice_tenant: SuperOfficeTenant, request: pytest.FixtureRequest
) -> Iterator[SuperOfficeWebhooks]:
    """A webhook receiver for this test's tenant, on a free local port; ``.register()`` it first."""
    from superoffice_emulator.testing import WebhookReceiver

    headers = {
        "Authorization": f"SOTicket {request.config.getini('superoffice_ticket')}",
        "SO-AppToken": str(request.config.getini("superoffice_application_token")),
    }
    with WebhookReceiver() as receiver:
        yield SuperOfficeWebhooks(superoffice_tenant, receiver, headers)


# -- zeep clients -------------------------------------------------------------------------------
class SuperOfficeClients:
    """The ``superoffice_client`` factory: zeep clients for one tenant, closed after the test."""

    def __init__(self, tenant: SuperOfficeTenant, ticket: str, application_token: str) -> None:
        self.tenant = tenant
        self.ticket = ticket
        self.application_token = application_token
        self._sessions: list[Any] = []

    def __call__(
        self,
        service: str = "Appointment",
        *,
        ticket: str | EllipsisType | None = ...,
        application_token: str | EllipsisType | None = ...,
    ) -> Any:
        """A zeep ``Client`` for ``service`` of the tenant; ``None`` leaves a header out."""
        zeep = _client_package("zeep", "superoffice_client")
        requests = _client_package("requests", "superoffice_client")
        session = requests.Session()
        self._sessions.append(session)
        client = zeep.Client(
            self.tenant.wsdl_url(service), transport=zeep.Transport(session=session, operation_timeout=60)
        )
        token = self.application_token if application_token is ... else application_token
        ticket = self.ticket if ticket is ... else ticket
        headers: dict[str, Any] = {
            "ApplicationToken": token,
            "Credentials": None if ticket is None else {"Ticket": ticket},
        }
        port = _port(client)
        port.binding_options["address"] = self.tenant.service_url(service)
        declared = _declared_headers(port)
        client.set_default_soapheaders(
            {name: value for name, value in headers.items() if name in declared and value is not None}
        )
        return client

    def close(self) -> None:
        for session in self._sessions:
            session.close()
        self._sessions.clear()


EXTRA = "pip install 'superoffice-emulator[pytest]'"
"""What installs every package the fixtures use (the ``pytest`` extra)."""


def _client_package(name: str, fixture: str) -> Any:
    """The package ``name`` that ``fixture`` needs, or the test fails saying how to install it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:  # the package, or one it imports (zeep without requests)
        missing = exc.name or name
    needed = name if missing == name else f"{missing} (for {name})"
    # failed outside the handler, so the report is one line, not a chain of exceptions
    pytest.fail(
        f"{fixture} needs {needed}, which is not installed. Install the plugin's extra: {EXTRA}",
        pytrace=False,
    )


def _port(client: Any) -> Any:
    """The port ``client.service`` binds to: the WSDL's first service's first port."""
    service = next(iter(client.wsdl.services.values()))
    return next(iter(service.ports.values()))


def _declared_headers(port: Any) -> set[str]:
    """The in-header parts every operation of ``port`` declares in the WSDL."""
    declared: set[str] | None = None
    for operation in port.binding.all().values():
        header = operation.input.header
        names = {name for name, _ in header.type.elements} if header is not None else set()
        declared = names if declared is None else declared & names
    return declared or set()


@pytest.fixture
def superoffice_client(
    superoffice_tenant: SuperOfficeTenant, request: pytest.FixtureRequest
) -> Iterator[SuperOfficeClients]:
    """A factory: ``superoffice_client("Appointment")`` is a zeep client for this test's tenant."""
    clients = SuperOfficeClients(
        superoffice_tenant,
        ticket=str(request.config.getini("superoffice_ticket")),
        application_token=str(request.config.getini("superoffice_application_token")),
    )
    yield clients
    clients.close()


# -- Online sign-in -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SuperOfficeApp:
    """An Online application registered in the fixtures: what an app's configuration holds."""

    client_id: str
    client_secret: str
    """Also the application token (``SO-AppToken``, ``ApplicationToken``)."""
    redirect_uri: str


DEMO_APP = SuperOfficeApp("demo-app", "demo-app-secret", "http://127.0.0.1:3000/callback")
"""The application registered in every tenant of the shipped fixtures."""
CLAIMS = "http://schemes.superoffice.net/identity/"
"""The prefix of SuperOffice's own id_token claims."""


@dataclass(frozen=True)
class SignedIn:
    """The tokens of one sign-in, and the id_token's claims (its signature checked with the JWKS)."""

    access_token: str
    refresh_token: str
    id_token: str
    claims: dict[str, Any]
    expires_in: int

    def claim(self, name: str) -> Any:
        """One of SuperOffice's claims by its short name (``ctx``, ``webapi_url``, ``associateid``)."""
        return self.claims[CLAIMS + name]

    @property
    def webapi_url(self) -> str:
        """``http://127.0.0.1:PORT/<tenant>/api/``: REST calls go below it, ``Bearer`` the access token."""
        return str(self.claim("webapi_url"))

    @property
    def netserver_url(self) -> str:
        """``http://127.0.0.1:PORT/<tenant>/Remote/Services86/``: SOAP's ``Credentials/Ticket`` takes the
        access token."""
        return str(self.claim("netserver_url"))

    @property
    def bearer(self) -> dict[str, str]:
        """``Authorization: Bearer`` with the access token, to give to any HTTP client."""
        return {"Authorization": f"Bearer {self.access_token}"}


class SuperOfficeSignIn:
    """The ``superoffice_sign_in`` helper: signs a user of the tenant in to :attr:`app` without a
    browser, with the authorization code flow and PKCE (S256), as an Online app does."""

    def __init__(self, tenant: SuperOfficeTenant, app: SuperOfficeApp) -> None:
        self.tenant = tenant
        self.app = app

    def url(self, path: str = "") -> str:
        """The emulator's URL of ``path``: SuperID's paths have no tenant."""
        return self.tenant.server.url(path)

    def __call__(self, user: str = "demo") -> SignedIn:
        """Sign ``user`` in: authorize (``login_hint``, or the sign-in page's approval when the
        emulator shows one), then the token exchange; the tokens and the checked claims."""
        import base64
        import hashlib
        import secrets

        requests = _client_package("requests", "superoffice_sign_in")
        verifier, state, nonce = (
            secrets.token_urlsafe(48),
            secrets.token_urlsafe(12),
            secrets.token_urlsafe(12),
        )
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {
            "client_id": self.app.client_id,
            "redirect_uri": self.app.redirect_uri,
            "response_type": "code",
            "scope": "openid",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "acr_values": f"tenant:{self.tenant.name}",
            "login_hint": user,
        }
        with requests.Session() as session:
            authorize = self.url("/login/common/oauth/authorize")
            answer = session.get(authorize, params=query, allow_redirects=False, timeout=60)
            if answer.status_code == 200:  # the sign-in page: approve as the person would
                approval = {**query, "user": user, "tenant": self.tenant.name, "decision": "approve"}
                answer = session.post(authorize, data=approval, allow_redirects=False, timeout=60)
            values = _redirected(answer, "authorize")
            if values.get("state") != state or "code" not in values:
                pytest.fail(
                    f"superoffice_sign_in: the sign-in of {user!r} was refused: {values}", pytrace=False
                )
            tokens = session.post(
                self.url("/login/common/oauth/tokens"),
                data={
                    "grant_type": "authorization_code",
                    "code": values["code"],
                    "redirect_uri": self.app.redirect_uri,
                    "client_id": self.app.client_id,
                    "client_secret": self.app.client_secret,
                    "code_verifier": verifier,
                },
                timeout=60,
            )
            signed_in = self._signed_in(session, tokens)
        if signed_in.claims.get("nonce") != nonce:
            pytest.fail("superoffice_sign_in: the id_token does not carry the request's nonce", pytrace=False)
        return signed_in

    def refresh(self, signed_in: SignedIn) -> SignedIn:
        """A new access token (and id_token) for ``signed_in``'s refresh token."""
        requests = _client_package("requests", "superoffice_sign_in")
        with requests.Session() as session:
            tokens = session.post(
                self.url("/login/common/oauth/tokens"),
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": signed_in.refresh_token,
                    "client_id": self.app.client_id,
                    "client_secret": self.app.client_secret,
                },
                timeout=60,
            )
            return self._signed_in(session, tokens)

    def _signed_in(self, session: Any, answer: Any) -> SignedIn:
        import jwt

        if answer.status_code != 200:
            pytest.fail(
                f"superoffice_sign_in: the token endpoint answered {answer.status_code}: {answer.text}"
            )
        tokens = answer.json()
        keys = jwt.PyJWKSet.from_dict(session.get(self.url("/login/.well-known/jwks"), timeout=60).json())
        kid = jwt.get_unverified_header(tokens["id_token"]).get("kid")
        key = next((k for k in keys.keys if k.key_id == kid), None)
        if key is None:
            pytest.fail(f"superoffice_sign_in: no key {kid!r} in the JWKS", pytrace=False)
        claims = jwt.decode(
            tokens["id_token"], key.key, algorithms=["RS256"], audience=self.app.client_id, issuer=self.url()
        )
        return SignedIn(
            tokens["access_token"],
            tokens["refresh_token"],
            tokens["id_token"],
            claims,
            int(tokens["expires_in"]),
        )


def _redirected(answer: Any, step: str) -> dict[str, str]:
    """The values of a redirect to the application (query or fragment)."""
    location = answer.headers.get("Location") if answer.status_code in (302, 303) else None
    if not location:
        pytest.fail(
            f"superoffice_sign_in: {step} answered {answer.status_code}, not a redirect: {answer.text[:300]}",
            pytrace=False,
        )
    parts = urllib.parse.urlsplit(location)
    return dict(urllib.parse.parse_qsl(parts.query or parts.fragment))


@pytest.fixture
def superoffice_app() -> SuperOfficeApp:
    """The Online application the sign-in helper uses (the demo app); override it for your own."""
    return DEMO_APP


@pytest.fixture
def superoffice_sign_in(
    superoffice_tenant: SuperOfficeTenant, superoffice_app: SuperOfficeApp
) -> SuperOfficeSignIn:
    """``superoffice_sign_in("demo")`` signs a user of the tenant in to ``superoffice_app``: tokens
    and claims, no browser."""
    return SuperOfficeSignIn(superoffice_tenant, superoffice_app)


# -- system users -------------------------------------------------------------------------------
DEMO_SYSTEM_TOKEN = "Demo Online App-DemoSystemToken"
"""The demo application's system token in every tenant of the shipped fixtures."""


def demo_private_key() -> str:
    """The demo application's RSA private key (PEM): demo data, published with the package, never a
    secret. Its public half is registered for ``demo-app`` in the shipped fixtures."""
    return default_fixtures().with_name("demo-app-private-key.pem").read_text(encoding="ascii")


def sign_system_token(
    system_token: str, private_key: str | bytes | None = None, *, at: datetime | None = None
) -> str:
    """``system_token.yyyyMMddHHmm.base64(signature)`` for the minute ``at`` (default: now, UTC),
    signed as SuperOffice's samples sign it: RSA PKCS#1 v1.5 over SHA-256 of
    ``system_token.yyyyMMddHHmm``, with ``private_key`` (PEM; default: the demo application's)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    pem = demo_private_key() if private_key is None else private_key
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the private key is not an RSA key")
    stamp = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d%H%M")
    payload = f"{system_token}.{stamp}"
    signature = key.sign(payload.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{payload}.{base64.b64encode(signature).decode('ascii')}"


@dataclass(frozen=True)
class SuperOfficeSystemUser:
    """The demo application's system user in a tenant: sign its system token, exchange it for a ticket."""

    tenant: SuperOfficeTenant
    system_token: str
    """The tenant's system token for the demo application (its consent's)."""
    client_secret: str = DEMO_APP.client_secret
    private_key: str = field(default_factory=demo_private_key, repr=False)

    @property
    def url(self) -> str:
        """The REST exchange: ``http://127.0.0.1:PORT/Login/api/PartnerSystemUser/Authenticate``."""
        return self.tenant.server.url("/Login/api/PartnerSystemUser/Authenticate")

    def sign(
        self,
        system_token: str | None = None,
        *,
        private_key: str | bytes | None = None,
        at: datetime | None = None,
    ) -> str:
        """:func:`sign_system_token` with this system user's token and key unless others are given."""
        return sign_system_token(
            self.system_token if system_token is None else system_token,
            self.private_key if private_key is None else private_key,
            at=at,
        )

    def authenticate(self, signed_token: str | None = None, *, application_token: str | None = None) -> Any:
        """Post the exchange (``signed_token`` default: :meth:`sign` now) and return its JSON answer,
        ``{"IsSuccessful", "Token", "ErrorMessage"}``."""
        body = {
            "SignedSystemToken": self.sign() if signed_token is None else signed_token,
            "ApplicationToken": self.client_secret if application_token is None else application_token,
            "ContextIdentifier": self.tenant.name,
            "ReturnTokenType": "JWT",
        }
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def ticket(self) -> str:
        """A fresh system user ticket (``7T:...``, 6 hours sliding): the exchange's JWT's ticket claim."""
        import jwt

        answer = self.authenticate()
        if not answer["IsSuccessful"]:
            raise AssertionError(f"the system user exchange was refused: {answer['ErrorMessage']}")
        claims = jwt.decode(answer["Token"], options={"verify_signature": False})
        return str(claims[CLAIMS + "ticket"])


@pytest.fixture
def superoffice_system_user(superoffice_tenant: SuperOfficeTenant) -> SuperOfficeSystemUser:
    """The demo application's system user in this test's tenant (see :class:`SuperOfficeSystemUser`)."""
    consents = superoffice_tenant.admin("consents")
    ours = (c["system_token"] for c in consents if c["client_id"] == DEMO_APP.client_id)
    token = next(ours, DEMO_SYSTEM_TOKEN)
    return SuperOfficeSystemUser(superoffice_tenant, token)
