"""The ``superoffice-emulator`` command: a click group whose default command is ``serve``.

Every option can also come from an ``EMULATOR_*`` environment variable (named in ``--help``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from emulator import __version__
from emulator.settings import Settings, default_fixtures
from emulator.storage.fixtures import FixtureError


class DefaultGroup(click.Group):
    """A group that runs ``serve`` when no command is named (``superoffice-emulator --port 9000``)."""

    default_command = "serve"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "--version")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def _settings_options(function: Any) -> Any:
    options = [
        click.option(
            "--database-url",
            envvar="EMULATOR_DATABASE_URL",
            show_envvar=True,
            default=Settings.database_url,
            show_default=True,
            help="SQLAlchemy database URL (SQLite file by default; postgresql+psycopg://...).",
        ),
        click.option(
            "--fixtures",
            envvar="EMULATOR_FIXTURES",
            show_envvar=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help="Fixture file (YAML or JSON) tenants are created from [default: the shipped demo data].",
        ),
        click.option(
            "--mode",
            envvar="EMULATOR_MODE",
            show_envvar=True,
            type=click.Choice(["onsite", "online"]),
            default="onsite",
            show_default=True,
            help="online: application tokens are required and checked.",
        ),
        click.option(
            "--wrap-exceptions/--no-wrap-exceptions",
            envvar="EMULATOR_WRAP_EXCEPTIONS",
            show_envvar=True,
            default=True,
            show_default=True,
            help="Failures in the ExceptionInfo header (NetServer's default) or as SOAP Faults.",
        ),
        click.option(
            "--strict/--no-strict",
            envvar="EMULATOR_STRICT",
            show_envvar=True,
            default=False,
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
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _settings(**options: Any) -> Settings:
    return Settings(
        database_url=options["database_url"],
        fixtures=options["fixtures"] or default_fixtures(),
        mode=options["mode"],
        wrap_exceptions=options["wrap_exceptions"],
        strict=options["strict"],
        ticket_lifetime_seconds=options["ticket_lifetime"],
    )


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="superoffice-emulator")
def main() -> None:
    """A local stand-in for a SuperOffice NetServer (Services86 SOAP web services)."""


@main.command()
@_settings_options
@click.option(
    "--host",
    envvar="EMULATOR_HOST",
    show_envvar=True,
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (loopback by default).",
)
@click.option(
    "--port",
    envvar="EMULATOR_PORT",
    show_envvar=True,
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="TCP port.",
)
@click.option(
    "--log-level",
    envvar="EMULATOR_LOG_LEVEL",
    show_envvar=True,
    default="info",
    type=click.Choice(["debug", "info", "warning", "error"]),
    show_default=True,
)
def serve(host: str, port: int, log_level: str, **options: Any) -> None:
    """Serve the emulator over HTTP (the default command)."""
    from werkzeug.serving import run_simple

    from emulator.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    try:
        app = create_app(_settings(**options))
    except FixtureError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"superoffice-emulator {__version__} on http://{host}:{port}/Remote/Services86/Appointment.svc?wsdl",
        err=True,
    )
    run_simple(host, port, app, threaded=True)
