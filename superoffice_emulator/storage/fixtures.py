"""Fixtures: the demo data every tenant starts from, read from YAML or JSON and validated.

The format (see ``superoffice_emulator/fixtures/default.yaml``)::

    roles:
      - {role_id: 1, name: Administrator, rights: {all: update}}
      - {role_id: 2, name: Sales rep, rights: {all: {own: update, group: update, other: read}}}
    users:
      - {associate_id: 1, name: demo, password: demo, role_id: 1, group_id: 1,
         tickets: ["7T:1234abcxyzExample=="], access_tokens: ["8A:Cust12345.Demo"]}
    application_tokens: ["1234567-1234-9876"]
    activities:
      appointment:
        - {id: 666, title: Lunch, status: NotStarted, associate_id: 1}
    denials:
      - {activity: "sale_id=12", user: salesrep}   # user omitted: denied to everyone
    applications:                                  # OpenID Connect clients (the Online front door)
      - {client_id: demo-app, client_secret: demo-app-secret, name: Demo app,
         redirect_uris: ["http://localhost:3000/callback"], allowed_origins: ["http://localhost:3000"],
         system_user: true, public_key: "-----BEGIN PUBLIC KEY-----..."}   # or <RSAKeyValue>...
    consents:                                      # system users: app approved in the tenant
      - {client_id: demo-app, user: demo, system_token: "Demo app-8k8Q7DmBgo"}  # token omitted: random
    tenant_state: Running                          # SuperOffice's tenant state; Running by default
    webhooks:                                      # registered as by POST /api/v1/Webhook, no test post
      - {webhook_id: 1, name: my-app, events: [activity.changed, "sale.*"],
         target_url: "http://127.0.0.1:9000/hook", secret: my-secret,
         application: demo-app}                    # a client_id or application token; Online: its own

A mistake is reported as ``FixtureError`` naming the file, the record, the field and a stable
``kind``. Only :func:`_read_document` knows the parsers' exceptions. Everything is validated
before any plain-text password is hashed, so a bad file costs no Argon2 time.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Column

from superoffice_emulator.domain.activities import ActivityKind, ActivityStatus, parse_identifier
from superoffice_emulator.domain.online import DEFAULT_STATE, TENANT_STATES, Application
from superoffice_emulator.domain.sentry import Level, TableRights
from superoffice_emulator.domain.sessions import hash_password
from superoffice_emulator.domain.system_users import public_key_shape_error
from superoffice_emulator.domain.values import int32_error, is_int32
from superoffice_emulator.domain.webhooks import Webhook, WebhookInvalid, WebhookState, checked
from superoffice_emulator.storage import parsed, schema

TABLES = [kind.value for kind in ActivityKind]
DEFAULT_REGISTERED = datetime(2024, 1, 1, 9, 0, 0)


FixtureErrorKind = Literal[
    "unreadable",  # the file cannot be read
    "bad_syntax",  # not YAML / JSON (the parser's line and column are in the message)
    "too_deep",  # nested deeper than MAX_DEPTH levels
    "too_large",  # more records, alias expansions or plain-text passwords than one load may hold
    "unknown_key",  # a section, field or relation the format does not have
    "bad_type",  # a mapping, list, integer, string or date-time of the wrong type
    "missing",  # a required field is absent
    "bad_value",  # a value outside its allowed set (status, right, identifier)
    "too_long",  # a string longer than its database column
    "bad_character",  # NUL or another control character that no database or XML reply carries
    "duplicate",  # a second record with the same key
    "unknown_reference",  # a role, user or activity that the fixtures do not define
]


class FixtureError(ValueError):
    """A fixture file that cannot be loaded.

    ``kind`` is stable and machine-readable; ``source`` (the file), ``record`` (such as
    ``users[0] (demo)``) and ``field`` say where; ``str()`` is the whole sentence, beginning with
    the source.
    """

    def __init__(
        self,
        source: str,
        kind: FixtureErrorKind,
        detail: str,
        *,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        self.source = source
        self.kind: FixtureErrorKind = kind
        self.detail = detail
        self.record = record
        self.field = field
        where = f"{record}: " if record else ""
        super().__init__(f"{source}: {where}{detail}")

    def as_dict(self) -> dict[str, str | None]:
        """The error's facts, as the admin API answers them."""
        return {
            "kind": self.kind,
            "source": self.source,
            "record": self.record,
            "field": self.field,
            "message": str(self),
        }


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
    access_tokens: tuple[str, ...] = ()
    """Bearer access tokens (REST, Online) of this user; like fixed tickets, they never expire."""


def published_password(user: UserFixture, demo: bool) -> str | None:
    """The password of ``user`` a person may be shown: as the file gives it in plain text, or in the
    shipped demo data (``demo``) the user's name (the convention ``scripts/make_fixtures.py``
    hashes); ``None`` when the file holds only a hash."""
    if user.password is not None:
        return user.password
    return user.name if demo else None


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
class ConsentFixture:
    """A system-user consent; ``system_token`` ``None``: a random one, made with each tenant."""

    client_id: str
    system_token: str | None
    associate_id: int


@dataclass(frozen=True)
class Fixtures:
    """Validated fixture data, ready to be inserted for a tenant."""

    source: str
    roles: tuple[RoleFixture, ...]
    users: tuple[UserFixture, ...]
    application_tokens: tuple[str, ...]
    activities: tuple[ActivityFixture, ...]
    denials: tuple[DenialFixture, ...] = field(default=())
    applications: tuple[Application, ...] = field(default=())
    tenant_state: str = DEFAULT_STATE
    consents: tuple[ConsentFixture, ...] = field(default=())
    webhooks: tuple[Webhook, ...] = field(default=())
    """Webhooks every tenant starts with (registered by associate 0, as fixture data)."""

    def application(self, client_id: str) -> Application | None:
        """The registered application ``client_id``; ``None`` when there is none."""
        return next((a for a in self.applications if a.client_id == client_id), None)

    def has_ticket(self, ticket: str) -> bool:
        """Whether ``ticket`` is one of the users' fixed tickets."""
        return any(ticket in user.tickets for user in self.users)

    def has_access_token(self, token: str) -> bool:
        """Whether ``token`` is one of the users' Bearer access tokens."""
        return any(token in user.access_tokens for user in self.users)

    def has_application_token(self, token: str) -> bool:
        """A listed application token, or a registered application's client secret."""
        return token in self.application_tokens or any(a.client_secret == token for a in self.applications)

    def has_system_token(self, token: str) -> bool:
        """Whether ``token`` is a consent's fixed system token (a tenant made from these has it)."""
        return any(c.system_token == token for c in self.consents)

    def password_hash(self, name: str) -> str | None:
        """The password hash of the user named ``name``; ``None`` when there is none."""
        return next((user.password_hash for user in self.users if user.name == name), None)


def load_fixtures(path: Path) -> Fixtures:
    """Read and validate the fixture file at ``path`` (``.yaml``, ``.yml`` or ``.json``).

    The result is cached per file version: plain-text passwords are hashed with Argon2 on load,
    which is deliberately slow, so a process that builds many apps from one file pays for it once.
    """
    try:
        stat = path.stat()
    except OSError as exc:
        raise FixtureError(str(path), "unreadable", f"cannot read the fixture file ({exc.strerror})") from exc
    return _load_cached(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _load_cached(path: Path, _mtime_ns: int, _size: int) -> Fixtures:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise FixtureError(str(path), "unreadable", f"cannot read the fixture file ({reason})") from exc
    source, json_format = str(path), path.suffix.lower() == ".json"
    if json_format:
        return parse_fixtures(text, source, json_format=True)
    kept = parsed.read(text)
    if kept is not None:
        with contextlib.suppress(FixtureError):  # else parsed again, and reported from the file
            return _Validator(source).fixtures(kept)
    document = _read_document(text, source, json_format=False)
    fixtures = _Validator(source).fixtures(document)
    if not _has_plain_passwords(document):  # hashed anew (a new salt) by every load: never the same
        parsed.keep(text, document, same=lambda copy: _Validator(source).fixtures(copy) == fixtures)
    return fixtures


def _has_plain_passwords(document: object) -> bool:
    users = document.get("users") if isinstance(document, dict) else None
    return isinstance(users, list) and any(isinstance(user, dict) and "password" in user for user in users)


def parse_fixtures(text: str | bytes, source: str, *, json_format: bool = False) -> Fixtures:
    """Validate fixture ``text`` (YAML, of which JSON is a subset); ``source`` names it in errors."""
    return _Validator(source).fixtures(_read_document(text, source, json_format=json_format))


MAX_DEPTH = 32
"""Fixtures need four levels; anything past this is refused before a parser can recurse on it."""
MAX_NODES = 1_000_000
"""YAML nodes per load, counting every alias as the whole node it repeats (no billion laughs)."""
MAX_RECORDS = 100_000
"""Records (roles, users, tokens, activities, denials) per load."""
MAX_PLAIN_PASSWORDS = 50
"""Plain-text passwords per load: each costs an Argon2 hash; give ``password_hash`` for more users."""


def _loader() -> Any:
    """libyaml's safe loader where PyYAML was built with it, else the pure-Python one."""
    import yaml  # imported to parse only: a start reads the demo fixtures from storage.parsed

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_document(text: str | bytes, source: str, *, json_format: bool) -> object:
    """Parse ``text``; the one place that knows the YAML and JSON parsers' exceptions."""
    import yaml

    kind = "JSON" if json_format else "YAML"
    try:
        if json_format:
            return json.loads(text)
        _check_yaml_shape(text, source)
        return yaml.load(text, Loader=_loader())
    except FixtureError:
        raise
    except RecursionError:
        raise _too_deep(source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise FixtureError(source, "bad_syntax", f"not valid {kind}{at}: {problem}") from None
    except ValueError as exc:  # json.JSONDecodeError, UnicodeDecodeError
        raise FixtureError(source, "bad_syntax", f"not valid {kind}: {exc}") from None


def _too_deep(source: str) -> FixtureError:
    return FixtureError(
        source,
        "too_deep",
        f"nested more than {MAX_DEPTH} levels deep; fixtures need only a few (see the fixture file format)",
    )


def _check_yaml_shape(text: str | bytes, source: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH, or larger than MAX_NODES once aliases expand.

    The event stream read here is flat and stops early, whatever the loader would do: libyaml
    builds nested collections recursively, and some of its builds refuse deep nesting themselves
    with a scanner error of their own. When libyaml stops with an error, the pure-Python parser
    (no nesting limit, no recursion) reads the text again to tell nesting from a plain syntax
    error, which the loader then reports with its line and column.
    """
    import yaml

    loader = _loader()
    try:
        _measure_yaml(text, source, loader)
    except yaml.YAMLError:
        if loader is yaml.SafeLoader:
            return
        try:
            _measure_yaml(text, source, yaml.SafeLoader)
        except yaml.YAMLError:
            return


def _measure_yaml(text: str | bytes, source: str, loader: Any) -> None:
    import yaml

    depth = nodes = 0
    anchors: dict[str, int] = {}
    open_anchors: list[tuple[str | None, int]] = []  # (anchor, nodes when it opened) per collection
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            nodes += anchors.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(source)
            nodes += 1
            open_anchors.append((event.anchor, nodes))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, opened = open_anchors.pop()
            if anchor:
                anchors[anchor] = nodes - opened + 1
        if nodes > MAX_NODES:
            raise FixtureError(
                source,
                "too_large",
                f"holds more than {MAX_NODES:,} values once its aliases are expanded; "
                "write the records out, or split the file",
            )


_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
"""Characters no database column or XML reply carries: NUL, the C0 controls but tab, newline and
carriage return, DEL, lone surrogates and the two non-characters XML forbids."""

_FIELDS: dict[str, tuple[str, ...]] = {
    "top level": (
        "roles",
        "users",
        "application_tokens",
        "activities",
        "denials",
        "applications",
        "tenant_state",
        "consents",
        "webhooks",
    ),
    "webhook": (
        "webhook_id",
        "name",
        "events",
        "target_url",
        "secret",
        "state",
        "type",
        "headers",
        "application",
    ),
    "application": (
        "client_id",
        "client_secret",
        "name",
        "redirect_uris",
        "allowed_origins",
        "public_key",
        "system_user",
    ),
    "consent": ("client_id", "user", "system_token"),
    "role": ("role_id", "name", "rights"),
    "user": (
        "associate_id",
        "name",
        "password",
        "password_hash",
        "role_id",
        "group_id",
        "full_name",
        "email",
        "person_id",
        "contact_id",
        "user_type",
        "tickets",
        "access_tokens",
    ),
    "activity": ("id", "title", "status", "associate_id", "group_id", "registered", "done"),
    "denial": ("activity", "user", "note"),  # note: free text for the reader, not stored
    "relation": ("own", "group", "other"),
    "rights": (*TABLES, "all"),
    "activities": tuple(TABLES),
}


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.records = 0

    def fail(
        self, where: str, kind: FixtureErrorKind, problem: str, field: str | None = None
    ) -> FixtureError:
        return FixtureError(self.source, kind, problem, record=where, field=field)

    def count(self, where: str) -> None:
        self.records += 1
        if self.records > MAX_RECORDS:
            raise self.fail(
                where, "too_large", f"more than {MAX_RECORDS:,} records in one load; split the data"
            )

    def known_keys(self, record: Mapping[str, Any], shape: str, where: str) -> None:
        """Refuse a key the format does not have, naming the closest known one."""
        known = _FIELDS[shape]
        for key in record:
            if key not in known:
                name = str(key)
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise self.fail(
                    where,
                    "unknown_key",
                    f"unknown {'section' if shape == 'top level' else 'key'} {name!r}{hint} "
                    f"(known: {', '.join(known)})",
                    field=name,
                )

    def mapping(self, value: object, where: str, shape: str | None = None) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, "bad_type", f"expected a mapping, got {type(value).__name__}")
        if shape is not None:
            self.known_keys(value, shape, where)
        return value

    def sequence(self, value: object, where: str) -> Sequence[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, "bad_type", f"expected a list, got {type(value).__name__}")
        return value

    def integer(self, record: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
        value = record.get(key, default)
        if value is None:
            raise self.fail(where, "missing", f"field '{key}' is required", key)
        if not is_int32(value):
            raise self.fail(where, "bad_type", int32_error(f"field '{key}'", value), key)
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
            raise self.fail(where, "missing", f"field '{key}' is required", key)
        if not isinstance(value, str):
            raise self.fail(where, "bad_type", f"field '{key}' must be a string, got {value!r}", key)
        bad = _UNSTORABLE.search(value)
        if bad is not None:
            what = "a NUL character" if bad.group() == "\x00" else f"the control character {bad.group()!r}"
            raise self.fail(
                where, "bad_character", f"field '{key}' contains {what}, which no database stores", key
            )
        limit = getattr(column.type, "length", None) if column is not None else None
        if limit is not None and len(value) > limit:
            raise self.fail(
                where, "too_long", f"field '{key}' is {len(value)} characters long; at most {limit} fit", key
            )
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
        raise self.fail(where, "bad_type", f"field '{key}' must be an ISO date-time, got {value!r}", key)

    def level(self, value: object, where: str) -> Level:
        try:
            return Level[str(value)]
        except KeyError:
            raise self.fail(
                where, "bad_value", f"right {value!r} must be one of none, read, update"
            ) from None

    def table_rights(self, value: object, where: str) -> TableRights:
        if isinstance(value, str):
            level = self.level(value, where)
            return TableRights(level, level, level)
        spec = self.mapping(value, where, "relation")
        return TableRights(
            *(self.level(spec.get(rel, "none"), f"{where}.{rel}") for rel in ("own", "group", "other"))
        )

    def fixtures(self, data: object) -> Fixtures:
        top = self.mapping(data, "top level", "top level")
        roles = tuple(self.role(r, i) for i, r in enumerate(self.sequence(top.get("roles"), "roles")))
        self.unique([r.role_id for r in roles], "roles", "role_id")
        users = [
            self.user(u, i, {r.role_id for r in roles})
            for i, u in enumerate(self.sequence(top.get("users"), "users"))
        ]
        self.unique([u.associate_id for u in users], "users", "associate_id")
        self.unique([u.name for u in users], "users", "name")
        self.unique([t for u in users for t in u.tickets], "users", "tickets")
        self.unique([t for u in users for t in u.access_tokens], "users", "access_tokens")
        groups = {u.associate_id: u.group_id for u in users}
        tokens = []
        for i, token in enumerate(self.sequence(top.get("application_tokens"), "application_tokens")):
            self.count(f"application_tokens[{i}]")
            tokens.append(
                self.text(
                    {"token": token},
                    "token",
                    f"application_tokens[{i}]",
                    column=schema.application_token.c.token,
                )
            )
        activities = self.activities(top.get("activities"), groups)
        names = {u.name: u.associate_id for u in users}
        denials = tuple(
            self.denial(d, i, names) for i, d in enumerate(self.sequence(top.get("denials"), "denials"))
        )
        applications = tuple(
            self.application(a, i)
            for i, a in enumerate(self.sequence(top.get("applications"), "applications"))
        )
        self.unique([a.client_id for a in applications], "applications", "client_id")
        for i, a in enumerate(applications):
            if a.client_id in tokens:  # a webhook's application would name both
                raise self.fail(
                    f"applications[{i}] ({a.client_id})",
                    "duplicate",
                    "field 'client_id' is also one of application_tokens; give the application "
                    "another client_id",
                    "client_id",
                )
        state = self.text(top, "tenant_state", "tenant_state", DEFAULT_STATE)
        if state not in TENANT_STATES:
            raise self.fail(
                "tenant_state",
                "bad_value",
                f"tenant_state is {state!r}; use one of {', '.join(TENANT_STATES)}",
                "tenant_state",
            )
        consents = tuple(
            self.consent(c, i, applications, names)
            for i, c in enumerate(self.sequence(top.get("consents"), "consents"))
        )
        self.unique([c.client_id for c in consents], "consents", "client_id")
        hooks = self.webhooks(top.get("webhooks"), [a.client_id for a in applications] + tokens)
        hashed = self.hash_passwords(users)
        return Fixtures(
            self.source,
            roles,
            hashed,
            tuple(tokens),
            activities,
            denials,
            applications,
            state,
            consents,
            webhooks=hooks,
        )

    def consent(
        self, value: object, index: int, applications: Sequence[Application], names: Mapping[str, int]
    ) -> ConsentFixture:
        where = f"consents[{index}]"
        self.count(where)
        record = self.mapping(value, where, "consent")
        client_id = self.text(record, "client_id", where)
        where = f"consents[{index}] ({client_id})"
        application = next((a for a in applications if a.client_id == client_id), None)
        if application is None:
            raise self.fail(
                where,
                "unknown_reference",
                f"field 'client_id' names unknown application {client_id!r}",
                "client_id",
            )
        if not application.system_user:
            raise self.fail(
                where,
                "bad_value",
                f"application {client_id!r} does not ask for a system user; give it system_user: true",
                "client_id",
            )
        user = self.text(record, "user", where)
        if user not in names:
            raise self.fail(where, "unknown_reference", f"field 'user' names unknown user {user!r}", "user")
        token = None
        if record.get("system_token") is not None:
            token = self.text(record, "system_token", where, column=schema.consent.c.system_token)
            if not token.strip() or token != token.strip():
                raise self.fail(
                    where,
                    "bad_value",
                    "field 'system_token' is empty or has surrounding spaces",
                    "system_token",
                )
        return ConsentFixture(client_id, token, names[user])

    def webhooks(self, value: object, applications: Sequence[str]) -> tuple[Webhook, ...]:
        """The ``webhooks`` section: ids default to 1, 2, ... in the order given; ``application``
        one of ``applications`` (the client ids, then the application tokens), none by default."""
        hooks: list[Webhook] = []
        for index, item in enumerate(self.sequence(value, "webhooks")):
            where = f"webhooks[{index}]"
            self.count(where)
            record = self.mapping(item, where, "webhook")
            w = schema.webhook.c
            name = self.text(record, "name", where, column=w.name)
            where = f"webhooks[{index}] ({name})"
            events = tuple(
                self.text({"events": e}, "events", f"{where}.events[{i}]")
                for i, e in enumerate(self.sequence(record.get("events"), f"{where}.events"))
            )
            headers = self.mapping(record.get("headers") or {}, f"{where}.headers")
            state_name = self.text(record, "state", where, WebhookState.Active.name)
            if state_name not in WebhookState.__members__:
                raise self.fail(
                    where,
                    "bad_value",
                    f"state {state_name!r} must be one of {', '.join(WebhookState.__members__)}",
                    "state",
                )
            hook = Webhook(
                id=self.integer(record, "webhook_id", where, index + 1),
                name=name,
                events=events,
                target_url=self.text(record, "target_url", where),
                secret=self.text(record, "secret", where, ""),
                state=WebhookState[state_name],
                type=self.text(record, "type", where, "webhook", column=w.type),
                headers={str(key): self.text(headers, key, f"{where}.headers") for key in headers},
                registered=DEFAULT_REGISTERED,
                application=self.named_application(record, "application", where, applications),
            )
            if hook.id < 1:
                raise self.fail(where, "bad_value", "field 'webhook_id' must be 1 or more", "webhook_id")
            try:
                hooks.append(checked(hook))
            except WebhookInvalid as exc:
                raise self.fail(where, "bad_value", exc.message) from None
        self.unique([hook.id for hook in hooks], "webhooks", "webhook_id")
        return tuple(hooks)

    def named_application(
        self, record: Mapping[str, Any], key: str, where: str, known: Sequence[str]
    ) -> str | None:
        """An optional field naming an application: one of ``known``."""
        if record.get(key) is None:
            return None
        value = self.text(record, key, where)
        if value not in known:
            raise self.fail(
                where,
                "unknown_reference",
                f"field '{key}' names unknown application {value[:200]!r}; give the client_id of one "
                "in applications, or one of application_tokens",
                key,
            )
        return value

    def application(self, value: object, index: int) -> Application:
        where = f"applications[{index}]"
        self.count(where)
        record = self.mapping(value, where, "application")
        a = schema.application.c
        client_id = self.text(record, "client_id", where, column=a.client_id)
        where = f"applications[{index}] ({client_id})"

        def texts(key: str) -> tuple[str, ...]:
            items = self.sequence(record.get(key), f"{where}.{key}")
            return tuple(self.text({key: item}, key, f"{where}.{key}[{i}]") for i, item in enumerate(items))

        public_key = record.get("public_key")
        if public_key is not None:
            public_key = self.text(record, "public_key", where)
            problem = public_key_shape_error(public_key)
            if problem is not None:
                raise self.fail(where, "bad_value", f"field 'public_key' {problem}", "public_key")
        system_user = record.get("system_user", False)
        if not isinstance(system_user, bool):
            raise self.fail(
                where,
                "bad_type",
                f"field 'system_user' must be true or false, got {system_user!r}",
                "system_user",
            )
        return Application(
            client_id=client_id,
            client_secret=self.text(record, "client_secret", where, column=a.client_secret),
            name=self.text(record, "name", where, client_id, column=a.name),
            redirect_uris=texts("redirect_uris"),
            allowed_origins=texts("allowed_origins"),
            public_key=public_key,
            system_user=system_user,
        )

    def hash_passwords(self, users: Sequence[UserFixture]) -> tuple[UserFixture, ...]:
        """Hash the plain-text passwords, last: only a file that is valid in every other way pays."""
        plain = [u for u in users if u.password_hash.startswith(_PLAIN)]
        if len(plain) > MAX_PLAIN_PASSWORDS:
            raise self.fail(
                "users",
                "too_large",
                f"{len(plain)} users give a plain-text password; at most {MAX_PLAIN_PASSWORDS} may "
                "(each costs an Argon2 hash): give the others as password_hash "
                "(scripts/make_fixtures.py shows how to make them)",
                "password",
            )
        return tuple(
            replace(u, password_hash=hash_password(u.password_hash.removeprefix(_PLAIN)))
            if u.password_hash.startswith(_PLAIN)
            else u
            for u in users
        )

    def unique(self, values: Sequence[object], section: str, key: str) -> None:
        seen: set[object] = set()
        for i, value in enumerate(values):
            if value in seen:
                raise self.fail(f"{section}[{i}]", "duplicate", f"duplicate {key} {value!r}", key)
            seen.add(value)

    def role(self, value: object, index: int) -> RoleFixture:
        where = f"roles[{index}]"
        self.count(where)
        record = self.mapping(value, where, "role")
        rights_spec = self.mapping(record.get("rights", {}), f"{where}.rights", "rights")
        rights: dict[str, TableRights] = {}
        if "all" in rights_spec:
            every = self.table_rights(rights_spec["all"], f"{where}.rights.all")
            rights = dict.fromkeys(TABLES, every)
        for table, spec in rights_spec.items():
            if table != "all":
                rights[table] = self.table_rights(spec, f"{where}.rights.{table}")
        return RoleFixture(
            self.integer(record, "role_id", where),
            self.text(record, "name", where, column=schema.role.c.name),
            rights,
        )

    def user(self, value: object, index: int, role_ids: set[int]) -> UserFixture:
        where = f"users[{index}]"
        self.count(where)
        record = self.mapping(value, where, None if "name" in record_keys(value) else "user")
        name = self.text(record, "name", where, column=schema.associate.c.name)
        where = f"users[{index}] ({name})"
        self.known_keys(record, "user", where)
        password = None if "password_hash" in record else self.text(record, "password", where)
        if password is None:
            password_hash = self.text(record, "password_hash", where, column=schema.associate.c.password_hash)
        else:  # hashed by hash_passwords once the whole file is valid
            password_hash = _PLAIN + password
        role_id = self.integer(record, "role_id", where)
        if role_id not in role_ids:
            raise self.fail(
                where, "unknown_reference", f"field 'role_id' names unknown role {role_id}", "role_id"
            )
        tickets = tuple(
            self.text({"ticket": t}, "ticket", f"{where}.tickets[{i}]", column=schema.ticket.c.ticket)
            for i, t in enumerate(self.sequence(record.get("tickets"), f"{where}.tickets"))
        )
        access_tokens = tuple(
            self.text(
                {"access_token": t},
                "access_token",
                f"{where}.access_tokens[{i}]",
                column=schema.access_token.c.token,
            )
            for i, t in enumerate(self.sequence(record.get("access_tokens"), f"{where}.access_tokens"))
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
            access_tokens=access_tokens,
        )

    def activities(self, value: object, groups: Mapping[int, int]) -> tuple[ActivityFixture, ...]:
        sections = self.mapping(value or {}, "activities", "activities")
        result: list[ActivityFixture] = []
        for table, rows in sections.items():
            kind = ActivityKind(table)
            seen: set[int] = set()
            for i, row in enumerate(self.sequence(rows, f"activities.{table}")):
                where = f"activities.{table}[{i}]"
                self.count(where)
                record = self.mapping(row, where, None if "id" in record_keys(row) else "activity")
                activity_id = self.integer(record, "id", where)
                where = f"activities.{table}[{i}] ({kind.key}={activity_id})"
                self.known_keys(record, "activity", where)
                if activity_id in seen:
                    raise self.fail(where, "duplicate", f"duplicate id {activity_id}", "id")
                seen.add(activity_id)
                status_name = self.text(record, "status", where, "NotStarted")
                try:
                    status = ActivityStatus[status_name]
                except KeyError:
                    raise self.fail(
                        where,
                        "bad_value",
                        f"field 'status' is {status_name!r}; use one of {[s.name for s in ActivityStatus]}",
                        "status",
                    ) from None
                owner = self.integer(record, "associate_id", where)
                if owner not in groups:
                    raise self.fail(
                        where,
                        "unknown_reference",
                        f"field 'associate_id' names unknown user {owner}",
                        "associate_id",
                    )
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
        self.count(where)
        record = self.mapping(value, where, "denial")
        text = self.text(record, "activity", where)
        if "note" in record:
            self.text(record, "note", where)
        activity = parse_identifier(text)
        if activity is None:
            raise self.fail(
                where, "bad_value", f"field 'activity' is {text!r}, not like appointment_id=666", "activity"
            )
        user = record.get("user")
        if user is not None and user not in names:
            raise self.fail(where, "unknown_reference", f"field 'user' names unknown user {user!r}", "user")
        return DenialFixture(activity.kind, activity.id, names[user] if user is not None else None)


def record_keys(value: object) -> Iterable[object]:
    """The keys of a record, or none when it is not a mapping (which ``mapping`` then reports).

    A record is named by its identity (``users[0] (demo)``) once that is read; an unknown key is
    checked before the identity only when the identity itself is missing, so that a misspelt
    ``nmae:`` is reported as unknown rather than as a missing ``name``.
    """
    return value.keys() if isinstance(value, Mapping) else ()


_PLAIN = "\x00plain:"
"""Marks a password still in plain text between validation and hashing (NUL: no real hash has it)."""
