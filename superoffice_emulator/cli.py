"""The ``superoffice-emulator`` command: a click group whose default command is ``serve``.

    superoffice-emulator                          # serve on http://127.0.0.1:8080
    superoffice-emulator --port 0 --log-format json
    superoffice-emulator init-db --database-url sqlite:///crm.db
    superoffice-emulator load-fixtures my-data.yaml --tenant Cust12345
    superoffice-emulator reset --all
    superoffice-emulator tenants

Every option can also come from an ``EMULATOR_*`` environment variable (``--help`` names it). A bad
option or value exits with status 2 and a message that says what to change; a failure to start or to
run (the port is in use, the database cannot be opened, the tenant does not exist) exits with
status 1 and one line that says what to do. ``tenants`` and ``reset`` never create a database.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from superoffice_emulator import __version__
from superoffice_emulator.settings import (
    GROUPS,
    Declaration,
    FixtureFile,
    Rule,
    ServerOptions,
    SettingError,
    Settings,
    TenantName,
    declarations,
)

if TYPE_CHECKING:
    from superoffice_emulator.storage.database import Database

# The server, the storage and the fixtures are imported by the commands that use them, so that
# ``--help`` and a bad option answer at once, and a server imports only what serving needs.

log = logging.getLogger("emulator")

F = TypeVar("F", bound=Callable[..., Any])


class SettingOption(click.Option):
    """The option of a declared setting, listed under its declaration's group in ``--help``."""

    def __init__(self, *args: Any, group: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group


class GroupedCommand(click.Command):
    """A command whose ``--help`` lists the settings' options under their groups, in
    :data:`~superoffice_emulator.settings.GROUPS` order, and every other option last."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {group: [] for group in (*GROUPS, "Options")}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and isinstance(param, click.Option):
                sections[param.group if isinstance(param, SettingOption) else "Options"].append(record)
        for heading, records in sections.items():
            if records:
                with formatter.section(heading):
                    formatter.write_dl(records)


class DefaultGroup(click.Group):
    """A group that runs ``serve`` when no command is named (``superoffice-emulator --port 9000``);
    its commands are listed in the order they are defined, ``serve`` first."""

    default_command = "serve"
    command_class = GroupedCommand

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        group_options = {*ctx.help_option_names, "--version"}
        if not args or (args[0].startswith("-") and args[0] not in group_options):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


# -- options from the settings' declarations ------------------------------------------------------
class BadValue(click.BadParameter):
    """A bad option value: one line (``Error: Invalid value for '--x': ...``), exit status 2.

    The value's message says what to change, so click's usage text and --help hint are left out.
    """

    def show(self, file: IO[Any] | None = None) -> None:
        click.ClickException.show(self, file)


class RuleType(click.ParamType):  # type: ignore[type-arg]
    """A click type that checks a value by a setting's :class:`~superoffice_emulator.settings.Rule`."""

    def __init__(self, rule: Rule[Any], param_hint: str | None = None) -> None:
        self.rule = rule
        self.name = rule.metavar.lower()
        self.param_hint = param_hint

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return self.rule.metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return _convert(self.rule, value, param, ctx, self.param_hint)


class FlagType(click.types.BoolParamType):
    """A ``--x/--no-x`` flag whose variable is read by the setting's
    :class:`~superoffice_emulator.settings.Flag`."""

    def __init__(self, rule: Rule[Any]) -> None:
        self.rule = rule

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return _convert(self.rule, value, param, ctx)


def _convert(
    rule: Rule[Any],
    value: Any,
    param: click.Parameter | None,
    ctx: click.Context | None,
    hint: str | None = None,
) -> Any:
    """``value`` parsed by ``rule`` when it is text (a default is a value already); a :class:`BadValue`."""
    if not isinstance(value, str):
        return value
    try:
        return rule.parse(value)
    except SettingError as exc:
        raise BadValue(str(exc), ctx, param, hint) from None


def setting_options(cls: type[Any], *names: str) -> Callable[[F], F]:
    """The click options of ``cls``' declared settings (only ``names`` when given), in order."""
    options = [_option(d) for d in declarations(cls) if not names or d.name in names]

    def apply(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return apply


def _option(declaration: Declaration) -> Callable[[F], F]:
    shown = declaration.shown_default
    return click.option(
        declaration.option,
        declaration.name,
        cls=SettingOption,
        group=declaration.group,
        type=FlagType(declaration.rule) if declaration.is_flag else RuleType(declaration.rule),
        envvar=declaration.env,
        show_envvar=True,
        default=declaration.default,
        show_default=shown.replace("`", "") if shown else True,
        help=declaration.help,
    )


database_options = setting_options(Settings, "database_url", "fixtures")

tenant_option = click.option(
    "--tenant",
    envvar="EMULATOR_TENANT",
    show_envvar=True,
    type=RuleType(TenantName()),
    default=Settings.default_tenant,
    show_default=True,
    help="The tenant: the first path segment of /<tenant>/Remote/Services86/... URLs.",
)


def build_settings(**options: Any) -> Settings:
    """Settings from the options of ``serve``; an option left out (``None``) keeps its default."""
    names = {declaration.name for declaration in declarations(Settings)}
    return Settings(**{name: value for name, value in options.items() if name in names and value is not None})


def open_database(database_url: str, fixtures: Path, *, create: bool = True) -> Database:
    """The database at ``database_url``, checked; ``create=False`` for one that must exist already.

    Exits 1 with one line that says what to do when it cannot be opened.
    """
    from superoffice_emulator.server import preflight
    from superoffice_emulator.storage.fixtures import load_fixtures

    with startup_errors():
        return preflight.open_database(database_url, load_fixtures(fixtures), create=create)


@contextlib.contextmanager
def startup_errors(log_level: str = "info") -> Iterator[None]:
    """A :class:`~superoffice_emulator.server.preflight.StartupError` becomes one line and exit status 1,
    its advice naming each option as the user gave it (:func:`spelled_options`).

    At log level ``debug`` the cause's traceback is logged first.
    """
    from superoffice_emulator.server.preflight import StartupError

    try:
        yield
    except StartupError as exc:
        if log_level == "debug":
            log.debug("start-up failure", exc_info=exc)
        raise click.ClickException(exc.advice(spelled_options())) from None


MAKE_RUN = "SUPEROFFICE_EMULATOR_MAKE_RUN"
"""Set to ``1`` by ``make run``, which takes ``HOST=`` and ``PORT=`` and passes ``ARGS=`` on."""
MAKE_VARIABLES = {"--host": "HOST", "--port": "PORT"}


def spelled_options() -> dict[str, str]:
    """Each option of the running command as its user gives it: ``EMULATOR_PORT`` when it came
    from that variable, ``make run PORT=...`` under ``make run``, else the option itself."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return {}
    make = os.environ.get(MAKE_RUN) == "1"
    spelled = {}
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        option = param.opts[0]
        if ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT and isinstance(
            param.envvar, str
        ):
            spelled[option] = param.envvar
        elif make and option in MAKE_VARIABLES:
            spelled[option] = f"make run {MAKE_VARIABLES[option]}=..."
        elif make:
            spelled[option] = f'make run ARGS="{option} ..."'
    return spelled


# -- commands -----------------------------------------------------------------------------------
@click.group(
    cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="superoffice-emulator")
@click.pass_context
def main(ctx: click.Context) -> None:
    """A local stand-in for a SuperOffice NetServer: Services86 SOAP, its REST twin, an admin API
    and a dashboard.

    Without a command, runs `serve`. Every option can also be set by the EMULATOR_* variable that
    the command's --help names.
    """
    if ctx.invoked_subcommand == "serve":
        from superoffice_emulator.server import collector

        # from before serve's options are read, which imports SQLAlchemy and reads the fixtures:
        # the collector stays off until the server is ready (collector.ready)
        ctx.with_resource(collector.paused())


@main.command(short_help="Serve the emulator over HTTP (the default command).")
@setting_options(ServerOptions)
@setting_options(Settings)
def serve(**options: Any) -> None:
    """Serve the emulator over HTTP (the default command)."""
    server = ServerOptions(**{d.name: options[d.name] for d in declarations(ServerOptions)})
    settings = build_settings(**options)
    settings = settings.replace(allowed_hosts=(*settings.allowed_hosts, server.host))  # its own address
    from superoffice_emulator.server import serving

    with startup_errors(server.log_level):
        serving.serve(
            settings,
            server.host,
            server.port,
            workers=server.workers,
            log_level=server.log_level,
            log_format=server.log_format,
        )


@main.command("init-db", short_help="Create the database schema (existing data stays).")
@database_options
def init_db(database_url: str, fixtures: Path) -> None:
    """Create the database schema (nothing happens to existing data)."""
    database = open_database(database_url, fixtures)
    count = len(database.tenants())
    database.dispose()
    click.echo(f"Database ready: {database_url} ({count} tenant{'' if count == 1 else 's'}).")


@main.command("load-fixtures", short_help="Reset a tenant to the data of a fixture file.")
@click.argument("file", type=RuleType(FixtureFile("Fix the file and run again."), param_hint="FILE"))
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
    from superoffice_emulator.storage.fixtures import load_fixtures

    data = load_fixtures(file)  # checked as the argument was read: cached
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


@main.command(short_help="Put a tenant (or every tenant) back to the fixtures.")
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
    """Put a tenant (or every tenant) back to the fixtures: data, tickets and journal.

    Creates nothing: the database and the tenant must exist (load-fixtures creates a tenant).
    """
    from superoffice_emulator.server.preflight import shown_url

    database = open_database(database_url, fixtures, create=False)
    try:
        existing = database.tenants()
        if not all_tenants and tenant not in existing:
            held = f"holds: {', '.join(existing)}" if existing else "holds no tenants yet"
            raise click.ClickException(
                f"There is no tenant {tenant} in {shown_url(database_url)}; it {held}."
                f" Name one with --tenant, or create it with load-fixtures FILE --tenant {tenant}."
            )
        names = existing if all_tenants else [tenant]
        for name in names:
            database.reset(name)
    finally:
        database.dispose()
    click.echo(f"Reset {', '.join(names) if names else 'no tenants'} to {fixtures}.")


@main.command(short_help="List the tenants in the database.")
@database_options
def tenants(database_url: str, fixtures: Path) -> None:
    """List the tenants in the database, one per line (creates nothing)."""
    database = open_database(database_url, fixtures, create=False)
    try:
        for name in database.tenants():
            click.echo(name)
    finally:
        database.dispose()


@main.command(short_help="Where the certificate authority of --tls is, and how clients trust it.")
@setting_options(Settings, "database_url", "tls_dir")
@click.option(
    "--path",
    "path_only",
    is_flag=True,
    envvar="EMULATOR_CA_PATH",
    show_envvar=True,
    help="Print only the certificate's path (NODE_EXTRA_CA_CERTS=$(superoffice-emulator ca --path)).",
)
def ca(database_url: str, tls_dir: Path | None, path_only: bool) -> None:
    """Print where the certificate authority that signs the --tls certificate is (making it when
    missing), and how to make each client runtime trust it."""
    from superoffice_emulator.server import certificates

    settings = Settings(database_url=database_url, tls_dir=tls_dir)
    with startup_errors():
        authority = certificates.authority(certificates.directory(settings))
    click.echo(str(authority) if path_only else certificates.instructions(authority))
