"""The ``superoffice-emulator`` command: CliRunner for parsing and the database commands, one real server."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from emulator import __version__, cli
from emulator.app import EmulatorApp, create_app
from emulator.settings import Settings, default_fixtures
from tests.conftest import read_row

SMALL_FIXTURES = """\
roles:
  - {role_id: 1, name: Administrator, rights: {all: update}}
users:
  - {associate_id: 1, name: demo, password: demo, role_id: 1, group_id: 1,
     tickets: ["7T:1234abcxyzExample=="]}
application_tokens: ["1234567-1234-9876"]
activities:
  appointment:
    - {id: 41, title: Only one, status: NotStarted, associate_id: 1}
"""


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

    def fake_run_server(app: EmulatorApp, host: str, port: int) -> None:
        calls.append((app, host, port))
        app.runtime.database.dispose()

    def fake_serve_granian(settings: Settings, host: str, port: int, *options: Any) -> None:
        fake_run_server(create_app(settings), host, port)

    monkeypatch.setattr(cli, "run_server", fake_run_server)
    monkeypatch.setattr(cli.serving, "_serve_granian", fake_serve_granian)
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


def test_serve_help_names_the_env_vars(runner: CliRunner) -> None:
    result = invoke(runner, ["serve", "--help"])

    for name in ("EMULATOR_PORT", "EMULATOR_LOG_FORMAT", "EMULATOR_ADMIN_TOKEN", "EMULATOR_JOURNAL_SIZE"):
        assert name in result.output


# -- serve: options and environment -------------------------------------------------------------
def test_serve_is_the_default_command(runner: CliRunner, served: list[Any], db_url: str) -> None:
    result = invoke(runner, ["--port", "9123", "--database-url", db_url])

    assert result.exit_code == 0, result.output
    ((app, host, port),) = served
    assert (host, port) == ("127.0.0.1", 9123)
    assert app.runtime.settings.database_url == db_url


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
    assert (settings.wrap_exceptions, settings.strict, settings.ticket_lifetime_seconds) == (False, True, 60)
    assert (settings.journal_size, settings.admin_token, settings.max_body_bytes) == (7, "s3cret", 4096)
    assert settings.default_tenant == "Cust1"
    assert app.runtime.database.journal_size == 7
    assert logging.getLogger().level == logging.WARNING


def test_serve_options_come_from_the_environment(runner: CliRunner, served: list[Any], db_url: str) -> None:
    env = {
        "EMULATOR_DATABASE_URL": db_url,
        "EMULATOR_MODE": "online",
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
    (
        ["--prot", "9000"],
        {},
        ["No such option '--prot'", "--port", "Try 'superoffice-emulator serve --help'"],
    ),
    (["sreve"], {}, ["No such command 'sreve'", "serve", "Try 'superoffice-emulator --help'"]),
    (["--port", "70000"], {}, ["Invalid value for '--port'", "0<=x<=65535"]),
    (
        [],
        {"EMULATOR_PORT": "http"},
        ["'--port' (env var: 'EMULATOR_PORT')", "'http' is not a valid integer"],
    ),
    (["--mode", "cloud"], {}, ["Invalid value for '--mode'", "'onsite'", "'online'"]),
    (["--log-format", "xml"], {}, ["Invalid value for '--log-format'", "'text'", "'json'"]),
    (["--journal-size", "0"], {}, ["Invalid value for '--journal-size'", "x>=1"]),
    (["--fixtures", "missing.yaml"], {}, ["Invalid value for '--fixtures'", "does not exist"]),
    (["--fixtures", "bad.yaml"], {}, ["bad.yaml: roles: expected a list", "Fix the file"]),
    (["--database-url", "nosuchdb://x"], {}, ["'--database-url'", "sqlite:///emulator.db"]),
    (["--database-url", "not a url"], {}, ["'--database-url'", "is not a usable SQLAlchemy URL"]),
    (["--database-url", "mysql://u@h/db"], {}, ["'--database-url'", "SQLite or PostgreSQL, not on mysql"]),
    (["--default-tenant", "../etc"], {}, ["'--default-tenant'", "letters, digits", "Cust12345"]),
    (["reset", "--tenant", "a/b"], {}, ["Invalid value for '--tenant'", "is not a tenant name"]),
    (["load-fixtures"], {}, ["Missing argument 'FILE'"]),
    (
        ["load-fixtures", "bad.yaml"],
        {},
        ["Invalid value for FILE", "roles: expected a list", "Fix the file"],
    ),
    (["tenants", "--tenant", "x"], {}, ["No such option '--tenant'"]),
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


def test_an_unreachable_database_exits_1_with_advice(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"

    result = invoke(runner, ["init-db", "--database-url", url])

    assert result.exit_code == 1
    assert f"Cannot open the database {url}" in result.output
    assert "directory exists and is writable" in result.output


# -- the database commands ----------------------------------------------------------------------
def test_init_db_creates_the_schema_and_can_run_twice(runner: CliRunner, db_url: str) -> None:
    first = invoke(runner, ["init-db", "--database-url", db_url])
    second = invoke(runner, ["init-db"], env={"EMULATOR_DATABASE_URL": db_url})

    assert first.exit_code == second.exit_code == 0
    assert first.output == f"Database ready: {db_url} (0 tenants).\n"
    with closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as connection, connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"emulator_tenant", "appointment", "emulator_journal"} <= tables


def test_tenants_lists_what_reset_created(runner: CliRunner, db_url: str) -> None:
    assert invoke(runner, ["tenants", "--database-url", db_url]).output == ""

    invoke(runner, ["reset", "--database-url", db_url, "--tenant", "Cust2"])
    invoke(runner, ["reset", "--database-url", db_url], env={"EMULATOR_TENANT": "Cust1"})
    invoke(runner, ["reset", "--database-url", db_url])
    result = invoke(runner, ["tenants", "--database-url", db_url])

    assert result.exit_code == 0
    assert result.output.splitlines() == ["Cust1", "Cust2", "default"]


def test_load_fixtures_validates_then_resets_the_tenant(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    small = tmp_path / "small.yaml"
    small.write_text(SMALL_FIXTURES)
    invoke(runner, ["reset", "--database-url", db_url, "--tenant", "Cust1"])
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
        invoke(runner, ["reset", "--database-url", db_url, "--tenant", tenant])

    result = invoke(runner, ["reset", "--all", "--database-url", db_url, "--fixtures", str(small)])

    assert result.exit_code == 0
    assert result.output == f"Reset Cust1, Cust2 to {small}.\n"
    assert activity_ids(db_url, "Cust1") == activity_ids(db_url, "Cust2") == [41]


# -- a real server, as `python -m emulator` -----------------------------------------------------
class ServerProcess:
    """A ``superoffice-emulator`` process; the port is read from its start-up log line."""

    LISTENING = re.compile(r"listening on http://(?P<host>[^:/]+):(?P<port>\d+)/")

    def __init__(self, command: Sequence[str], env: Mapping[str, str], timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            list(command),
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.port = self._wait_for_port(timeout)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)
        self._lines.put("")

    def _wait_for_port(self, timeout: float) -> int:
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise AssertionError(f"no start-up line within {timeout}s: {self.output}") from None
            self.output.append(line)
            if not line:
                self.stop()
                raise AssertionError(f"the server exited: {''.join(self.output)}")
            match = self.LISTENING.search(line)
            if match:
                return int(match["port"])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> int:
        """SIGTERM (what ``docker stop`` sends), then the exit status; the rest of the log is kept."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        while True:
            try:
                line = self._lines.get(timeout=5)
            except queue.Empty:
                break
            if not line:
                break
            self.output.append(line)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return status


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get_content_type(), response.read()


def wait_for(url: str, within: float = 60) -> tuple[int, str, bytes]:
    """``fetch(url)``, again until the server accepts connections (at most ``within`` seconds)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return fetch(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_python_m_emulator_serves_until_sigterm(tmp_path: Path) -> None:
    server = ServerProcess(
        [sys.executable, "-m", "emulator", "serve", "--port", "0"],
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
    settings = SimpleNamespace(database_url="postgresql+psycopg://crm:s3cret@db/crm", admin_token=None)
    database = SimpleNamespace(dispose=lambda: disposed.append(True))
    app: Any = SimpleNamespace(runtime=SimpleNamespace(settings=settings, database=database))

    with caplog.at_level(logging.INFO, logger="emulator"):
        cli.run_server(app, "0.0.0.0", 0)

    text = caplog.text
    assert "listening on http://0.0.0.0:4321/" in text
    assert "postgresql+psycopg://crm:***@db/crm" in text and "s3cret" not in text
    assert "the admin API is open to every client that reaches 0.0.0.0; set --admin-token" in text
    assert caplog.records[-1].getMessage() == "stopped"
    assert server.closed and disposed == [True]


def test_serve_with_workers_runs_granian_processes_that_share_the_database(tmp_path: Path) -> None:
    database = tmp_path / "workers.db"
    server = ServerProcess(
        [sys.executable, "-m", "emulator", "serve", "--port", "0", "--workers", "2"],
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
