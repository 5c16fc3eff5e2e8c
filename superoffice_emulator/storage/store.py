"""One tenant's view of the database inside one transaction: the statements the domain needs.

:class:`Statements` writes them with SQLAlchemy Core over :mod:`superoffice_emulator.storage.schema`'s
tables, compiled once per dialect (:mod:`superoffice_emulator.storage.sql`); :class:`TenantStore` runs
them on the transaction's cursor.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from superoffice_emulator.domain.activities import (
    ActivityKind,
    ActivityRecord,
    ActivityStatus,
)
from superoffice_emulator.domain.online import Application
from superoffice_emulator.domain.sentry import Level, TableRights, User
from superoffice_emulator.domain.sessions import AccessTokenRow, TicketRow
from superoffice_emulator.domain.system_users import Consent
from superoffice_emulator.storage import schema
from superoffice_emulator.storage.facts import TenantFacts
from superoffice_emulator.storage.sql import Dialect, Statement

_a, _r, _t = schema.associate, schema.role, schema.ticket
_USER_COLUMNS: tuple[ColumnElement[Any], ...] = (
    _a.c.associate_id,
    _a.c.name,
    _a.c.group_id,
    _a.c.role_id,
    _r.c.name,
    _r.c.rights,
    _a.c.full_name,
    _a.c.email,
    _a.c.person_id,
    _a.c.contact_id,
    _a.c.user_type,
)
"""The columns :func:`user_from_row` reads, in its order."""
_WITH_ROLE = _a.join(_r, and_(_r.c.tenant == _a.c.tenant, _r.c.role_id == _a.c.role_id))

JOURNAL_COLUMNS: tuple[str, ...] = tuple(
    column.key for column in schema.journal.columns if column is not schema.journal.autoincrement_column
)
"""The journal's columns a new entry gives: all but its id."""

_TENANT: BindParameter[str] = bindparam("tenant")


class AuthorizationCode(NamedTuple):
    """An authorization code's row (all but its tenant), in the table's column order."""

    code: str
    client_id: str
    associate_id: int
    redirect_uri: str
    code_challenge: str | None
    challenge_method: str | None
    nonce: str | None
    expires: datetime


class Statements:
    """The statements of a call's transaction in one dialect, each compiled once."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        a, t, j = _a, _t, schema.journal
        self.find_ticket = Statement(
            select(*_USER_COLUMNS, t.c.last_used, t.c.fixed)
            .select_from(
                t.join(_WITH_ROLE, and_(a.c.tenant == t.c.tenant, a.c.associate_id == t.c.associate_id))
            )
            .where(t.c.tenant == _TENANT, t.c.ticket == bindparam("ticket")),
            dialect,
        )
        self.touch_ticket = Statement(
            update(t)
            .where(t.c.tenant == _TENANT, t.c.ticket == bindparam("ticket"))
            .values(last_used=bindparam("now")),
            dialect,
        )
        self.add_ticket = Statement(
            insert(t).inline(), dialect, columns=("tenant", "ticket", "associate_id", "last_used", "fixed")
        )
        self.find_login = Statement(
            select(*_USER_COLUMNS, a.c.password_hash)
            .select_from(_WITH_ROLE)
            .where(a.c.tenant == _TENANT, a.c.name == bindparam("name")),
            dialect,
        )
        access = schema.access_token
        self.find_access_token = Statement(
            select(*_USER_COLUMNS)
            .select_from(
                access.join(
                    _WITH_ROLE, and_(a.c.tenant == access.c.tenant, a.c.associate_id == access.c.associate_id)
                )
            )
            .where(access.c.tenant == _TENANT, access.c.token == bindparam("token"))
            .add_columns(access.c.expires),
            dialect,
        )
        self.add_access_token = Statement(
            insert(access).inline(),
            dialect,
            columns=("tenant", "token", "associate_id", "expires", "client_id"),
        )
        app = schema.application
        app_columns = (
            app.c.client_id,
            app.c.client_secret,
            app.c.name,
            app.c.redirect_uris,
            app.c.allowed_origins,
            app.c.public_key,
            app.c.system_user,
        )
        self.find_application = Statement(
            select(*app_columns).where(app.c.tenant == _TENANT, app.c.client_id == bindparam("client_id")),
            dialect,
        )
        self.find_application_by_secret = Statement(
            select(*app_columns)
            .where(app.c.tenant == _TENANT, app.c.client_secret == bindparam("secret"))
            .order_by(app.c.client_id),  # the first, should two apps share a secret
            dialect,
        )
        consent = schema.consent
        self.find_consent = Statement(
            select(consent.c.client_id, consent.c.system_token, consent.c.associate_id).where(
                consent.c.tenant == _TENANT, consent.c.client_id == bindparam("client_id")
            ),
            dialect,
        )
        self.list_consents = Statement(
            select(consent.c.client_id, consent.c.system_token, consent.c.associate_id)
            .where(consent.c.tenant == _TENANT)
            .order_by(consent.c.client_id),
            dialect,
        )
        self.add_consent = Statement(
            insert(consent).inline(), dialect, columns=("tenant", "client_id", "system_token", "associate_id")
        )
        self.delete_consent = Statement(
            delete(consent).where(consent.c.tenant == _TENANT, consent.c.client_id == bindparam("client_id")),
            dialect,
        )
        self.has_client_secret = Statement(
            select(app.c.client_id).where(app.c.tenant == _TENANT, app.c.client_secret == bindparam("token")),
            dialect,
        )
        code = schema.authorization_code
        self.add_code = Statement(
            insert(code).inline(),
            dialect,
            columns=tuple(column.key for column in code.columns),
        )
        self.find_code = Statement(
            select(*(column for column in code.columns if column.key != "tenant")).where(
                code.c.tenant == _TENANT, code.c.code == bindparam("code")
            ),
            dialect,
        )
        self.delete_code = Statement(
            delete(code).where(code.c.tenant == _TENANT, code.c.code == bindparam("code")), dialect
        )
        refresh = schema.refresh_token
        self.add_refresh_token = Statement(
            insert(refresh).inline(), dialect, columns=("tenant", "token", "client_id", "associate_id")
        )
        self.find_refresh_token = Statement(
            select(refresh.c.client_id, refresh.c.associate_id).where(
                refresh.c.tenant == _TENANT, refresh.c.token == bindparam("token")
            ),
            dialect,
        )
        self.access_token_grant = Statement(
            select(access.c.client_id, access.c.associate_id).where(
                access.c.tenant == _TENANT, access.c.token == bindparam("token")
            ),
            dialect,
        )
        self.delete_access_token = Statement(
            delete(access).where(access.c.tenant == _TENANT, access.c.token == bindparam("token")), dialect
        )
        self.delete_access_tokens_of = Statement(
            delete(access).where(
                access.c.tenant == _TENANT,
                access.c.client_id == bindparam("client_id"),
                access.c.associate_id == bindparam("associate_id"),
            ),
            dialect,
        )
        self.delete_refresh_token = Statement(
            delete(refresh).where(refresh.c.tenant == _TENANT, refresh.c.token == bindparam("token")), dialect
        )
        self.find_user = Statement(
            select(*_USER_COLUMNS)
            .select_from(_WITH_ROLE)
            .where(a.c.tenant == _TENANT, a.c.associate_id == bindparam("associate_id")),
            dialect,
        )
        token = schema.application_token
        self.has_token = Statement(
            select(token.c.token).where(token.c.tenant == _TENANT, token.c.token == bindparam("token")),
            dialect,
        )
        self.tenant_generation = Statement(
            select(schema.tenant.c.generation, schema.tenant.c.state).where(
                schema.tenant.c.tenant == _TENANT
            ),
            dialect,
        )
        self.journal_insert = Statement(insert(j).inline(), dialect, columns=JOURNAL_COLUMNS)
        if self.journal_insert.names != JOURNAL_COLUMNS:  # add_journal_entry's values come in this order
            raise TypeError(f"the journal's INSERT takes {self.journal_insert.names}")
        self.journal_floor = Statement(
            select(j.c.id)
            .where(j.c.tenant == _TENANT)
            .order_by(j.c.id.desc())
            .limit(literal_column("1", Integer))
            .offset(bindparam("keep", type_=j.c.id.type)),
            dialect,
        )
        """The id just below a tenant's newest ``keep`` entries (no row when it has that many or fewer)."""
        self.journal_trim = Statement(
            delete(j).where(j.c.tenant == _TENANT, j.c.id <= bindparam("floor")), dialect
        )
        orphan = j.c.tenant.not_in(select(schema.tenant.c.tenant).scalar_subquery())
        self.orphans_floor = Statement(
            select(j.c.id)
            .where(orphan)
            .order_by(j.c.id.desc())
            .limit(literal_column("1", Integer))
            .offset(bindparam("keep", type_=j.c.id.type)),
            dialect,
        )
        """The id just below the newest ``keep`` entries of tenants that do not exist."""
        self.orphans_trim = Statement(delete(j).where(orphan, j.c.id <= bindparam("floor")), dialect)
        self._selects: dict[tuple[ActivityKind, int], Statement] = {}
        self._updates: dict[tuple[ActivityKind, int], Statement] = {}

    def select_activities(self, kind: ActivityKind, count: int) -> Statement:
        """Owner, group and "explicitly denied to this user" of ``count`` records of ``kind``.

        Values: ``kind`` (its value), ``associate_id`` (the user's), ``tenant``, ``ids``.
        """
        bucket = self.dialect.id_bucket(count)
        statement = self._selects.get((kind, bucket))
        if statement is None:
            x, d = schema.activity_tables[kind], schema.sentry_denial
            key = x.c[kind.key]
            denied = exists().where(
                d.c.tenant == x.c.tenant,
                d.c.kind == bindparam("kind"),
                d.c.record_id == key,
                or_(d.c.associate_id.is_(None), d.c.associate_id == bindparam("associate_id")),
            )
            statement = self._selects[kind, bucket] = Statement(
                select(
                    key, x.c.associate_id, x.c.group_idx, denied, x.c.status, x.c.done, x.c.updatedCount
                ).where(x.c.tenant == _TENANT, self.dialect.ids_match(key, "ids", bucket)),
                self.dialect,
                lists=("ids",),
            )
        return statement

    def update_status(self, kind: ActivityKind, count: int) -> Statement:
        """Set status, done and the bookkeeping of ``count`` records of ``kind``.

        Values: ``status``, ``done``, ``updated``, ``updated_associate_id``, ``tenant``, ``ids``.
        """
        bucket = self.dialect.id_bucket(count)
        statement = self._updates.get((kind, bucket))
        if statement is None:
            x = schema.activity_tables[kind]
            statement = self._updates[kind, bucket] = Statement(
                update(x)
                .where(x.c.tenant == _TENANT, self.dialect.ids_match(x.c[kind.key], "ids", bucket))
                .values(
                    status=bindparam("status"),
                    done=bindparam("done"),
                    updated=bindparam("updated"),
                    updated_associate_id=bindparam("updated_associate_id"),
                    updatedCount=x.c.updatedCount + literal_column("1"),
                ),
                self.dialect,
                lists=("ids",),
            )
        return statement


@functools.cache
def statements_for(dialect: Dialect) -> Statements:
    """The call's statements of ``dialect``, compiled once per process."""
    return Statements(dialect)


@functools.lru_cache(maxsize=256)
def decode_rights(text: str) -> Mapping[str, TableRights]:
    """Role rights as stored (JSON ``{table: [own, group, other]}``) → ``TableRights`` per table."""
    raw: dict[str, list[int]] = json.loads(text)
    return {table: TableRights(*(Level(v) for v in levels)) for table, levels in raw.items()}


def encode_rights(rights: Mapping[str, TableRights]) -> str:
    return json.dumps(
        {t: [r.own.value, r.group.value, r.other.value] for t, r in sorted(rights.items())},
        separators=(",", ":"),
    )


def user_from_row(row: Sequence[Any]) -> User:
    """A ``User`` from the user columns of :class:`Statements`, in their order."""
    return _user(tuple(row[:11]))


@functools.lru_cache(maxsize=256)
def _user(row: tuple[Any, ...]) -> User:
    """Users are immutable and few, and every call reads one: each is built once."""
    return User(
        associate_id=row[0],
        name=row[1],
        group_id=row[2],
        role_id=row[3],
        role_name=row[4],
        rights=decode_rights(row[5]),
        full_name=row[6],
        email=row[7],
        person_id=row[8],
        contact_id=row[9],
        user_type=row[10],
    )


class TenantStore:
    """Implements ``ActivityStore`` and ``SessionStore`` for ``tenant`` in one open transaction.

    It runs :class:`Statements` on the transaction's DB-API cursor; the transaction is
    :meth:`superoffice_emulator.storage.database.Database.transaction`'s. With ``facts`` (the tenant's,
    read under its generation in this transaction) application tokens and fixture tickets are looked up
    there first.
    """

    def __init__(
        self, cursor: Any, tenant: str, statements: Statements, facts: TenantFacts | None = None
    ) -> None:
        self.cursor = cursor
        self.tenant = tenant
        self.sql = statements
        self.facts = facts
        self.state: str | None = None
        """The tenant's state as :meth:`generation` read it (``None``: not read, or no tenant)."""

    def _run(self, statement: Statement, **values: Any) -> None:
        self.cursor.execute(statement.text, statement.params(values))

    def _one(self, statement: Statement, **values: Any) -> Sequence[Any] | None:
        self.cursor.execute(statement.text, statement.params(values))
        row = self.cursor.fetchone()
        return None if row is None else statement.row(row)

    def generation(self) -> int | None:
        """The tenant's generation (:mod:`superoffice_emulator.storage.facts`); ``None`` when it does not
        exist."""
        row = self._one(self.sql.tenant_generation, tenant=self.tenant)
        if row is None:
            return None
        self.state = row[1]
        return int(row[0])

    def tenant_exists(self) -> bool:
        return self.facts is not None or self.generation() is not None

    # -- activities -------------------------------------------------------------------------
    def fetch_activities(
        self, kind: ActivityKind, ids: Collection[int], associate_id: int
    ) -> dict[int, ActivityRecord]:
        wanted = list(ids)
        statement = self.sql.select_activities(kind, len(wanted))
        values = {"kind": kind.value, "associate_id": associate_id, "tenant": self.tenant, "ids": wanted}
        self.cursor.execute(statement.text, statement.params(values))
        rows = statement.rows(self.cursor.fetchall())
        return {
            row[0]: ActivityRecord(row[0], row[1], row[2], row[3], ActivityStatus(row[4]), row[5], row[6])
            for row in rows
        }

    def update_status(
        self,
        kind: ActivityKind,
        ids: Collection[int],
        status: ActivityStatus,
        associate_id: int,
        now: datetime,
    ) -> None:
        wanted = list(ids)
        self._run(
            self.sql.update_status(kind, len(wanted)),
            status=int(status),
            done=now if status is ActivityStatus.Completed else None,
            updated=now,
            updated_associate_id=associate_id,
            tenant=self.tenant,
            ids=wanted,
        )

    # -- sessions ---------------------------------------------------------------------------
    def find_ticket(self, ticket: str) -> TicketRow | None:
        facts = self.facts
        if facts is not None and (known := facts.fixture_tickets.get(ticket)) is not None:
            return known
        row = self._one(self.sql.find_ticket, tenant=self.tenant, ticket=ticket)
        if row is None:
            return None
        found = TicketRow(user_from_row(row), row[11], row[12])
        if facts is not None:
            facts.remember_ticket(ticket, found)
        return found

    def touch_ticket(self, ticket: str, now: datetime) -> None:
        self._run(self.sql.touch_ticket, now=now, tenant=self.tenant, ticket=ticket)

    def find_access_token(self, token: str) -> AccessTokenRow | None:
        row = self._one(self.sql.find_access_token, tenant=self.tenant, token=token)
        return None if row is None else AccessTokenRow(user_from_row(row), row[11])

    def add_access_token(self, token: str, associate_id: int, expires: datetime, client_id: str) -> None:
        self._run(
            self.sql.add_access_token,
            tenant=self.tenant,
            token=token,
            associate_id=associate_id,
            expires=expires,
            client_id=client_id,
        )

    def find_user(self, associate_id: int) -> User | None:
        row = self._one(self.sql.find_user, tenant=self.tenant, associate_id=associate_id)
        return None if row is None else user_from_row(row)

    # -- the Online front door --------------------------------------------------------------
    def find_application(self, client_id: str) -> Application | None:
        row = self._one(self.sql.find_application, tenant=self.tenant, client_id=client_id)
        return None if row is None else _application(row)

    def find_application_by_secret(self, secret: str) -> Application | None:
        """The application whose client secret (application token) is ``secret``."""
        row = self._one(self.sql.find_application_by_secret, tenant=self.tenant, secret=secret)
        return None if row is None else _application(row)

    # -- system users -----------------------------------------------------------------------
    def find_consent(self, client_id: str) -> Consent | None:
        row = self._one(self.sql.find_consent, tenant=self.tenant, client_id=client_id)
        return None if row is None else Consent(row[0], row[1], row[2])

    def consents(self) -> list[Consent]:
        """The tenant's system-user consents, by client id."""
        statement = self.sql.list_consents
        self.cursor.execute(statement.text, statement.params({"tenant": self.tenant}))
        return [Consent(row[0], row[1], row[2]) for row in statement.rows(self.cursor.fetchall())]

    def add_consent(self, consent: Consent) -> None:
        self._run(
            self.sql.add_consent,
            tenant=self.tenant,
            client_id=consent.client_id,
            system_token=consent.system_token,
            associate_id=consent.associate_id,
        )

    def delete_consent(self, client_id: str) -> bool:
        """Delete the consent of ``client_id``; whether there was one."""
        if self.find_consent(client_id) is None:
            return False
        self._run(self.sql.delete_consent, tenant=self.tenant, client_id=client_id)
        return True

    def add_code(self, code: AuthorizationCode) -> None:
        self._run(self.sql.add_code, tenant=self.tenant, **code._asdict())

    def take_code(self, code: str) -> AuthorizationCode | None:
        """The code, deleted in the same transaction: a code is used once.

        The delete decides: a code another transaction deleted since it was read (READ COMMITTED
        lets both read it, were the tenant's writers not already one at a time) is ``None`` too."""
        row = self._one(self.sql.find_code, tenant=self.tenant, code=code)
        if row is None:
            return None
        self._run(self.sql.delete_code, tenant=self.tenant, code=code)
        if self.cursor.rowcount != 1:
            return None
        return AuthorizationCode(*row)

    def add_refresh_token(self, token: str, client_id: str, associate_id: int) -> None:
        self._run(
            self.sql.add_refresh_token,
            tenant=self.tenant,
            token=token,
            client_id=client_id,
            associate_id=associate_id,
        )

    def find_refresh_token(self, token: str) -> tuple[str, int] | None:
        """The client and the user of a refresh token; ``None`` when it is unknown."""
        row = self._one(self.sql.find_refresh_token, tenant=self.tenant, token=token)
        return None if row is None else (row[0], row[1])

    def access_token_grant(self, token: str) -> tuple[str | None, int] | None:
        """The client (``None``: a fixture's token) and the user an access token was granted to."""
        row = self._one(self.sql.access_token_grant, tenant=self.tenant, token=token)
        return None if row is None else (row[0], row[1])

    def revoke_access_token(self, token: str) -> None:
        self._run(self.sql.delete_access_token, tenant=self.tenant, token=token)

    def revoke_refresh_token(self, token: str, client_id: str, associate_id: int) -> None:
        """The refresh token, and the access tokens of the same consent (the client and the user)."""
        self._run(self.sql.delete_refresh_token, tenant=self.tenant, token=token)
        self._run(
            self.sql.delete_access_tokens_of,
            tenant=self.tenant,
            client_id=client_id,
            associate_id=associate_id,
        )

    def add_ticket(self, ticket: str, associate_id: int, now: datetime) -> None:
        self._run(
            self.sql.add_ticket,
            tenant=self.tenant,
            ticket=ticket,
            associate_id=associate_id,
            last_used=now,
            fixed=False,
        )

    def find_login(self, name: str) -> tuple[User, str] | None:
        row = self._one(self.sql.find_login, tenant=self.tenant, name=name)
        return None if row is None else (user_from_row(row), row[11])

    def password_hash(self, name: str) -> str | None:
        found = self.find_login(name)
        return None if found is None else found[1]

    def has_application_token(self, token: str) -> bool:
        facts = self.facts
        if facts is not None and token in facts.application_tokens:
            return True
        registered = (
            self._one(self.sql.has_token, tenant=self.tenant, token=token) is not None
            or self._one(self.sql.has_client_secret, tenant=self.tenant, token=token) is not None
        )
        if facts is not None:
            facts.remember_token(token, registered)
        return registered

    # -- journal ----------------------------------------------------------------------------
    def add_journal_entry(self, values: list[Any]) -> None:
        """One journal row: ``values`` in ``JOURNAL_COLUMNS``' order, the first (the tenant) the store's."""
        statement = self.sql.journal_insert
        self.cursor.execute(statement.text, statement.params_in_order(values))

    def trim_journal(self, keep: int) -> None:
        """Delete all but the tenant's newest ``keep`` journal entries."""
        row = self._one(self.sql.journal_floor, tenant=self.tenant, keep=keep)
        if row is not None:
            self._run(self.sql.journal_trim, tenant=self.tenant, floor=row[0])

    def trim_orphan_journal(self, keep: int) -> None:
        """Delete all but the newest ``keep`` journal entries of all tenants that do not exist."""
        row = self._one(self.sql.orphans_floor, keep=keep)
        if row is not None:
            self._run(self.sql.orphans_trim, floor=row[0])


def _application(row: Sequence[Any]) -> Application:
    """An ``Application`` from :class:`Statements`' application columns, in their order."""
    return Application(
        row[0], row[1], row[2], tuple(json.loads(row[3])), tuple(json.loads(row[4])), row[5], bool(row[6])
    )
