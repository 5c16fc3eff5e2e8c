"""The ``superoffice-emulator`` command: a click group whose default command is ``serve``.

    superoffice-emulator                          # serve on http://127.0.0.1:8080
    superoffice-emulator --port 0 --log-format json
    superoffice-emulator init-db --database-url sqlite:///crm.db
    superoffice-emulator load-fixtures my-data.yaml --tenant Cust12345
    superoffice-emulator reset --all
    superoffice-emulator tenants

Every option can also come from an ``EMULATOR_*`` environment variable (``--help`` names it). A bad
option or value exits with status 2 and a message that says what to change; a failure while running
(the database cannot be reached) exits with status 1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from emulator import __version__, serving
from emulator.logs import LOG_FORMATS, LOG_LEVELS, LogFormat, configure_logging
from emulator.serving import run_werkzeug as run_server
from emulator.settings import Settings, default_fixtures
from emulator.storage.fixtures import FixtureError, Fixtures, load_fixtures

if TYPE_CHECKING:
    from emulator.storage.database import Database

log = logging.getLogger("emulator")

F = TypeVar("F", bound=Callable[..., Any])


class DefaultGroup(click.Group):
    """A group that runs ``serve`` when no command is named (``superoffice-emulator --port 9000``)."""

    default_command = "serve"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        group_options = {*ctx.help_option_names, "--version"}
        if not args or (args[0].startswith("-") and args[0] not in group_options):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


# -- option values ------------------------------------------------------------------------------
def _fixtures_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """The fixture file, read and validated now, so that a bad one is a usage error (exit 2)."""
    path = value or default_fixtures()
    try:
        load_fixtures(path)
    except FixtureError as exc:
        raise click.BadParameter(f"{exc}. Fix the file, or leave the option out for the demo data.") from None
    return path


def _tenant_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from emulator.settings import TENANT_NAME

    if value is not None and not TENANT_NAME.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not a tenant name: use 1 to 64 letters, digits, '_' or '-', "
            "starting with a letter or digit (for example Cust12345)."
        )
    return value


def _database_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from emulator.storage.sql import dialect_named

    try:
        url = make_url(value)
        dialect_named(url.get_backend_name())
        url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        raise click.BadParameter(
            f"{value!r} is not a usable SQLAlchemy URL ({exc}). Use for example "
            "sqlite:///emulator.db or postgresql+psycopg://user:password@host/dbname."
        ) from None
    return value


# -- shared options -----------------------------------------------------------------------------
def _options(*options: Callable[[F], F]) -> Callable[[F], F]:
    def apply(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return apply


database_options = _options(
    click.option(
        "--database-url",
        envvar="EMULATOR_DATABASE_URL",
        show_envvar=True,
        default=Settings.database_url,
        show_default=True,
        callback=_database_url,
        help="SQLAlchemy database URL (a SQLite file by default; postgresql+psycopg://... for a server).",
    ),
    click.option(
        "--fixtures",
        envvar="EMULATOR_FIXTURES",
        show_envvar=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        callback=_fixtures_path,
        help="Fixture file (YAML or JSON) tenants are created from and reset to [default: the demo data].",
    ),
)

tenant_option = click.option(
    "--tenant",
    envvar="EMULATOR_TENANT",
    show_envvar=True,
    default=Settings.default_tenant,
    show_default=True,
    callback=_tenant_name,
    help="The tenant: the first path segment of /<tenant>/Remote/Services86/... URLs.",
)

settings_options = _options(
    click.option(
        "--mode",
        envvar="EMULATOR_MODE",
        show_envvar=True,
        type=click.Choice(["onsite", "online"]),
        default=Settings.mode,
        show_default=True,
        help="online: application tokens are required and checked.",
    ),
    click.option(
        "--wrap-exceptions/--no-wrap-exceptions",
        envvar="EMULATOR_WRAP_EXCEPTIONS",
        show_envvar=True,
        default=Settings.wrap_exceptions,
        show_default=True,
        help="Failures in the ExceptionInfo header (NetServer's default) or as SOAP Faults.",
    ),
    click.option(
        "--strict/--no-strict",
        envvar="EMULATOR_STRICT",
        show_envvar=True,
        default=Settings.strict,
        show_default=True,
        help="Fail, instead of silently changing nothing, on a nonexistent id.",
    ),
    click.option(
        "--ticket-lifetime",
        envvar="EMULATOR_TICKET_LIFETIME",
        show_envvar=True,
        type=click.IntRange(min=1),
        default=Settings.ticket_lifetime_seconds,
        show_default=True,
        help="Sliding ticket expiry, in seconds.",
    ),
    click.option(
        "--journal-size",
        envvar="EMULATOR_JOURNAL_SIZE",
        show_envvar=True,
        type=click.IntRange(min=1),
        default=Settings.journal_size,
        show_default=True,
        help="How many calls the request journal keeps per tenant (the oldest go first).",
    ),
    click.option(
        "--admin-token",
        envvar="EMULATOR_ADMIN_TOKEN",
        show_envvar=True,
        default=None,
        help="Require 'Authorization: Bearer TOKEN' on the admin API under /_emulator/ [default: open].",
    ),
    click.option(
        "--max-body-bytes",
        envvar="EMULATOR_MAX_BODY_BYTES",
        show_envvar=True,
        type=click.IntRange(min=1),
        default=Settings.max_body_bytes,
        show_default=True,
        help="Larger request bodies are refused with HTTP 413.",
    ),
    click.option(
        "--request-timeout",
        envvar="EMULATOR_REQUEST_TIMEOUT",
        show_envvar=True,
        type=click.FloatRange(min=0, min_open=True),
        default=Settings.request_timeout,
        show_default=True,
        help="Seconds a request body may take to arrive (then HTTP 408), and an idle keep-alive "
        "connection stays open (--workers 1 or more).",
    ),
    click.option(
        "--default-tenant",
        envvar="EMULATOR_DEFAULT_TENANT",
        show_envvar=True,
        default=Settings.default_tenant,
        show_default=True,
        callback=_tenant_name,
        help="The tenant of URLs without a tenant prefix (/Remote/Services86/...).",
    ),
)


def build_settings(**options: Any) -> Settings:
    """Settings from the options of ``serve`` (the names click gives them)."""
    return Settings(
        database_url=options["database_url"],
        fixtures=options["fixtures"],
        mode=options["mode"],
        wrap_exceptions=options["wrap_exceptions"],
        strict=options["strict"],
        ticket_lifetime_seconds=options["ticket_lifetime"],
        journal_size=options["journal_size"],
        admin_token=options["admin_token"] or None,
        max_body_bytes=options["max_body_bytes"],
        request_timeout=options["request_timeout"],
        default_tenant=options["default_tenant"],
    )


def open_database(database_url: str, fixtures: Path) -> Database:
    """The database at ``database_url`` with its schema created; exit 1 if it cannot be reached."""
    from sqlalchemy.exc import SQLAlchemyError

    from emulator.storage.database import Database

    database = Database(database_url, load_fixtures(fixtures))
    try:
        database.create_schema()
    except SQLAlchemyError as exc:
        database.dispose()
        reason = exc.args[0] if exc.args else type(exc).__name__
        raise click.ClickException(
            f"Cannot open the database {database_url}: {reason}. Check that it is reachable"
            " (for SQLite, that the directory exists and is writable)."
        ) from None
    return database


# -- commands -----------------------------------------------------------------------------------
@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="superoffice-emulator")
def main() -> None:
    """A local stand-in for a SuperOffice NetServer (Services86 SOAP web services).

    Without a command, runs `serve`.
    """


@main.command()
@database_options
@settings_options
@click.option(
    "--host",
    envvar="EMULATOR_HOST",
    show_envvar=True,
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (loopback by default; 0.0.0.0 to accept other machines).",
)
@click.option(
    "--port",
    envvar="EMULATOR_PORT",
    show_envvar=True,
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="TCP port; 0 picks a free one (the log line at start names it).",
)
@click.option(
    "--workers",
    envvar="EMULATOR_WORKERS",
    show_envvar=True,
    type=click.IntRange(0, 64),
    default=1,
    show_default=True,
    help="N: N worker processes under granian; 0: werkzeug's development server in this process.",
)
@click.option(
    "--log-level",
    envvar="EMULATOR_LOG_LEVEL",
    show_envvar=True,
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="info logs one line per SOAP call; debug adds werkzeug's access lines.",
)
@click.option(
    "--log-format",
    envvar="EMULATOR_LOG_FORMAT",
    show_envvar=True,
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for one JSON object per line.",
)
def serve(host: str, port: int, workers: int, log_level: str, log_format: LogFormat, **options: Any) -> None:
    """Serve the emulator over HTTP (the default command)."""
    from emulator.app import create_app

    settings = build_settings(**options)
    if workers:
        serving.serve(settings, host, port, workers=workers, log_level=log_level, log_format=log_format)
        return
    configure_logging(log_level, log_format)
    run_server(create_app(settings), host, port)


@main.command("init-db")
@database_options
def init_db(database_url: str, fixtures: Path) -> None:
    """Create the database schema (nothing happens to existing data)."""
    database = open_database(database_url, fixtures)
    count = len(database.tenants())
    database.dispose()
    click.echo(f"Database ready: {database_url} ({count} tenant{'' if count == 1 else 's'}).")


@main.command("load-fixtures")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_options
@tenant_option
@click.option(
    "--check",
    is_flag=True,
    envvar="EMULATOR_LOAD_FIXTURES_CHECK",
    show_envvar=True,
    help="Only validate FILE; change nothing.",
)
def load_fixtures_command(file: Path, database_url: str, fixtures: Path, tenant: str, check: bool) -> None:
    """Validate FILE (YAML or JSON), then reset the tenant to its data.

    The tenant keeps FILE's data until it is reset; a reset returns it to --fixtures.
    """
    try:
        data: Fixtures = load_fixtures(file)
    except FixtureError as exc:
        raise click.BadParameter(f"{exc}. Fix the file and run again.", param_hint="FILE") from None
    summary = f"{len(data.users)} users, {len(data.activities)} activities, {len(data.denials)} denials"
    if check:
        click.echo(f"{file} is valid: {summary}.")
        return
    database = open_database(database_url, fixtures)
    try:
        database.reset(tenant, data)
    finally:
        database.dispose()
    click.echo(f"Tenant {tenant} now holds {file}: {summary}.")


@main.command()
@database_options
@tenant_option
@click.option(
    "--all",
    "all_tenants",
    is_flag=True,
    envvar="EMULATOR_RESET_ALL",
    show_envvar=True,
    help="Reset every tenant in the database.",
)
def reset(database_url: str, fixtures: Path, tenant: str, all_tenants: bool) -> None:
    """Put a tenant (or every tenant) back to the fixtures: data, tickets and journal."""
    database = open_database(database_url, fixtures)
    try:
        names = database.tenants() if all_tenants else [tenant]
        for name in names:
            database.reset(name)
    finally:
        database.dispose()
    click.echo(f"Reset {', '.join(names) if names else 'no tenants'} to {fixtures}.")


@main.command()
@database_options
def tenants(database_url: str, fixtures: Path) -> None:
    """List the tenants in the database, one per line."""
    database = open_database(database_url, fixtures)
    try:
        for name in database.tenants():
            click.echo(name)
    finally:
        database.dispose()
