"""Fixture files: the default data is sound, and every mistake names the file, the record and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from superoffice_emulator.domain.activities import ActivityKind
from superoffice_emulator.domain.sessions import verify_password
from superoffice_emulator.settings import default_fixtures
from superoffice_emulator.storage import fixtures as fixtures_module
from superoffice_emulator.storage.fixtures import FixtureError, load_fixtures, parse_fixtures

GOOD = """
roles: [{role_id: 1, name: Admin, rights: {all: update}}]
users: [{associate_id: 1, name: demo, password: demo, role_id: 1, group_id: 1}]
activities:
  appointment: [{id: 666, associate_id: 1}]
"""


def test_default_fixtures_hold_several_hundred_activities_and_the_docs_example() -> None:
    fixtures = load_fixtures(default_fixtures())
    assert len(fixtures.activities) >= 400
    assert {a.kind for a in fixtures.activities} == set(ActivityKind)
    assert any(a.kind is ActivityKind.APPOINTMENT and a.id == 666 for a in fixtures.activities)
    assert len({a.associate_id for a in fixtures.activities}) >= 5
    assert len({a.status for a in fixtures.activities}) == 4
    assert "1234567-1234-9876" in fixtures.application_tokens
    demo = next(u for u in fixtures.users if u.name == "demo")
    assert "7T:1234abcxyzExample==" in demo.tickets


def test_default_users_log_in_with_their_name_as_password() -> None:
    """The default file carries hashes made ahead of time (scripts/make_fixtures.py), not passwords."""
    fixtures = load_fixtures(default_fixtures())
    assert [u.name for u in fixtures.users] == ["demo", "sam", "rita", "olav", "ingrid"]
    for user in fixtures.users:
        assert verify_password(user.password_hash, user.name)
        assert not verify_password(user.password_hash, user.name + "x")
    assert "password:" not in default_fixtures().read_text(encoding="utf-8")


def test_json_fixtures_load_too(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        '{"roles": [{"role_id": 1, "name": "A", "rights": {"sale": "update"}}],'
        ' "users": [{"associate_id": 7, "name": "x", "password": "y", "role_id": 1, "group_id": 2}],'
        ' "activities": {"sale": [{"id": 1, "associate_id": 7, "status": "Completed"}]}}'
    )
    fixtures = load_fixtures(path)
    assert fixtures.activities[0].done is not None  # Completed without a date gets one
    assert fixtures.activities[0].group_id == 2  # the owner's group by default


@pytest.mark.parametrize(
    ("replace", "by", "kind", "field", "where"),
    [
        (
            "id: 666",
            "id: six",
            "bad_type",
            "id",
            "activities.appointment[0]: field 'id' must be a 32-bit integer",
        ),
        (
            "associate_id: 1}]\n",
            "associate_id: 9}]\n",
            "unknown_reference",
            "associate_id",
            "(appointment_id=666): field 'associate_id' names unknown user 9",
        ),
        (
            "id: 666, ",
            "id: 666, status: Done, ",
            "bad_value",
            "status",
            "(appointment_id=666): field 'status' is 'Done'",
        ),
        (
            "role_id: 1, group_id",
            "role_id: 4, group_id",
            "unknown_reference",
            "role_id",
            "users[0] (demo): field 'role_id' names unknown role 4",
        ),
        ("password: demo, ", "", "missing", "password", "users[0] (demo): field 'password' is required"),
        (
            "{all: update}",
            "{all: write}",
            "bad_value",
            None,
            "roles[0].rights.all: right 'write' must be one of none, read, update",
        ),
        ("appointment:", "meeting:", "unknown_key", "meeting", "activities: unknown key 'meeting'"),
        (  # VARCHAR(200): SQLite would store it, PostgreSQL refuses it; both get this message
            "id: 666, ",
            "id: 666, title: " + "t" * 201 + ", ",
            "too_long",
            "title",
            "(appointment_id=666): field 'title' is 201 characters long; at most 200 fit",
        ),
        (
            "name: demo,",
            'name: "de\\0mo",',
            "bad_character",
            "name",
            "users[0]: field 'name' contains a NUL character",
        ),
        (  # a control character would load, then break every XML reply that carries it
            "id: 666, ",
            'id: 666, title: "Lunch\\x1b[31m", ',
            "bad_character",
            "title",
            "(appointment_id=666): field 'title' contains the control character '\\x1b'",
        ),
        (
            "id: 666, ",
            "id: 666, titel: Lunch, ",
            "unknown_key",
            "titel",
            "(appointment_id=666): unknown key 'titel'; did you mean 'title'?",
        ),
        (
            "group_id: 1}]",
            "group_id: 1, pasword: x}]",
            "unknown_key",
            "pasword",
            "users[0] (demo): unknown key 'pasword'; did you mean 'password'?",
        ),
        (
            "roles:",
            "rols:",
            "unknown_key",
            "rols",
            "top level: unknown section 'rols'; did you mean 'roles'?",
        ),
    ],
)
def test_mistakes_name_file_record_field_and_kind(
    tmp_path: Path, replace: str, by: str, kind: str, field: str | None, where: str
) -> None:
    assert replace in GOOD
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD.replace(replace, by, 1))
    with pytest.raises(FixtureError) as raised:
        load_fixtures(path)
    error = raised.value
    assert (error.kind, error.field, error.source) == (kind, field, str(path))
    assert str(error).startswith(f"{path}: ")
    assert where in str(error)


def test_invalid_yaml_and_missing_file_are_reported_by_kind(tmp_path: Path) -> None:
    with pytest.raises(FixtureError) as raised:
        parse_fixtures("users: [", "inline.yaml")
    assert raised.value.kind == "bad_syntax" and str(raised.value).startswith("inline.yaml: not valid YAML")
    with pytest.raises(FixtureError) as raised:
        load_fixtures(tmp_path / "nope.yaml")
    assert raised.value.kind == "unreadable"
    (tmp_path / "latin1.yaml").write_bytes(b"roles: [{role_id: 1, name: \xe9}]")
    with pytest.raises(FixtureError) as raised:
        load_fixtures(tmp_path / "latin1.yaml")
    assert raised.value.kind == "unreadable"


@pytest.mark.parametrize("loader", ["libyaml", "pure-python"])
@pytest.mark.parametrize(
    "text",
    [
        "activities: " + "[" * 50_000,  # flow style: some libyaml builds refuse it in their scanner
        "activities: " + "[" * 40,
        "".join(f"{'  ' * level}k{level}:\n" for level in range(200)),  # block style
    ],
    ids=["flow-50000", "flow-40", "block-200"],
)
def test_deep_nesting_is_too_deep_whichever_yaml_parser_reads_it(
    monkeypatch: pytest.MonkeyPatch, text: str, loader: str
) -> None:
    """The depth limit is ours: it holds with libyaml of any version, and without libyaml."""
    if loader == "pure-python":
        monkeypatch.setattr(fixtures_module, "_loader", lambda: yaml.SafeLoader)
    elif fixtures_module._loader() is yaml.SafeLoader:
        pytest.skip("PyYAML was built without libyaml here")
    with pytest.raises(FixtureError) as raised:
        parse_fixtures(text, "bomb.yaml")
    assert raised.value.kind == "too_deep"


def test_json_nesting_is_too_deep_too() -> None:
    with pytest.raises(FixtureError) as raised:
        parse_fixtures("[" * 200_000, "bomb.json", json_format=True)
    assert raised.value.kind == "too_deep"


def test_aliases_are_counted_as_expanded_and_a_billion_laughs_is_too_large() -> None:
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(FixtureError) as raised:
        parse_fixtures("\n".join(laughs), "laughs.yaml")
    assert raised.value.kind == "too_large"


def test_a_small_alias_is_fine() -> None:
    text = GOOD.replace("rights: {all: update}", "rights: &everything {all: update}") + (
        "denials: [{activity: sale_id=1, note: &n locked}, {activity: sale_id=2, note: *n}]\n"
    )
    assert len(parse_fixtures(text, "aliases.yaml").denials) == 2


def test_plain_passwords_are_bounded_and_nothing_is_hashed_for_a_file_that_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed: list[str] = []

    def counting_hash(password: str) -> str:
        hashed.append(password)
        return "$argon2id$stand-in"

    monkeypatch.setattr(fixtures_module, "hash_password", counting_hash)

    def users_file(count: int, *, duplicate_name: bool = False) -> str:
        users = ", ".join(
            f"{{associate_id: {i}, name: u{0 if duplicate_name and i == count - 1 else i}, "
            f"password: p{i}, role_id: 1, group_id: 1}}"
            for i in range(count)
        )
        return f"roles: [{{role_id: 1, name: R}}]\nusers: [{users}]\n"

    with pytest.raises(FixtureError) as raised:
        parse_fixtures(users_file(fixtures_module.MAX_PLAIN_PASSWORDS + 1), "many.yaml")
    assert (raised.value.kind, raised.value.field) == ("too_large", "password")
    with pytest.raises(FixtureError) as raised:
        parse_fixtures(users_file(3, duplicate_name=True), "dup.yaml")
    assert (raised.value.kind, raised.value.field) == ("duplicate", "name")
    assert hashed == []  # neither file cost a hash
    assert len(parse_fixtures(users_file(3), "ok.yaml").users) == 3
    assert hashed == ["p0", "p1", "p2"]


def _readme_examples() -> list[str]:
    readme = (Path(__file__).parent.parent / "fixtures" / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)


def test_fixtures_readme_has_examples() -> None:
    assert _readme_examples()


@pytest.mark.parametrize("example", _readme_examples())
def test_every_example_in_the_fixtures_readme_loads(example: str) -> None:
    fixtures = parse_fixtures(example, "fixtures/README.md")
    assert fixtures.users and fixtures.activities


def test_access_tokens_are_validated_like_tickets() -> None:
    base = "roles: [{role_id: 1, name: r}]\nusers:\n"
    good = parse_fixtures(base + "  - {associate_id: 1, name: a, password: a, role_id: 1, group_id: 1, "
                          "access_tokens: ['8A:t.1']}\n", "ok.yaml")  # fmt: skip
    assert good.users[0].access_tokens == ("8A:t.1",)
    twice = (
        base
        + "  - {associate_id: 1, name: a, password: a, role_id: 1, group_id: 1, access_tokens: ['8A:x']}\n"
        + "  - {associate_id: 2, name: b, password: b, role_id: 1, group_id: 1, access_tokens: ['8A:x']}\n"
    )
    with pytest.raises(FixtureError) as raised:
        parse_fixtures(twice, "dup.yaml")
    assert (raised.value.kind, raised.value.field) == ("duplicate", "access_tokens")
    with pytest.raises(FixtureError) as raised:
        parse_fixtures(base + "  - {associate_id: 1, name: a, password: a, role_id: 1, group_id: 1, "
                       "access_tokens: 8A:x}\n", "type.yaml")  # fmt: skip
    assert raised.value.kind == "bad_type"
    with pytest.raises(FixtureError) as raised:
        parse_fixtures(base + "  - {associate_id: 1, name: a, password: a, role_id: 1, group_id: 1, "
                       "access_tokens: [7]}\n", "item.yaml")  # fmt: skip
    assert raised.value.kind == "bad_type" and "access_tokens[0]" in str(raised.value)


def test_a_webhook_names_its_application_by_client_id_or_application_token() -> None:
    apps = (
        'application_tokens: ["plain-token"]\n'
        "applications: [{client_id: demo-app, client_secret: s, name: Demo, redirect_uris: []}]\n"
        "webhooks:\n"
        "  - {name: a, events: [x], target_url: 'http://127.0.0.1:9/a', application: demo-app}\n"
        "  - {name: b, events: [x], target_url: 'http://127.0.0.1:9/b', application: plain-token}\n"
        "  - {name: c, events: [x], target_url: 'http://127.0.0.1:9/c'}\n"
    )
    fixtures = parse_fixtures(GOOD + apps, "apps.yaml")
    assert [hook.application for hook in fixtures.webhooks] == ["demo-app", "plain-token", None]
    with pytest.raises(FixtureError) as raised:
        parse_fixtures(GOOD + apps.replace("application: demo-app", "application: nobody"), "apps.yaml")
    assert (raised.value.kind, raised.value.field) == ("unknown_reference", "application")
    assert "webhooks[0] (a)" in str(raised.value)
    with pytest.raises(FixtureError) as raised:
        parse_fixtures(GOOD + apps.replace('["plain-token"]', '["demo-app"]'), "apps.yaml")
    assert (raised.value.kind, raised.value.field) == ("duplicate", "client_id")
