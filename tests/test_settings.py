"""Settings declared once: the CLI, ``superoffice_emulator.server.wsgi`` and docs/configuration.md
follow the same declarations."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from superoffice_emulator import cli
from superoffice_emulator.domain.values import (
    INT32_MAX,
    INT32_MIN,
    is_int32,
    is_tenant_name,
    tenant_name_error,
)
from superoffice_emulator.server.wsgi import settings_from_env
from superoffice_emulator.settings import (
    ServerOptions,
    SettingError,
    Settings,
    declarations,
    from_env,
    markdown_table,
    to_env,
)
from tests.support.settings import every_setting_changed

CONFIGURATION = Path(__file__).parent.parent / "docs" / "configuration.md"

# (variable, value): refused by every entry point, the CLI and superoffice_emulator.server.wsgi alike
REFUSED = [
    ("EMULATOR_MODE", "Online"),
    ("EMULATOR_MODE", "cloud"),
    ("EMULATOR_DEFAULT_TENANT", "../etc"),
    ("EMULATOR_DATABASE_URL", "mysql://u@h/db"),
    ("EMULATOR_DATABASE_URL", "sqlite:///:memory:"),
    ("EMULATOR_STRICT", "maybe"),
    ("EMULATOR_JOURNAL_SIZE", "0"),
    ("EMULATOR_TICKET_LIFETIME", str(INT32_MAX + 1)),
    ("EMULATOR_MAX_BODY_BYTES", "lots"),
    ("EMULATOR_FIXTURES", "no-such-file.yaml"),
    ("EMULATOR_CORS_ORIGIN", "https://app.example.com/callback"),
]


def test_the_configuration_page_holds_the_table_the_declarations_make() -> None:
    assert markdown_table() in CONFIGURATION.read_text(encoding="utf-8")


def test_every_declared_setting_is_an_option_of_serve_with_its_variable() -> None:
    params = {p.name: p for p in cli.main.commands["serve"].params if isinstance(p, click.Option)}
    for declaration in (*declarations(Settings), *declarations(ServerOptions)):
        option = params.pop(declaration.name)
        assert option.opts[0] == declaration.option.split("/")[0]
        assert option.envvar == declaration.env and option.help == declaration.help
    assert set(params) <= {"help"}


@pytest.mark.parametrize(("name", "value"), REFUSED, ids=[f"{n}={v}" for n, v in REFUSED])
def test_the_cli_and_the_wsgi_entry_refuse_the_same_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in [v for v in os.environ if v.startswith("EMULATOR_")]:
        monkeypatch.delenv(variable)

    with pytest.raises(SettingError) as refused:
        settings_from_env({name: value})
    result = CliRunner().invoke(cli.main, ["serve"], env={name: value}, prog_name="superoffice-emulator")

    assert str(refused.value).startswith(f"{name}: ")
    assert result.exit_code == 2
    reason = str(refused.value).removeprefix(f"{name}: ")
    shown = " ".join(result.output.split())
    assert name in shown and reason in shown, result.output


def test_values_round_trip_through_the_environment(tmp_path: Path) -> None:
    settings = every_setting_changed(tmp_path)
    unchanged = [
        d.name
        for d in declarations(Settings)
        if d.name != "fixtures" and getattr(settings, d.name) == d.default
    ]
    assert unchanged == [], "give every setting a value of its own here"
    server = ServerOptions(host="0.0.0.0", port=0, workers=2, log_level="debug", log_format="json")

    assert from_env(Settings, to_env(settings)) == settings
    assert from_env(ServerOptions, to_env(server)) == server


def test_empty_variables_keep_the_defaults() -> None:
    everything = {d.env: "" for d in (*declarations(Settings), *declarations(ServerOptions))}

    assert from_env(Settings, everything) == Settings()
    assert from_env(ServerOptions, everything) == ServerOptions()


def test_log_level_is_read_case_insensitively_and_mode_is_not() -> None:
    assert from_env(ServerOptions, {"EMULATOR_LOG_LEVEL": "ERROR"}).log_level == "error"
    with pytest.raises(SettingError, match="EMULATOR_MODE"):
        from_env(Settings, {"EMULATOR_MODE": "ONLINE"})


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        *[("Cust12345", True), ("a", True), ("t-1_x", True), ("A" * 64, True), ("A" * 65, False)],
        *[(bad, False) for bad in ("", "../etc", "a/b", "-x", "_x", "a.b", "é")],
    ],
)
def test_the_tenant_name_rule(name: str, valid: bool) -> None:
    assert is_tenant_name(name) is valid


def test_the_tenant_name_message_says_what_to_use() -> None:
    message = tenant_name_error("../etc")

    assert message.startswith("'../etc' is not a valid tenant name")
    assert "1 to 64 letters, digits, '_' or '-'" in message and "Cust12345" in message


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        *[(0, True), (INT32_MIN, True), (INT32_MAX, True), (INT32_MAX + 1, False), (INT32_MIN - 1, False)],
        *[(True, False), (1.0, False), ("1", False), (None, False)],
    ],
)
def test_the_int32_rule(value: object, valid: bool) -> None:
    assert is_int32(value) is valid
