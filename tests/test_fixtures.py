"""Fixture files: the default data is sound, and every mistake names the file, the record and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.domain.activities import ActivityKind
from emulator.domain.sessions import verify_password
from emulator.settings import default_fixtures
from emulator.storage.fixtures import FixtureError, load_fixtures, parse_fixtures

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
    ("replace", "by", "where"),
    [
        ("id: 666", "id: six", "activities.appointment[0]: field 'id' must be a 32-bit integer"),
        (
            "associate_id: 1}]\n",
            "associate_id: 9}]\n",
            "(appointment_id=666): field 'associate_id' names unknown user 9",
        ),
        ("id: 666, ", "id: 666, status: Done, ", "(appointment_id=666): field 'status' is 'Done'"),
        (
            "role_id: 1, group_id",
            "role_id: 4, group_id",
            "users[0] (demo): field 'role_id' names unknown role 4",
        ),
        ("password: demo, ", "", "users[0] (demo): field 'password' is required"),
        (
            "{all: update}",
            "{all: write}",
            "roles[0].rights.all: right 'write' must be one of none, read, update",
        ),
        ("appointment:", "meeting:", "activities: unknown kind 'meeting'"),
        (  # VARCHAR(200): SQLite would store it, PostgreSQL refuses it; both get this message
            "id: 666, ",
            "id: 666, title: " + "t" * 201 + ", ",
            "(appointment_id=666): field 'title' is 201 characters long; at most 200 fit",
        ),
        ("name: demo,", 'name: "de\\0mo",', "users[0]: field 'name' contains a NUL character"),
    ],
)
def test_mistakes_name_file_record_and_field(tmp_path: Path, replace: str, by: str, where: str) -> None:
    assert replace in GOOD
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD.replace(replace, by, 1))
    with pytest.raises(FixtureError) as raised:
        load_fixtures(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert where in str(raised.value)


def test_invalid_yaml_and_missing_file_are_reported(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="not valid YAML"):
        parse_fixtures("users: [", "inline.yaml")
    with pytest.raises(FixtureError, match="cannot read the fixture file"):
        load_fixtures(tmp_path / "nope.yaml")


def test_deeply_nested_yaml_is_refused_before_it_can_crash_the_process(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("activities: " + "[" * 50_000)
    with pytest.raises(FixtureError, match="nested more than 32 levels"):
        load_fixtures(path)
