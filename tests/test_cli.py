"""The ``superoffice-emulator`` command: CliRunner for parsing and the database commands, one real server."""

from __future__ import annotations

import ctypes
import gc
import importlib.metadata
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from superoffice_emulator import __version__, cli
from superoffice_emulator.app import EmulatorApp, create_app
from superoffice_emulator.server import serving
from superoffice_emulator.settings import Settings, default_fixtures
from superoffice_emulator.storage.fixtures import load_fixtures
from superoffice_emulator.storage.sqlite import driver as sqlite3  # the library the app in this process uses
from tests.support.database import read_row
from tests.support.fixtures import SMALL_FIXTURES
from tests.support.http import free_port as closed_port
from tests.support.servers import ServerProcess, fetch, wait_for


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in list(os.environ):
        if name.startswith("EMULATOR_"):
            monkeypatch.delenv(name)
    return CliRunner()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[EmulatorApp, str, int]]]:
    """Replaces the blocking server loops (granian's and werkzeug's): records what ``serve`` would
    serve, restores logging."""
    calls: list[tuple[EmulatorApp, str, int]] = []

    def fake_run_werkzeug(app: EmulatorApp, host: str, port: int) -> None:
        calls.append((app, host, port))
        app.runtime.database.dispose()

    def fake_serve_granian(settings: Settings, fixtures: Any, host: str, port: int, *options: Any) -> None:
        fake_run_werkzeug(create_app(settings), host, port)

    monkeypatch.setattr(serving, "run_werkzeug", fake_run_werkzeug)
    monkeypatch.setattr(serving, "_serve_granian", fake_serve_granian)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield calls
    root.handlers[:] = handlers
    root.setLevel(level)


def invoke(runner: CliRunner, args: Sequence[str], env: Mapping[str, str] | None = None) -> Result:
    return runner.invoke(
        cli.main, list(args), env=dict(env or {}), catch_exceptions=False, prog_name="superoffice-emulator"
    )


def activity_ids(db_url: str, tenant: str) -> list[int]:
    with closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as connection, connection:
        rows = connection.execute(
            "SELECT appointment_id FROM appointment WHERE tenant = ? ORDER BY 1", (tenant,)
        ).fetchall()
    return [row[0] for row in rows]


# -- the group ----------------------------------------------------------------------------------
def test_version(runner: CliRunner) -> None:
    result = invoke(runner, ["--version"])

    assert result.exit_code == 0
    assert result.output == f"superoffice-emulator, version {__version__}\n"


def test_the_package_metadata_carries_the_version_of_the_code() -> None:
    assert importlib.metadata.version("superoffice-emulator") == __version__


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = invoke(runner, ["-h"])

    assert result.exit_code == 0
    for command in ("serve", "init-db", "load-fixtures", "reset", "tenants"):
        assert command in result.output


def _all_options() -> list[tuple[str, click.Option]]:
    return [
        (name, param)
        for name, command in cli.main.commands.items()
        for param in command.params
        if isinstance(param, click.Option) and param.name != "help"
    ]


@pytest.mark.parametrize(("command", "option"), _all_options(), ids=lambda v: getattr(v, "name", v))
def test_every_option_has_help_and_an_emulator_env_var(command: str, option: click.Option) -> None:
    assert option.help, f"{command} {option.opts} has no help"
    assert isinstance(option.envvar, str) and option.envvar.startswith("EMULATOR_"), option.opts
    assert option.show_envvar


def test_help_gives_every_command_s_summary_whole(runner: CliRunner) -> None:
    result = invoke(runner, ["--help"], env={"COLUMNS": "80"})

    assert result.exit_code == 0
    for name, command in cli.main.commands.items():
        assert command.short_help and f"{name}  " in result.output
        assert " ".join(command.short_help.split()) in " ".join(result.output.split())
    commands = result.output.split("Commands:")[1]
    assert "..." not in commands


def test_serve_help_lists_the_options_by_group_the_common_ones_first(runner: CliRunner) -> None:
    from superoffice_emulator.settings import GROUPS

    result = invoke(runner, ["serve", "--help"])

    assert result.exit_code == 0
    headings = [
        line.rstrip(":") for line in result.output.splitlines() if line[:1].isalpha() and line.endswith(":")
    ]
    assert headings == [*GROUPS, "Options"]  # "Options" holds --help
    options = [line.split()[0] for line in result.output.splitlines() if line.startswith("  --")]
    assert options[:4] == ["--host", "--port", "--workers", "--database-url"]


def test_serve_help_names_the_env_vars(runner: CliRunner) -> None:
    result = invoke(runner, ["serve", "--help"])

    for name in ("EMULATOR_PORT", "EMULATOR_LOG_FORMAT", "EMULATOR_ADMIN_TOKEN", "EMULATOR_JOURNAL_SIZE"):
        assert name in result.output


def imported_by(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``statement``."""
    done = subprocess.run(
        [sys.executable, "-c", f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(done.stdout.split())


def test_help_imports_neither_the_server_nor_the_storage() -> None:
    loaded = imported_by("from superoffice_emulator.cli import main")

    heavy = {
        "sqlalchemy",
        "werkzeug",
        "yaml",
        "lxml",
        "granian",
        "argon2",
        "superoffice_emulator.server.serving",
    }
    assert not heavy & loaded


def test_serving_imports_only_what_a_call_needs() -> None:
    """The admin API, its OpenAPI document, PostgreSQL's dialect and the sign-in's JWT and RSA
    libraries load when first used."""
    loaded = imported_by(
        "from superoffice_emulator.server import serving, rsgi\n"
        "from superoffice_emulator.app import create_app\n"
        "from superoffice_emulator.storage.sql import dialect_named\n"
        "dialect_named('sqlite')"
    )

    assert "sqlalchemy" in loaded  # the test sees the modules
    later = {
        "superoffice_emulator.admin.api",
        "superoffice_emulator.admin.openapi",
        "sqlalchemy.dialects.postgresql",
        "jwt",
        "cryptography",
    }
    assert not later & loaded


# -- serve: options and environment -------------------------------------------------------------
def test_serve_is_the_default_command(runner: CliRunner, served: list[Any], db_url: str) -> None:
    result = invoke(runner, ["--port", "9123", "--database-url", db_url])

    assert result.exit_code == 0, result.output
    ((app, host, port),) = served
    assert (host, port) == ("127.0.0.1", 9123)
    assert app.runtime.settings.database_url == db_url


def test_serve_in_another_program_leaves_its_garbage_collector_on(
    runner: CliRunner, served: list[Any], db_url: str, tmp_path: Path
) -> None:
    """A start pauses the collector; whether it serves or fails, the host process gets it back."""
    started = invoke(runner, ["serve", "--database-url", db_url])
    failed = invoke(runner, ["serve", "--database-url", f"sqlite:///{tmp_path / 'missing' / 'x.db'}"])

    assert (started.exit_code, failed.exit_code) == (0, 1), started.output + failed.output
    assert gc.isenabled()


def test_serve_without_arguments_uses_the_defaults(
    runner: CliRunner, served: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = invoke(runner, [])

    assert result.exit_code == 0, result.output
    ((app, host, port),) = served
    settings = app.runtime.settings
    assert (host, port) == ("127.0.0.1", 8080)
    assert settings.fixtures == default_fixtures()
    assert (settings.mode, settings.admin_token, settings.default_tenant) == ("onsite", None, "default")
    assert settings.contract == "lenient"


def test_serve_options_reach_the_settings(
    runner: CliRunner, served: list[Any], db_url: str, tmp_path: Path
) -> None:
    fixtures = tmp_path / "small.yaml"
    fixtures.write_text(SMALL_FIXTURES)

    result = invoke(
        runner,
        [
            "serve",
            *("--database-url", db_url, "--fixtures", str(fixtures), "--mode", "online"),
            *("--contract", "netserver"),
            *("--no-wrap-exceptions", "--strict", "--ticket-lifetime", "60", "--journal-size", "7"),
            *("--admin-token", "s3cret", "--max-body-bytes", "4096", "--default-tenant", "Cust1"),
            *("--host", "127.0.0.2", "--port", "0", "--log-level", "warning", "--log-format", "json"),
        ],
    )

    assert result.exit_code == 0, result.output
    ((app, host, port),) = served
    settings = app.runtime.settings
    assert (host, port) == ("127.0.0.2", 0)
    assert settings.fixtures == fixtures and settings.mode == "online"
    assert settings.contract == "netserver"
    assert (settings.wrap_exceptions, settings.strict, settings.ticket_lifetime_seconds) == (False, True, 60)
    assert (settings.journal_size, settings.admin_token, settings.max_body_bytes) == (7, "s3cret", 4096)
    assert settings.default_tenant == "Cust1"
    assert app.runtime.database.journal_size == 7
    assert logging.getLogger().level == logging.WARNING


def test_serve_options_come_from_the_environment(runner: CliRunner, served: list[Any], db_url: str) -> None:
    env = {
        "EMULATOR_DATABASE_URL": db_url,
        "EMULATOR_MODE": "online",
        "EMULATOR_CONTRACT": "netserver",
        "EMULATOR_WRAP_EXCEPTIONS": "false",
        "EMULATOR_STRICT": "1",
        "EMULATOR_TICKET_LIFETIME": "120",
        "EMULATOR_JOURNAL_SIZE": "50",
        "EMULATOR_ADMIN_TOKEN": "from-env",
        "EMULATOR_MAX_BODY_BYTES": "2048",
        "EMULATOR_DEFAULT_TENANT": "Cust2",
        "EMULATOR_HOST": "0.0.0.0",
        "EMULATOR_PORT": "8181",
        "EMULATOR_LOG_LEVEL": "ERROR",
        "EMULATOR_LOG_FORMAT": "json",
    }

    result = invoke(runner, [], env=env)

    assert result.exit_code == 0, result.output
    ((app, host, port),) = served
    settings = app.runtime.settings
    assert (host, port, settings.database_url, settings.mode) == ("0.0.0.0", 8181, db_url, "online")
    assert settings.contract == "netserver"
    assert (settings.wrap_exceptions, settings.strict, settings.ticket_lifetime_seconds) == (False, True, 120)
    assert (settings.journal_size, settings.admin_token, settings.max_body_bytes) == (50, "from-env", 2048)
    assert settings.default_tenant == "Cust2"
    assert logging.getLogger().level == logging.ERROR


def test_an_option_beats_its_env_var(runner: CliRunner, served: list[Any], db_url: str) -> None:
    result = invoke(runner, ["--port", "9000", "--database-url", db_url], env={"EMULATOR_PORT": "8181"})

    assert result.exit_code == 0, result.output
    assert served[0][2] == 9000


def test_an_empty_admin_token_leaves_the_admin_api_open(
    runner: CliRunner, served: list[Any], db_url: str
) -> None:
    result = invoke(runner, ["--database-url", db_url], env={"EMULATOR_ADMIN_TOKEN": ""})

    assert result.exit_code == 0, result.output
    assert served[0][0].runtime.settings.admin_token is None


# -- bad input: exit 2 and say what to do -------------------------------------------------------
BAD_FIXTURES = "roles: 3\n"


BAD_INPUTS: list[tuple[list[str], dict[str, str], list[str]]] = [
    (["--prot", "9000"], {}, ["--prot"]),
    (["sreve"], {}, ["sreve"]),
    (["--port", "70000"], {}, ["--port", "'70000' is not a whole number from 0 to 65535"]),
    ([], {"EMULATOR_PORT": "http"}, ["EMULATOR_PORT", "'http' is not a whole number from 0 to 65535"]),
    (["--mode", "cloud"], {}, ["--mode", "'cloud' is not one of 'onsite', 'online'"]),
    ([], {"EMULATOR_CONTRACT": "wcf"}, ["EMULATOR_CONTRACT", "'lenient'", "'netserver'"]),
    (["--log-format", "xml"], {}, ["--log-format", "'text'", "'json'"]),
    (["--journal-size", "0"], {}, ["--journal-size", "is not a whole number from 1 to"]),
    (["--fixtures", "missing.yaml"], {}, ["--fixtures", "missing.yaml does not exist"]),
    (["--fixtures", "bad.yaml"], {}, ["bad.yaml: roles: expected a list", "Fix the file"]),
    (["--database-url", "nosuchdb://x"], {}, ["--database-url", "sqlite:///emulator.db"]),
    (["--database-url", "not a url"], {}, ["--database-url", "is not a usable SQLAlchemy URL"]),
    (["--database-url", "mysql://u@h/db"], {}, ["--database-url", "SQLite or PostgreSQL, not on mysql"]),
    (["--default-tenant", "../etc"], {}, ["--default-tenant", "letters, digits", "Cust12345"]),
    (["reset", "--tenant", "a/b"], {}, ["--tenant", "is not a valid tenant name"]),
    (["load-fixtures"], {}, ["FILE"]),
    (["load-fixtures", "bad.yaml"], {}, ["FILE", "roles: expected a list", "Fix the file"]),
    (["tenants", "--tenant", "x"], {}, ["--tenant"]),
]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    BAD_INPUTS,
    ids=[" ".join(args) or ",".join(f"{k}={v}" for k, v in env.items()) for args, env, _ in BAD_INPUTS],
)
def test_a_bad_option_exits_2_and_says_what_to_do(
    runner: CliRunner,
    served: list[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    expected: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(BAD_FIXTURES)

    result = invoke(runner, args, env=env)

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    for text in expected:
        assert text in message
    assert not served


# -- the database commands ----------------------------------------------------------------------
def test_init_db_creates_the_schema_and_can_run_twice(runner: CliRunner, db_url: str) -> None:
    first = invoke(runner, ["init-db", "--database-url", db_url])
    second = invoke(runner, ["init-db"], env={"EMULATOR_DATABASE_URL": db_url})

    assert first.exit_code == second.exit_code == 0
    assert first.output == f"Database ready: {db_url} (0 tenants).\n"
    with closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as connection, connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"emulator_tenant", "appointment", "emulator_journal"} <= tables


def test_tenants_lists_the_tenants_that_were_created(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_text(SMALL_FIXTURES)
    invoke(runner, ["init-db", "--database-url", db_url])
    assert invoke(runner, ["tenants", "--database-url", db_url]).output == ""

    for tenant in ("Cust2", "Cust1"):
        invoke(runner, ["load-fixtures", str(small), "--database-url", db_url, "--tenant", tenant])
    invoke(runner, ["load-fixtures", str(small)], env={"EMULATOR_DATABASE_URL": db_url})
    result = invoke(runner, ["tenants", "--database-url", db_url])

    assert result.exit_code == 0
    assert result.output.splitlines() == ["Cust1", "Cust2", "default"]


@pytest.mark.parametrize(
    "command", [["tenants"], ["reset"], ["reset", "--all"], ["reset", "--tenant", "Cust1"]]
)
def test_tenants_and_reset_never_create_a_database(
    runner: CliRunner, db_url: str, command: list[str]
) -> None:
    path = Path(db_url.removeprefix("sqlite:///"))

    result = invoke(runner, [*command, "--database-url", db_url])

    assert result.exit_code == 1
    assert result.output == (
        f"Error: There is no database at {path}. Start the server or run init-db to create one,"
        " or name another database with --database-url.\n"
    )
    assert not path.exists()


def test_reset_of_a_tenant_that_does_not_exist_lists_the_tenants(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    small = tmp_path / "small.yaml"
    small.write_text(SMALL_FIXTURES)
    for tenant in ("Cust1", "Cust2"):
        invoke(runner, ["load-fixtures", str(small), "--database-url", db_url, "--tenant", tenant])

    result = invoke(runner, ["reset", "--database-url", db_url, "--tenant", "Cust3"])

    assert result.exit_code == 1
    assert result.output == (
        f"Error: There is no tenant Cust3 in {db_url}; it holds: Cust1, Cust2. Name one with --tenant,"
        " or create it with load-fixtures FILE --tenant Cust3.\n"
    )
    assert invoke(runner, ["tenants", "--database-url", db_url]).output.splitlines() == ["Cust1", "Cust2"]


def test_reset_of_an_empty_database_says_it_holds_no_tenants(runner: CliRunner, db_url: str) -> None:
    invoke(runner, ["init-db", "--database-url", db_url])

    result = invoke(runner, ["reset", "--database-url", db_url])

    assert result.exit_code == 1
    assert "There is no tenant default" in result.output and "it holds no tenants yet" in result.output
    assert invoke(runner, ["tenants", "--database-url", db_url]).output == ""


def test_load_fixtures_validates_then_resets_the_tenant(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    small = tmp_path / "small.yaml"
    small.write_text(SMALL_FIXTURES)
    invoke(runner, ["load-fixtures", str(default_fixtures()), "--database-url", db_url, "--tenant", "Cust1"])
    assert len(activity_ids(db_url, "Cust1")) > 1

    result = invoke(runner, ["load-fixtures", str(small), "--database-url", db_url, "--tenant", "Cust1"])

    assert result.exit_code == 0, result.output
    assert result.output == f"Tenant Cust1 now holds {small}: 1 users, 1 activities, 0 denials.\n"
    assert activity_ids(db_url, "Cust1") == [41]
    assert activity_ids(db_url, "default") == []


def test_load_fixtures_check_changes_nothing(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    small = tmp_path / "small.json"
    small.write_text(
        '{"roles": [{"role_id": 1, "name": "A", "rights": {"all": "update"}}],'
        ' "users": [{"associate_id": 1, "name": "demo", "password": "x", "role_id": 1, "group_id": 1}],'
        ' "activities": {"appointment": [{"id": 5, "title": "T", "status": "Started", "associate_id": 1}]}}'
    )

    result = invoke(runner, ["load-fixtures", "--check", str(small), "--database-url", db_url])

    assert result.exit_code == 0, result.output
    assert result.output == f"{small} is valid: 1 users, 1 activities, 0 denials.\n"
    assert not Path(db_url.removeprefix("sqlite:///")).exists()


def test_reset_puts_a_tenant_back_to_the_fixtures(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_text(SMALL_FIXTURES)
    invoke(runner, ["load-fixtures", str(small), "--database-url", db_url, "--tenant", "Cust1"])

    result = invoke(runner, ["reset", "--database-url", db_url, "--tenant", "Cust1"])

    assert result.exit_code == 0
    assert result.output == f"Reset Cust1 to {default_fixtures()}.\n"
    assert len(activity_ids(db_url, "Cust1")) > 1


def test_reset_all_resets_every_tenant_to_the_given_fixtures(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    small = tmp_path / "small.yaml"
    small.write_text(SMALL_FIXTURES)
    for tenant in ("Cust1", "Cust2"):
        invoke(
            runner, ["load-fixtures", str(default_fixtures()), "--database-url", db_url, "--tenant", tenant]
        )

    result = invoke(runner, ["reset", "--all", "--database-url", db_url, "--fixtures", str(small)])

    assert result.exit_code == 0
    assert result.output == f"Reset Cust1, Cust2 to {small}.\n"
    assert activity_ids(db_url, "Cust1") == activity_ids(db_url, "Cust2") == [41]


# -- a real server, as `python -m superoffice_emulator` -----------------------------------------------------
def test_python_m_emulator_serves_until_sigterm(tmp_path: Path) -> None:
    server = ServerProcess(
        [sys.executable, "-m", "superoffice_emulator", "serve", "--port", "0"],
        env={"EMULATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}", "EMULATOR_LOG_FORMAT": "text"},
    )
    try:
        index = wait_for(server.url("/"))  # granian's workers bind after the line is logged
        wsdl = fetch(server.url("/Cust12345/Remote/Services86/Appointment.svc?wsdl"))
    finally:
        status = server.stop()

    assert index[0] == 200 and index[2].startswith(b"superoffice-emulator ")
    assert wsdl[:2] == (200, "text/xml")
    assert b"WcfAppointmentService" in wsdl[2]
    assert f"127.0.0.1:{server.port}/Cust12345/Remote/Services86/Appointment.svc".encode() in wsdl[2]
    assert status == 0, "".join(server.output)
    assert "stopped" in server.output[-1]


class FakeServer:
    port = 4321

    def __init__(self) -> None:
        self.closed = False

    def serve_forever(self) -> None:
        return None  # as werkzeug's does after Ctrl-C or SIGTERM

    def server_close(self) -> None:
        self.closed = True


def test_run_server_logs_where_it_listens_hides_passwords_and_warns_of_an_open_admin_api(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    import werkzeug.serving

    server = FakeServer()
    disposed: list[bool] = []
    monkeypatch.setattr(werkzeug.serving, "make_server", lambda *args, **kwargs: server)
    settings = Settings(database_url="postgresql+psycopg://crm:s3cret@db/crm")
    fixtures = load_fixtures(default_fixtures())
    database = SimpleNamespace(dispose=lambda: disposed.append(True), fixtures=fixtures)
    app: Any = SimpleNamespace(runtime=SimpleNamespace(settings=settings, database=database))

    with caplog.at_level(logging.INFO, logger="emulator"):
        serving.run_werkzeug(app, "0.0.0.0", 0)

    text = caplog.text
    assert "listening on http://0.0.0.0:4321/" in text
    assert "postgresql+psycopg://crm:***@db/crm" in text and "s3cret" not in text
    assert "the admin API is open to every client that reaches 0.0.0.0; set --admin-token" in text
    assert caplog.records[-1].getMessage() == "stopped"
    assert server.closed and disposed == [True]


def test_serve_with_workers_runs_granian_processes_that_share_the_database(tmp_path: Path) -> None:
    database = tmp_path / "workers.db"
    server = ServerProcess(
        [sys.executable, "-m", "superoffice_emulator", "serve", "--port", "0", "--workers", "2"],
        env={"EMULATOR_DATABASE_URL": f"sqlite:///{database}", "EMULATOR_LOG_FORMAT": "text"},
    )
    try:
        assert "granian, 2 workers" in "".join(server.output)
        deadline = time.monotonic() + 60  # the line is logged before granian's workers bind
        while True:
            try:
                fetch(server.url("/"))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        wsdl = fetch(server.url("/Remote/Services86/Appointment.svc?wsdl"))
        request = urllib.request.Request(
            server.url("/Remote/Services86/Appointment.svc"),
            data=(Path(__file__).parent / "data" / "request_soap11.xml").read_bytes(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = response.read()
    finally:
        status = server.stop()
    assert b"WcfAppointmentService" in wsdl[2]
    assert b"<Succeeded" in answer and b">true</Succeeded>" in answer
    assert read_row(database, "appointment", 17)["status"] == 3
    assert status == 0, "".join(server.output)


# -- start-up: the banner, and failures as one line ---------------------------------------------
def test_the_banner_names_the_endpoints_and_the_logins_of_the_fixtures(tmp_path: Path) -> None:
    server = ServerProcess(
        [sys.executable, "-m", "superoffice_emulator", "serve", "--port", "0", "--default-tenant", "Cust1"],
        env={"EMULATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'banner.db'}", "EMULATOR_LOG_FORMAT": "text"},
    )
    try:
        for path in ("/Remote/Services86/SoPrincipal.svc?wsdl", "/_emulator/openapi.json", "/_emulator/ui/"):
            assert wait_for(server.url(path))[0] == 200  # granian's worker accepts just after the banner
    finally:
        assert server.stop() == 0
    base = f"http://127.0.0.1:{server.port}"
    lines = [line.rstrip("\n") for line in server.output]
    text = "\n".join(lines)
    for service in ("Appointment", "SoPrincipal"):
        assert (
            f"{base}/Remote/Services86/{service}.svc   WSDL: {base}/Remote/Services86/{service}.svc?wsdl"
            in text
        )
    rest = f"{base}/api/v1/Agents/Appointment/SetActivityStatus   OpenAPI: {base}/api/v1/openapi.json"
    assert f"REST       {rest}" in text
    assert f"Dashboard  {base}/_emulator/ui/" in text
    assert f"Admin API  {base}/_emulator/   OpenAPI: {base}/_emulator/openapi.json" in text
    assert "tenant Cust1;" in text
    assert "Mode       onsite (application tokens not checked), contract lenient (" in text
    assert [" ".join(line.split()) for line in lines if " / " in line] == [
        "Logins demo / demo ticket 7T:1234abcxyzExample==",
        "sam / sam ticket 7T:U2FtU2FsZXNyZXBUaWNrZXQ=",
        "rita / rita ticket 7T:Uml0YVJlYWRvbmx5VGlja2V0",
        "olav / olav",
        "ingrid / ingrid",
    ]
    # the banner, then one line per call (none here: the WSDL and admin reads log nothing), then "stopped"
    assert len(lines) == banner_lines() + 1 and lines[-1].endswith("emulator: stopped"), text


def banner_lines(**settings: Any) -> int:
    """The number of lines of the banner of the demo data."""
    from superoffice_emulator.server.banner import banner

    return len(banner(Settings(**settings), load_fixtures(default_fixtures()), "::1", 1, "how").splitlines())


def test_the_banner_says_the_mode_and_the_contract() -> None:
    from superoffice_emulator.server.banner import banner

    settings = Settings(mode="online", contract="netserver")
    text = banner(settings, load_fixtures(settings.fixtures), "127.0.0.1", 8080, "werkzeug")

    (line,) = [line for line in text.splitlines() if line.lstrip().startswith("Mode")]
    assert " online (" in line and " contract netserver (" in line
    assert len(text.splitlines()) == banner_lines()  # a few lines, whatever the settings


def test_the_banner_warns_when_any_website_may_call_the_api() -> None:
    from superoffice_emulator.server.banner import banner

    fixtures = load_fixtures(default_fixtures())
    named = banner(Settings(cors_origins=("http://localhost:3000",)), fixtures, "127.0.0.1", 8080, "werkzeug")
    anyone = banner(Settings(cors_origins=("*",)), fixtures, "127.0.0.1", 8080, "werkzeug")

    (warning,) = [line for line in anyone.splitlines() if line.lstrip().startswith("WARNING")]
    assert "--cors-origin '*'" in warning
    assert "WARNING" not in named and len(named.splitlines()) == banner_lines()


def test_the_demo_convention_holds_every_demo_user_s_password_is_the_user_s_name() -> None:
    from superoffice_emulator.domain.sessions import verify_password

    users = load_fixtures(default_fixtures()).users
    assert users and all(verify_password(user.password_hash, user.name) for user in users)


def test_the_banner_shows_plain_passwords_and_hides_hashed_ones(tmp_path: Path) -> None:
    from superoffice_emulator.server.banner import banner

    fixtures_file = tmp_path / "mixed.yaml"
    fixtures_file.write_text(
        SMALL_FIXTURES.replace(
            "application_tokens:",
            "  - {associate_id: 2, name: hashed, password_hash: '$argon2id$v=19$x',"
            " role_id: 1, group_id: 1}\n"
            "  - {associate_id: 3, name: plain, password: s3cret, role_id: 1, group_id: 1}\n"
            "application_tokens:",
        )
    )
    settings = Settings(fixtures=fixtures_file, admin_token="t")

    text = banner(settings, load_fixtures(fixtures_file), "0.0.0.0", 8080, "werkzeug")

    assert "listening on http://0.0.0.0:8080/" in text
    assert "http://127.0.0.1:8080/_emulator/ui/" in text  # a wildcard address is shown as loopback
    assert "needs Authorization: Bearer" in text
    logins = [" ".join(line.split()) for line in text.splitlines() if " / " in line]
    assert logins == [
        "Logins demo / demo ticket 7T:1234abcxyzExample==",
        "hashed / (hashed)",
        "plain / s3cret",
    ]


def test_granian_adds_nothing_to_the_banner_at_log_level_info(tmp_path: Path) -> None:
    server = ServerProcess(
        [sys.executable, "-m", "superoffice_emulator", "serve", "--port", "0", "--workers", "1"],
        env={"EMULATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'quiet.db'}", "EMULATOR_LOG_FORMAT": "text"},
    )
    try:
        wait_for(server.url("/"))  # granian's workers start after the banner
    finally:
        status = server.stop()

    assert status == 0, "".join(server.output)
    assert len(server.output) == banner_lines() + 1, "".join(server.output)  # the banner, then "stopped"
    assert server.output[-1].rstrip().endswith("emulator: stopped")


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, as_a_user: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python -m superoffice_emulator ARGS`` to its end, in a clean ``EMULATOR_*`` environment;
    ``as_a_user``: file permissions hold for it even when the tests run as root."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("EMULATOR_")}
    return subprocess.run(
        [sys.executable, "-m", "superoffice_emulator", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_without_root_s_file_rights if as_a_user and os.geteuid() == 0 else None,
    )


PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _without_root_s_file_rights() -> None:
    """In the child, before it runs the CLI: drop the capabilities by which root reads and writes
    any file, so that the program sees permissions as every other user does."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def assert_one_line(result: subprocess.CompletedProcess[str], status: int, *advice: str) -> str:
    """The command failed with ``status`` and one ``Error:`` line holding every piece of ``advice``."""
    assert result.returncode == status, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for text in advice:
        assert text in lines[0]
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path, taken_port: int, workers: str) -> None:
    result = run_cli(
        "serve", "--port", str(taken_port), "--workers", workers,
        env={"EMULATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"},
    )  # fmt: skip

    assert_one_line(
        result, 1, f"Cannot listen on 127.0.0.1:{taken_port}: the port is in use", "another port with --port"
    )
    assert "listening" not in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "advice"),
    [
        ([], {"EMULATOR_PORT": "{port}"}, "another port with EMULATOR_PORT ("),
        ([], {"EMULATOR_PORT": "{port}", cli.MAKE_RUN: "1"}, "another port with EMULATOR_PORT ("),
        (["--port", "{port}"], {cli.MAKE_RUN: "1"}, "another port with make run PORT=... ("),
    ],
    ids=["EMULATOR_PORT", "EMULATOR_PORT under make run", "make run PORT="],
)
def test_the_advice_names_the_port_as_it_was_given(
    tmp_path: Path, taken_port: int, args: list[str], env: dict[str, str], advice: str
) -> None:
    result = run_cli(
        "serve",
        *(arg.format(port=taken_port) for arg in args),
        env={
            "EMULATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
            **{name: value.format(port=taken_port) for name, value in env.items()},
        },
    )

    line = assert_one_line(result, 1, f"127.0.0.1:{taken_port}", advice)
    assert "--port" not in line


def make_run(*args: str, env: Mapping[str, str] | None = None) -> str:
    """The commands ``make run ARGS`` would run (``make -n``), in a clean ``EMULATOR_*`` environment."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("EMULATOR_")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", *args],
        cwd=Path(__file__).resolve().parents[1],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_make_run_leaves_the_emulator_variables_alone_and_passes_args_on() -> None:
    assert "--port" not in make_run(env={"EMULATOR_PORT": "18083"})
    assert "serve --host 0.0.0.0 --port 9000 --workers 2" in make_run(
        "HOST=0.0.0.0", "PORT=9000", "ARGS=--workers 2"
    )
    overridden = make_run("PORT=9000", env={"EMULATOR_PORT": "18083"})
    assert "--port" not in overridden and "EMULATOR_PORT=18083 is set" in overridden
    assert "the CLI is .venv/bin/superoffice-emulator" in make_run()


def test_log_level_debug_adds_the_traceback(tmp_path: Path, taken_port: int) -> None:
    result = run_cli(
        "serve", "--port", str(taken_port), "--log-level", "debug",
        env={"EMULATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"},
    )  # fmt: skip

    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"Error: Cannot listen on 127.0.0.1:{taken_port}")


def test_a_database_directory_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"

    result = run_cli("serve", "--database-url", f"sqlite:///{missing / 'crm.db'}")

    assert_one_line(result, 1, f"the directory {missing} does not exist", f"mkdir -p {missing}")
    assert not missing.exists()


def test_a_directory_in_place_of_the_database_file_is_one_line(tmp_path: Path) -> None:
    result = run_cli("serve", "--database-url", f"sqlite:///{tmp_path}")

    assert_one_line(result, 1, f"{tmp_path} is a directory, not a SQLite file")


def test_an_unreadable_database_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    path.write_bytes(b"")
    path.chmod(0)

    result = run_cli("serve", "--database-url", f"sqlite:///{path}", as_a_user=True)

    assert_one_line(result, 1, f"{path} cannot be read", "Fix its permissions")


def test_a_read_only_database_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    assert run_cli("init-db", "--database-url", f"sqlite:///{path}").returncode == 0
    path.chmod(0o444)

    result = run_cli("serve", "--database-url", f"sqlite:///{path}", as_a_user=True)

    assert_one_line(result, 1, "is read-only", "Make both writable")


def damage(path: Path, start: int, length: int) -> None:
    data = bytearray(path.read_bytes())
    data[start : start + length] = b"\x5a" * length
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["header", "pages"])
def test_a_corrupt_database_file_is_found_at_start(runner: CliRunner, tmp_path: Path, where: str) -> None:
    path = tmp_path / "crm.db"
    url = f"sqlite:///{path}"
    invoke(runner, ["load-fixtures", str(default_fixtures()), "--database-url", url])
    if where == "header":
        damage(path, 0, 100)
    else:  # a valid header and schema, damaged table pages: only a check finds it at start
        damage(path, 4096 * 2, 4096 * 2)
        assert invoke(runner, ["init-db", "--database-url", url]).exit_code == 1

    for command in (["serve"], ["tenants"], ["init-db"]):
        result = run_cli(*command, "--database-url", url)

        assert_one_line(result, 1, f"{path} is not a SQLite database, or it is damaged", "Move it away")


def test_postgresql_unreachable_is_one_line() -> None:
    url = f"postgresql+psycopg://emulator@127.0.0.1:{closed_port()}/emulator"

    result = run_cli("serve", "--database-url", url)

    assert_one_line(result, 1, "Cannot reach the PostgreSQL database", "Check that the server runs")


def test_psycopg_not_installed_is_one_line(tmp_path: Path) -> None:
    hidden = tmp_path / "site"
    hidden.mkdir()
    (hidden / "psycopg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n"
    )

    result = run_cli(
        "serve", "--database-url", "postgresql://emulator@127.0.0.1/emulator", env={"PYTHONPATH": str(hidden)}
    )

    assert_one_line(
        result, 1, "needs psycopg 3, which is not installed", "pip install 'superoffice-emulator[postgres]'"
    )


@pytest.mark.parametrize(
    ("url", "advice"),
    [
        ("mysql://u@h/db", "the emulator runs on SQLite or PostgreSQL, not on mysql"),
        ("sqlite:///:memory:", "an in-memory SQLite database"),
        ("sqlite://", "an in-memory SQLite database"),
    ],
)
def test_an_unsupported_database_url_is_one_line_and_exit_2(url: str, advice: str) -> None:
    result = run_cli("serve", "--database-url", url)

    assert_one_line(result, 2, "--database-url", advice, "sqlite:///emulator.db")
