"""Fixtures: the demo data every tenant starts from, read from YAML or JSON and validated.

The format (see ``emulator/fixtures/default.yaml``)::

    roles:
      - {role_id: 1, name: Administrator, rights: {all: update}}
      - {role_id: 2, name: Sales rep, rights: {all: {own: update, group: update, other: read}}}
    users:
      - {associate_id: 1, name: demo, password: demo, role_id: 1, group_id: 1,
         tickets: ["7T:1234abcxyzExample=="]}
    application_tokens: ["1234567-1234-9876"]
    activities:
      appointment:
        - {id: 666, title: Lunch, status: NotStarted, associate_id: 1}
    denials:
      - {activity: "sale_id=12", user: salesrep}   # user omitted: denied to everyone

A mistake is reported as ``FixtureError`` naming the file, the record and the field.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Column

from emulator.domain.activities import ActivityKind, ActivityStatus, parse_identifier
from emulator.domain.sentry import Level, TableRights
from emulator.domain.sessions import hash_password
from emulator.domain.values import int32_error, is_int32
from emulator.storage import schema

TABLES = [kind.value for kind in ActivityKind]
DEFAULT_REGISTERED = datetime(2024, 1, 1, 9, 0, 0)


class FixtureError(ValueError):
    """A fixture file that cannot be loaded; the message says where and what."""


@dataclass(frozen=True)
class RoleFixture:
    role_id: int
    name: str
    rights: dict[str, TableRights]


@dataclass(frozen=True)
class UserFixture:
    associate_id: int
    name: str
    password_hash: str
    role_id: int
    group_id: int
    full_name: str
    email: str
    person_id: int
    contact_id: int
    user_type: str
    tickets: tuple[str, ...]
    password: str | None = None
    """The password when the file gives it in plain text (the start-up banner shows it), else None."""


@dataclass(frozen=True)
class ActivityFixture:
    kind: ActivityKind
    id: int
    title: str
    status: ActivityStatus
    associate_id: int
    group_id: int
    registered: datetime
    done: datetime | None


@dataclass(frozen=True)
class DenialFixture:
    kind: ActivityKind
    record_id: int
    associate_id: int | None


@dataclass(frozen=True)
class Fixtures:
    """Validated fixture data, ready to be inserted for a tenant."""

    source: str
    roles: tuple[RoleFixture, ...]
    users: tuple[UserFixture, ...]
    application_tokens: tuple[str, ...]
    activities: tuple[ActivityFixture, ...]
    denials: tuple[DenialFixture, ...] = field(default=())


def load_fixtures(path: Path) -> Fixtures:
    """Read and validate the fixture file at ``path`` (``.yaml``, ``.yml`` or ``.json``).

    The result is cached per file version: passwords are hashed with Argon2 on load, which is
    deliberately slow, so a process that builds many apps from one file pays for it once.
    """
    try:
        stat = path.stat()
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read the fixture file ({exc.strerror})") from exc
    return _load_cached(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _load_cached(path: Path, _mtime_ns: int, _size: int) -> Fixtures:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read the fixture file ({exc.strerror})") from exc
    return parse_fixtures(text, str(path), json_format=path.suffix.lower() == ".json")


def parse_fixtures(text: str | bytes, source: str, *, json_format: bool = False) -> Fixtures:
    """Validate fixture ``text`` (YAML, of which JSON is a subset); ``source`` names it in errors."""
    try:
        if json_format:
            data = json.loads(text)
        else:
            _check_yaml_depth(text, source)
            data = yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise FixtureError(f"{source}: nested too deeply to read; fixtures need only a few levels") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise FixtureError(f"{source}: not valid {'JSON' if json_format else 'YAML'}: {exc}") from exc
    return _Validator(source).fixtures(data)


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_YAML_DEPTH = 32


def _check_yaml_depth(text: str | bytes, source: str) -> None:
    """Refuse YAML nested deeper than any fixture file is, before it is loaded.

    libyaml builds nested collections recursively, and a few kilobytes of ``[`` overflow the C
    stack and kill the whole process; the event stream read here is flat and stops early.
    Syntax errors are left to the loader, which reports them with line and column.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise FixtureError(
                        f"{source}: the YAML is nested more than {MAX_YAML_DEPTH} levels deep; "
                        "fixtures need only a few (see the fixture file format)."
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> FixtureError:
        return FixtureError(f"{self.source}: {where}: {problem}")

    def mapping(self, value: object, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        return value

    def sequence(self, value: object, where: str) -> Sequence[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {type(value).__name__}")
        return value

    def integer(self, record: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
        value = record.get(key, default)
        if value is None:
            raise self.fail(where, f"field '{key}' is required")
        if not is_int32(value):
            raise self.fail(where, int32_error(f"field '{key}'", value))
        return value

    def text(
        self,
        record: Mapping[str, Any],
        key: str,
        where: str,
        default: str | None = None,
        *,
        column: Column[Any] | None = None,
    ) -> str:
        """A string field; no longer than ``column`` holds, which PostgreSQL enforces (SQLite not)."""
        value = record.get(key, default)
        if value is None:
            raise self.fail(where, f"field '{key}' is required")
        if not isinstance(value, str):
            raise self.fail(where, f"field '{key}' must be a string, got {value!r}")
        if "\x00" in value:
            raise self.fail(where, f"field '{key}' contains a NUL character, which no database stores")
        limit = getattr(column.type, "length", None) if column is not None else None
        if limit is not None and len(value) > limit:
            raise self.fail(where, f"field '{key}' is {len(value)} characters long; at most {limit} fit")
        return value

    def when(self, record: Mapping[str, Any], key: str, where: str) -> datetime | None:
        value = record.get(key)
        if value is None or isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value).replace(tzinfo=None)
            except ValueError:
                pass
        raise self.fail(where, f"field '{key}' must be an ISO date-time, got {value!r}")

    def level(self, value: object, where: str) -> Level:
        try:
            return Level[str(value)]
        except KeyError:
            raise self.fail(where, f"right {value!r} must be one of none, read, update") from None

    def table_rights(self, value: object, where: str) -> TableRights:
        if isinstance(value, str):
            level = self.level(value, where)
            return TableRights(level, level, level)
        spec = self.mapping(value, where)
        unknown = set(spec) - {"own", "group", "other"}
        if unknown:
            raise self.fail(where, f"unknown relation(s) {sorted(unknown)}; use own, group, other")
        return TableRights(
            *(self.level(spec.get(rel, "none"), f"{where}.{rel}") for rel in ("own", "group", "other"))
        )

    def fixtures(self, data: object) -> Fixtures:
        top = self.mapping(data, "top level")
        unknown = set(top) - {"roles", "users", "application_tokens", "activities", "denials"}
        if unknown:
            raise self.fail("top level", f"unknown section(s) {sorted(unknown)}")
        roles = tuple(self.role(r, i) for i, r in enumerate(self.sequence(top.get("roles"), "roles")))
        role_ids = {r.role_id for r in roles}
        if len(role_ids) != len(roles):
            raise self.fail("roles", "role_id values must be unique")
        users = tuple(
            self.user(u, i, role_ids) for i, u in enumerate(self.sequence(top.get("users"), "users"))
        )
        self.unique([u.associate_id for u in users], "users", "associate_id")
        self.unique([u.name for u in users], "users", "name")
        self.unique([t for u in users for t in u.tickets], "users", "tickets")
        groups = {u.associate_id: u.group_id for u in users}
        tokens = tuple(
            self.text(
                {"token": t}, "token", f"application_tokens[{i}]", column=schema.application_token.c.token
            )
            for i, t in enumerate(self.sequence(top.get("application_tokens"), "application_tokens"))
        )
        activities = self.activities(top.get("activities"), groups)
        names = {u.name: u.associate_id for u in users}
        denials = tuple(
            self.denial(d, i, names) for i, d in enumerate(self.sequence(top.get("denials"), "denials"))
        )
        return Fixtures(self.source, roles, users, tokens, activities, denials)

    def unique(self, values: Sequence[object], section: str, key: str) -> None:
        seen: set[object] = set()
        for i, value in enumerate(values):
            if value in seen:
                raise self.fail(f"{section}[{i}]", f"duplicate {key} {value!r}")
            seen.add(value)

    def role(self, value: object, index: int) -> RoleFixture:
        where = f"roles[{index}]"
        record = self.mapping(value, where)
        rights_spec = self.mapping(record.get("rights", {}), f"{where}.rights")
        rights: dict[str, TableRights] = {}
        if "all" in rights_spec:
            every = self.table_rights(rights_spec["all"], f"{where}.rights.all")
            rights = dict.fromkeys(TABLES, every)
        for table, spec in rights_spec.items():
            if table == "all":
                continue
            if table not in TABLES:
                raise self.fail(f"{where}.rights", f"unknown table {table!r}; use {TABLES} or all")
            rights[table] = self.table_rights(spec, f"{where}.rights.{table}")
        return RoleFixture(
            self.integer(record, "role_id", where),
            self.text(record, "name", where, column=schema.role.c.name),
            rights,
        )

    def user(self, value: object, index: int, role_ids: set[int]) -> UserFixture:
        where = f"users[{index}]"
        record = self.mapping(value, where)
        name = self.text(record, "name", where, column=schema.associate.c.name)
        where = f"users[{index}] ({name})"
        password = None if "password_hash" in record else self.text(record, "password", where)
        if password is None:
            password_hash = self.text(record, "password_hash", where, column=schema.associate.c.password_hash)
        else:
            password_hash = hash_password(password)
        role_id = self.integer(record, "role_id", where)
        if role_id not in role_ids:
            raise self.fail(where, f"field 'role_id' names unknown role {role_id}")
        tickets = tuple(
            self.text({"ticket": t}, "ticket", f"{where}.tickets[{i}]", column=schema.ticket.c.ticket)
            for i, t in enumerate(self.sequence(record.get("tickets"), f"{where}.tickets"))
        )
        associate_id = self.integer(record, "associate_id", where)
        return UserFixture(
            associate_id=associate_id,
            name=name,
            password_hash=password_hash,
            role_id=role_id,
            group_id=self.integer(record, "group_id", where),
            full_name=self.text(record, "full_name", where, name, column=schema.associate.c.full_name),
            email=self.text(record, "email", where, f"{name}@example.com", column=schema.associate.c.email),
            person_id=self.integer(record, "person_id", where, associate_id),
            contact_id=self.integer(record, "contact_id", where, 1),
            user_type=self.text(
                record, "user_type", where, "InternalAssociate", column=schema.associate.c.user_type
            ),
            tickets=tickets,
            password=password,
        )

    def activities(self, value: object, groups: Mapping[int, int]) -> tuple[ActivityFixture, ...]:
        sections = self.mapping(value or {}, "activities")
        result: list[ActivityFixture] = []
        for table, rows in sections.items():
            if table not in TABLES:
                raise self.fail("activities", f"unknown kind {table!r}; use one of {TABLES}")
            kind = ActivityKind(table)
            seen: set[int] = set()
            for i, row in enumerate(self.sequence(rows, f"activities.{table}")):
                where = f"activities.{table}[{i}]"
                record = self.mapping(row, where)
                activity_id = self.integer(record, "id", where)
                where = f"activities.{table}[{i}] ({kind.key}={activity_id})"
                if activity_id in seen:
                    raise self.fail(where, f"duplicate id {activity_id}")
                seen.add(activity_id)
                status_name = self.text(record, "status", where, "NotStarted")
                try:
                    status = ActivityStatus[status_name]
                except KeyError:
                    raise self.fail(
                        where,
                        f"field 'status' is {status_name!r}; use one of {[s.name for s in ActivityStatus]}",
                    ) from None
                owner = self.integer(record, "associate_id", where)
                if owner not in groups:
                    raise self.fail(where, f"field 'associate_id' names unknown user {owner}")
                registered = self.when(record, "registered", where) or DEFAULT_REGISTERED
                done = self.when(record, "done", where)
                if status is ActivityStatus.Completed and done is None:
                    done = registered
                result.append(
                    ActivityFixture(
                        kind=kind,
                        id=activity_id,
                        title=self.text(
                            record, "title", where, "", column=schema.activity_tables[kind].c.title
                        ),
                        status=status,
                        associate_id=owner,
                        group_id=self.integer(record, "group_id", where, groups[owner]),
                        registered=registered,
                        done=done if status is ActivityStatus.Completed else None,
                    )
                )
        return tuple(result)

    def denial(self, value: object, index: int, names: Mapping[str, int]) -> DenialFixture:
        where = f"denials[{index}]"
        record = self.mapping(value, where)
        text = self.text(record, "activity", where)
        activity = parse_identifier(text)
        if activity is None:
            raise self.fail(where, f"field 'activity' is {text!r}, not like appointment_id=666")
        user = record.get("user")
        if user is not None and user not in names:
            raise self.fail(where, f"field 'user' names unknown user {user!r}")
        return DenialFixture(activity.kind, activity.id, names[user] if user is not None else None)
