"""Settings of one emulator, each declared once: its option, its variable, its help, its rule.

    from superoffice_emulator.settings import Settings, from_env

    settings = Settings(database_url="sqlite:///crm.db")      # in a test
    settings = from_env(Settings, {"EMULATOR_MODE": "online"})  # as superoffice_emulator.server.wsgi does

Every field of :class:`Settings` (what an emulator is told) and of :class:`ServerOptions` (how
``serve`` runs it) carries a :class:`Declaration` in its metadata. From it come the click options
of the CLI (:mod:`superoffice_emulator.cli`), the ``EMULATOR_*`` parsing of every entry point
(:func:`from_env`), and the configuration table of ``docs/configuration.md`` (:func:`markdown_table`,
which a test holds that page to). A value is checked by the declaration's :class:`Rule`, the same one
wherever it comes from. An empty variable counts as not set, as click counts it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from superoffice_emulator.domain.errors import shown
from superoffice_emulator.domain.online import origin_key
from superoffice_emulator.domain.values import INT32_MAX, is_tenant_name, tenant_name_error

Mode = Literal["onsite", "online"]
Contract = Literal["lenient", "netserver"]
CONTRACTS: tuple[Contract, ...] = ("lenient", "netserver")
LogFormat = Literal["text", "json"]
T = TypeVar("T")
S = TypeVar("S")

MODES: tuple[Mode, ...] = ("onsite", "online")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")


def default_fixtures() -> Path:
    """The fixture file shipped with the package (``fixtures/default.yaml`` in the source tree)."""
    return Path(str(resources.files("superoffice_emulator.fixtures").joinpath("default.yaml")))


class SettingError(ValueError):
    """A value a setting does not take; the message says what it takes."""


# -- rules: text to value, and back ------------------------------------------------------------
class Rule(Generic[T]):
    """How the text of a setting (an option, a variable) becomes its value."""

    metavar = "TEXT"

    def parse(self, text: str) -> T:
        raise NotImplementedError

    def format(self, value: T) -> str:
        """``value`` as text that :meth:`parse` reads back."""
        return "" if value is None else str(value)


class Text(Rule[str | None]):
    """Any text; the empty text is no value (``None``)."""

    def parse(self, text: str) -> str | None:
        return text or None


class Choice(Rule[str]):
    def __init__(self, options: tuple[str, ...], *, case_sensitive: bool = True) -> None:
        self.options = options
        self.case_sensitive = case_sensitive
        self.metavar = f"[{'|'.join(options)}]"

    def parse(self, text: str) -> str:
        for option in self.options:
            if text.strip() == option or (not self.case_sensitive and text.strip().lower() == option):
                return option
        raise SettingError(f"{shown(text)} is not one of {', '.join(map(repr, self.options))}.")


class Flag(Rule[bool]):
    TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
    FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
    metavar = "BOOLEAN"

    def parse(self, text: str) -> bool:
        value = text.strip().lower()
        if value in self.TRUE or value in self.FALSE:
            return value in self.TRUE
        raise SettingError(f"{shown(text)} is not a boolean: use true or false (also 1/0, yes/no, on/off).")

    def format(self, value: bool) -> str:
        return "true" if value else "false"


class Number(Rule[int]):
    metavar = "INTEGER"

    def __init__(self, minimum: int, maximum: int = INT32_MAX) -> None:
        self.minimum, self.maximum = minimum, maximum

    def parse(self, text: str) -> int:
        digits = text.strip()
        if digits.isdigit() and len(digits) <= 10 and self.minimum <= int(digits) <= self.maximum:
            return int(digits)
        raise SettingError(f"{shown(text)} is not a whole number from {self.minimum} to {self.maximum}.")


class Seconds(Rule[float]):
    """A duration in seconds, above zero (``2.5`` allowed)."""

    metavar = "SECONDS"

    def __init__(self, maximum: float = 24 * 3600) -> None:
        self.maximum = maximum

    def parse(self, text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            value = -1.0
        if 0 < value <= self.maximum:
            return value
        raise SettingError(f"{shown(text)} is not a number of seconds above 0 and at most {self.maximum:g}.")

    def format(self, value: float) -> str:
        return f"{value:g}"


class Host(Rule[str]):
    metavar = "HOST"

    def parse(self, text: str) -> str:
        if not text.strip():
            raise SettingError("the host is empty: use 127.0.0.1 (this machine) or 0.0.0.0 (every network).")
        return text.strip()


class HostList(Rule[tuple[str, ...]]):
    """Host names, separated by commas; ``*`` for any."""

    metavar = "HOST[,HOST...]"

    def parse(self, text: str) -> tuple[str, ...]:
        names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
        for name in names:
            if name != "*" and not all(c.isalnum() or c in ".-_:[]" for c in name):
                raise SettingError(f"{shown(name)} is not a host name or address.")
        return names

    def format(self, value: tuple[str, ...]) -> str:
        return ",".join(value)


class OriginList(Rule[tuple[str, ...]]):
    """Origins (``scheme://host[:port]``) separated by spaces, as NetServer's ``CORSOrigin``; ``*``: any."""

    metavar = "ORIGIN[ ORIGIN...]"

    def parse(self, text: str) -> tuple[str, ...]:
        origins = []
        for entry in text.replace(",", " ").split():
            origin = "*" if entry == "*" else origin_key(entry)
            if origin is None:
                raise SettingError(
                    f"{shown(entry)} is not an origin: write scheme://host[:port] with no path, "
                    "such as https://app.example.com or http://localhost:3000, or * for any."
                )
            origins.append(origin)
        return tuple(origins)

    def format(self, value: tuple[str, ...]) -> str:
        return " ".join(value)


class TenantName(Rule[str]):
    metavar = "NAME"

    def parse(self, text: str) -> str:
        if not is_tenant_name(text):
            raise SettingError(tenant_name_error(text))
        return text


class DatabaseUrl(Rule[str]):
    """A SQLAlchemy URL of a database the emulator runs on: a SQLite file or PostgreSQL."""

    metavar = "URL"

    def parse(self, text: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        from superoffice_emulator.storage.sql import dialect_named

        try:
            url = make_url(text)
            dialect_named(url.get_backend_name())
            url.get_dialect()
            if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
                raise ValueError(
                    "an in-memory SQLite database exists once per connection, so every thread and worker"
                    " would see an empty one of its own; name a file"
                )
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
            reason = "not of the form dialect+driver://..." if isinstance(exc, ArgumentError) else exc
            raise SettingError(
                f"{shown(text)} is not a usable SQLAlchemy URL ({reason}). Use for example "
                "sqlite:///emulator.db or postgresql+psycopg://user:password@host/dbname."
            ) from None
        return text


class FixtureFile(Rule[Path]):
    """A fixture file that exists and is valid (it is loaded, and the loaded data is cached)."""

    metavar = "FILE"

    def __init__(self, advice: str = "Fix the file, or leave the option out for the demo data.") -> None:
        self.advice = advice

    def parse(self, text: str) -> Path:
        from superoffice_emulator.storage.fixtures import FixtureError, load_fixtures

        path = Path(text)
        if not path.is_file():
            missing = "is a directory" if path.is_dir() else "does not exist"
            raise SettingError(f"{text} {missing}: name a YAML or JSON fixture file. {self.advice}")
        try:
            load_fixtures(path)
        except FixtureError as exc:
            raise SettingError(f"{exc}. {self.advice}") from None
        return path


class CertificateNames(HostList):
    """Host names and IP addresses a certificate can name, separated by commas."""

    metavar = "NAME[,NAME...]"

    def parse(self, text: str) -> tuple[str, ...]:
        import ipaddress

        names = []
        for name in super().parse(text):
            name = name.strip("[]")
            try:
                names.append(str(ipaddress.ip_address(name)))
                continue
            except ValueError:
                pass
            labels = name.split(".")
            if not all(label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels):
                raise SettingError(f"{shown(name)} is not a host name or IP address a certificate can name.")
            names.append(name)
        return tuple(names)


class Folder(Rule[Path | None]):
    """A directory (made when missing); the empty text is none."""

    metavar = "DIRECTORY"

    def parse(self, text: str) -> Path | None:
        return Path(text.strip()) if text.strip() else None


# -- declarations -------------------------------------------------------------------------------
Group = Literal["Server", "Data", "Behaviour", "Security and limits", "Journal and log"]
GROUPS: tuple[Group, ...] = ("Server", "Data", "Behaviour", "Security and limits", "Journal and log")
"""The headings ``serve --help`` lists the settings under, in this order."""


@dataclass(frozen=True)
class Declaration:
    """One setting: the field ``name``, its ``option`` and ``env`` names, ``help``, its ``rule`` and
    the ``group`` ``--help`` lists it in."""

    option: str
    """``--port``, or ``--strict/--no-strict`` for a flag."""
    rule: Rule[Any]
    help: str
    group: Group
    shown_default: str | None = None
    """How the default reads in --help and the docs, when not as the value itself."""
    name: str = ""
    default: Any = None

    @property
    def env(self) -> str:
        return "EMULATOR_" + self.option.split("/")[0].removeprefix("--").upper().replace("-", "_")

    @property
    def is_flag(self) -> bool:
        return isinstance(self.rule, Flag)


def declare(
    option: str, rule: Rule[Any], help: str, *, group: Group, shown_default: str | None = None
) -> dict[str, Any]:
    """A field's metadata that declares it a setting: ``field(default=..., metadata=declare(...))``."""
    return {"setting": Declaration(option, rule, help, group, shown_default)}


def declarations(cls: type[Any]) -> tuple[Declaration, ...]:
    """The declarations of ``cls``' fields, with their names and defaults, in declared order."""
    found = []
    for declared in dataclasses.fields(cls):
        declaration: Declaration = declared.metadata["setting"]
        default = declared.default
        if default is dataclasses.MISSING and declared.default_factory is not dataclasses.MISSING:
            default = declared.default_factory()
        found.append(dataclasses.replace(declaration, name=declared.name, default=default))
    return tuple(found)


def from_env(cls: type[S], environ: Mapping[str, str], names: tuple[str, ...] | None = None) -> S:
    """``cls`` from ``EMULATOR_*`` variables (only ``names``' when given); :class:`SettingError`."""
    values: dict[str, Any] = {}
    for declaration in declarations(cls):
        text = environ.get(declaration.env, "")
        if not text or (names is not None and declaration.name not in names):
            continue
        try:
            values[declaration.name] = declaration.rule.parse(text)
        except SettingError as exc:
            raise SettingError(f"{declaration.env}: {exc}") from None
    return cls(**values)


def to_env(instance: object) -> dict[str, str]:
    """The ``EMULATOR_*`` variables that :func:`from_env` turns back into ``instance``."""
    return {
        declaration.env: declaration.rule.format(getattr(instance, declaration.name))
        for declaration in declarations(type(instance))
    }


def markdown_table() -> str:
    """The configuration table of ``docs/configuration.md``: every setting of ``serve``, one row each."""
    rows = ["| Option | Environment | Default | Meaning |", "|---|---|---|---|"]
    for declaration in (*declarations(ServerOptions), *declarations(Settings)):
        default = declaration.shown_default or f"`{declaration.rule.format(declaration.default)}`"
        rows.append(f"| `{declaration.option}` | `{declaration.env}` | {default} | {declaration.help} |")
    return "\n".join(rows) + "\n"


# -- the settings -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """Everything an emulator can be told; every field has a default that just works."""

    database_url: str = field(
        default="sqlite:///superoffice-emulator.db",
        metadata=declare(
            "--database-url",
            DatabaseUrl(),
            "SQLAlchemy URL of the database: a SQLite file, or postgresql+psycopg://... for a shared server.",
            group="Data",
        ),
    )
    fixtures: Path = field(
        default_factory=default_fixtures,
        metadata=declare(
            "--fixtures",
            FixtureFile(),
            "YAML or JSON file every tenant is created from and reset to.",
            shown_default="the demo data, `fixtures/default.yaml`",
            group="Data",
        ),
    )
    mode: Mode = field(
        default="onsite",
        metadata=declare(
            "--mode",
            Choice(MODES),
            "onsite: application tokens are not checked; online: a registered token is required.",
            group="Behaviour",
        ),
    )
    sign_in_as: str | None = field(
        default=None,
        metadata=declare(
            "--sign-in-as",
            Text(),
            "Sign every OpenID Connect authorize request in as this user with no page (for CI); "
            "login_hint, when sent, names the user instead.",
            shown_default="none: the sign-in page asks",
            group="Behaviour",
        ),
    )
    wrap_exceptions: bool = field(
        default=True,
        metadata=declare(
            "--wrap-exceptions/--no-wrap-exceptions",
            Flag(),
            "NetServer's WrapExceptions: failures in the ExceptionInfo header (on) or as SOAP Faults (off).",
            group="Behaviour",
        ),
    )
    contract: Contract = field(
        default="lenient",
        metadata=declare(
            "--contract",
            Choice(CONTRACTS),
            "lenient: accept the docs' schematic requests and list where NetServer would differ"
            " (contract_warnings); netserver: refuse what NetServer's basicHttpBinding refuses, as WCF does.",
            group="Behaviour",
        ),
    )
    strict: bool = field(
        default=False,
        metadata=declare(
            "--strict/--no-strict",
            Flag(),
            "Fail (SoException) instead of silently changing nothing on a nonexistent or invalid id.",
            group="Behaviour",
        ),
    )
    ticket_lifetime_seconds: int = field(
        default=6 * 3600,
        metadata=declare(
            "--ticket-lifetime",
            Number(1),
            "Sliding ticket expiry in seconds (6 hours, as Online).",
            group="Behaviour",
        ),
    )
    journal_size: int = field(
        default=1000,
        metadata=declare(
            "--journal-size",
            Number(1),
            "Calls the request journal keeps per tenant (the oldest go first).",
            group="Journal and log",
        ),
    )
    max_tenants: int = field(
        default=1000,
        metadata=declare(
            "--max-tenants",
            Number(1),
            "At most this many tenants; a call that would make one more fails.",
            group="Data",
        ),
    )
    journal_body_bytes: int = field(
        default=65536,
        metadata=declare(
            "--journal-body-bytes",
            Number(0),
            "Bytes of each call's request and response body the journal keeps (0: no bodies).",
            group="Journal and log",
        ),
    )
    admin_token: str | None = field(
        default=None,
        metadata=declare(
            "--admin-token",
            Text(),
            "When set, the admin API under /_emulator/ needs 'Authorization: Bearer TOKEN'.",
            shown_default="none: the admin API is open",
            group="Security and limits",
        ),
    )
    request_timeout: float = field(
        default=30.0,
        metadata=declare(
            "--request-timeout",
            Seconds(),
            "Seconds a request's headers and body may take to arrive (and an idle keep-alive connection,"
            " or one that sends nothing, may stay open) before it is answered 408 and closed; other"
            " clients never wait for it.",
            group="Security and limits",
        ),
    )
    max_body_bytes: int = field(
        default=1024 * 1024,
        metadata=declare(
            "--max-body-bytes",
            Number(1),
            "Requests with a larger body get HTTP 413.",
            group="Security and limits",
        ),
    )
    allowed_hosts: tuple[str, ...] = field(
        default=(),
        metadata=declare(
            "--allowed-host",
            HostList(),
            "Host names, besides loopback and the bound address, under which the admin API and dashboard"
            " answer and from whose pages state may change (DNS-rebinding and cross-site protection);"
            " * for any.",
            shown_default="none",
            group="Security and limits",
        ),
    )
    cors_origins: tuple[str, ...] = field(
        default=(),
        metadata=declare(
            "--cors-origin",
            OriginList(),
            "Origins (scheme://host[:port], separated by spaces; * for any) whose pages may call the"
            " REST API from a browser (CORS), as NetServer's CORSOrigin; online mode also allows the"
            " origins the tenant's applications registered (allowed_origins).",
            shown_default="none",
            group="Security and limits",
        ),
    )
    default_tenant: str = field(
        default="default",
        metadata=declare(
            "--default-tenant",
            TenantName(),
            "The tenant of URLs without a tenant prefix (/Remote/Services86/...).",
            group="Data",
        ),
    )
    # webhooks
    webhook_log_size: int = field(
        default=1000,
        metadata=declare(
            "--webhook-log-size",
            Number(1),
            "Webhook tries the deliveries log keeps per tenant, and finished events the outbox keeps"
            " (the oldest go first).",
            group="Journal and log",
        ),
    )
    webhook_fast_retries: bool = field(
        default=False,
        metadata=declare(
            "--webhook-fast-retries/--no-webhook-fast-retries",
            Flag(),
            "For test suites: a failed webhook post is tried again after 0.05 s and 0.2 s (not NetServer's"
            " 1 s and 4 s), a post times out after 2 s (not 5 s), and a killed server's deliveries are"
            " taken over within seconds.",
            group="Behaviour",
        ),
    )

    tls: bool = field(
        default=False,
        metadata=declare(
            "--tls/--no-tls",
            Flag(),
            "Serve HTTPS with a certificate signed by a local certificate authority, made on first use"
            " (superoffice-emulator ca says how to trust it); it covers localhost, loopback and"
            " SuperOffice's host names (sod, qaonline, online, stage .superoffice.com).",
            group="Security and limits",
        ),
    )
    tls_names: tuple[str, ...] = field(
        default=(),
        metadata=declare(
            "--tls-name",
            CertificateNames(),
            "More host names or IP addresses the server certificate covers, separated by commas.",
            shown_default="none",
            group="Security and limits",
        ),
    )
    tls_dir: Path | None = field(
        default=None,
        metadata=declare(
            "--tls-dir",
            Folder(),
            "Directory of the certificate authority and the server certificate (made when missing);"
            " needed with PostgreSQL.",
            shown_default="the SQLite file's directory",
            group="Security and limits",
        ),
    )

    @property
    def demo_fixtures(self) -> bool:
        """Whether the fixtures are the shipped demo data, whose passwords are the user names."""
        return self.fixtures.resolve() == default_fixtures().resolve()

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ServerOptions:
    """How ``serve`` runs an emulator: where it listens, how many processes, how it logs."""

    host: str = field(
        default="127.0.0.1",
        metadata=declare(
            "--host",
            Host(),
            "Address to bind: loopback by default, 0.0.0.0 to accept other machines.",
            group="Server",
        ),
    )
    port: int = field(
        default=8080,
        metadata=declare(
            "--port", Number(0, 65535), "TCP port; 0 picks a free one (the banner names it).", group="Server"
        ),
    )
    workers: int = field(
        default=1,
        metadata=declare(
            "--workers",
            Number(0, 64),
            "N worker processes under granian, each reading a request's whole body before the call runs"
            " (stalled clients get 408); 0: werkzeug's threaded server in this process, for in-process use.",
            group="Server",
        ),
    )
    log_level: str = field(
        default="info",
        metadata=declare(
            "--log-level",
            Choice(LOG_LEVELS, case_sensitive=False),
            "info: the banner and one line per SOAP call; debug adds access lines and start-up tracebacks.",
            group="Journal and log",
        ),
    )
    log_format: LogFormat = field(
        default="text",
        metadata=declare(
            "--log-format",
            Choice(LOG_FORMATS),
            "text for people, json for one JSON object per line.",
            group="Journal and log",
        ),
    )
