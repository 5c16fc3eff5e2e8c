"""Tenants: made from the fixtures, and deleted, with the statements of one write transaction.

A tenant is its row in ``emulator_tenant`` and its rows in every other table. Creating one inserts both;
a reset deletes them and creates the tenant again, in the same transaction, so a reset cut short leaves
the old tenant or the new one, never a mixture. The transactions and their locks are
:mod:`superoffice_emulator.storage.transactions`' (the same as a call's).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Table, bindparam, delete, func, insert, literal_column, select, update

from superoffice_emulator.domain.clock import utcnow
from superoffice_emulator.domain.system_users import new_system_token
from superoffice_emulator.storage import schema
from superoffice_emulator.storage.facts import new_generation
from superoffice_emulator.storage.fixtures import Fixtures
from superoffice_emulator.storage.sql import Dialect, Statement
from superoffice_emulator.storage.store import encode_rights
from superoffice_emulator.storage.webhooks import webhook_row

FIXED_TICKET_LAST_USED = datetime(2000, 1, 1)
"""A fixture's ticket never expires; its ``last_used`` is this."""

Rows = dict[Table, list[dict[str, Any]]]


def _columns(table: Table) -> list[str]:
    """The columns an insert gives: all but an autoincrementing id."""
    return [column.key for column in table.columns if column is not table.autoincrement_column]


class Tenants:
    """Creates and deletes tenants on a transaction's cursor, with statements compiled once."""

    def __init__(self, dialect: Dialect) -> None:
        tenant: BindParameter[str] = bindparam("tenant")
        self._inserts = {
            table: Statement(insert(table).inline(), dialect, columns=_columns(table))
            for table in schema.metadata.sorted_tables  # parents first
        }
        self._deletes = [
            Statement(delete(table).where(table.c.tenant == tenant), dialect)
            for table in schema.TENANT_TABLES  # children first
        ]
        self._count = Statement(select(func.count()).select_from(schema.tenant), dialect)
        t = schema.tenant
        self._next_generation = Statement(
            update(t).where(t.c.tenant == tenant).values(generation=t.c.generation + literal_column("1")),
            dialect,
        )

        self._set_state = Statement(
            update(t).where(t.c.tenant == tenant).values(state=bindparam("state")), dialect
        )

    def set_state(self, cursor: Any, tenant: str, state: str) -> None:
        cursor.execute(self._set_state.text, self._set_state.params({"tenant": tenant, "state": state}))

    def count(self, cursor: Any) -> int:
        """How many tenants the database holds."""
        cursor.execute(self._count.text, [])
        return int(cursor.fetchone()[0])

    def create(self, cursor: Any, tenant: str, fixtures: Fixtures) -> None:
        """Insert ``tenant`` and its rows made from ``fixtures`` (it must not exist)."""
        rows = fixture_rows(tenant, fixtures)
        rows[schema.tenant] = [
            {
                "tenant": tenant,
                "created": utcnow(),
                "generation": new_generation(),
                "state": fixtures.tenant_state,
            }
        ]
        for table, statement in self._inserts.items():
            if rows.get(table):
                cursor.executemany(statement.text, [statement.params(row) for row in rows[table]])

    def next_generation(self, cursor: Any, tenant: str) -> None:
        """Make what processes remember of ``tenant`` stale (:mod:`superoffice_emulator.storage.facts`)."""
        cursor.execute(self._next_generation.text, self._next_generation.params({"tenant": tenant}))

    def delete(self, cursor: Any, tenant: str) -> None:
        """Delete every row of ``tenant``, its tenant row too."""
        for statement in self._deletes:
            cursor.execute(statement.text, statement.params({"tenant": tenant}))


@functools.cache
def tenants_for(dialect: Dialect) -> Tenants:
    """The tenant statements of ``dialect``, compiled once per process."""
    return Tenants(dialect)


def fixture_rows(tenant: str, fixtures: Fixtures) -> Rows:
    """The rows of ``tenant`` that ``fixtures`` describe, per table (all but the tenant's own row)."""
    rows: Rows = {}
    for role in fixtures.roles:
        rows.setdefault(schema.role, []).append(
            {
                "tenant": tenant,
                "role_id": role.role_id,
                "name": role.name,
                "rights": encode_rights(role.rights),
            }
        )
    for user in fixtures.users:
        rows.setdefault(schema.associate, []).append(
            {
                "tenant": tenant,
                "associate_id": user.associate_id,
                "name": user.name,
                "password_hash": user.password_hash,
                "full_name": user.full_name,
                "email": user.email,
                "person_id": user.person_id,
                "contact_id": user.contact_id,
                "group_id": user.group_id,
                "role_id": user.role_id,
                "user_type": user.user_type,
            }
        )
        for ticket in user.tickets:
            rows.setdefault(schema.ticket, []).append(
                {
                    "tenant": tenant,
                    "ticket": ticket,
                    "associate_id": user.associate_id,
                    "last_used": FIXED_TICKET_LAST_USED,
                    "fixed": True,
                }
            )
        for token in user.access_tokens:
            rows.setdefault(schema.access_token, []).append(
                {
                    "tenant": tenant,
                    "token": token,
                    "associate_id": user.associate_id,
                    "expires": None,
                    "client_id": None,
                }
            )
    for application in fixtures.applications:
        rows.setdefault(schema.application, []).append(
            {
                "tenant": tenant,
                "client_id": application.client_id,
                "client_secret": application.client_secret,
                "name": application.name,
                "redirect_uris": json.dumps(list(application.redirect_uris)),
                "allowed_origins": json.dumps(list(application.allowed_origins)),
                "public_key": application.public_key,
                "system_user": application.system_user,
            }
        )
    names = {application.client_id: application.name for application in fixtures.applications}
    for consent in fixtures.consents:
        rows.setdefault(schema.consent, []).append(
            {
                "tenant": tenant,
                "client_id": consent.client_id,
                "system_token": consent.system_token or new_system_token(names[consent.client_id]),
                "associate_id": consent.associate_id,
            }
        )
    for token in fixtures.application_tokens:
        rows.setdefault(schema.application_token, []).append({"tenant": tenant, "token": token})
    for activity in fixtures.activities:
        rows.setdefault(schema.activity_tables[activity.kind], []).append(
            {
                "tenant": tenant,
                activity.kind.key: activity.id,
                "title": activity.title,
                "status": int(activity.status),
                "done": activity.done,
                "associate_id": activity.associate_id,
                "group_idx": activity.group_id,
                "registered": activity.registered,
                "updated": None,
                "updated_associate_id": 0,
                "updatedCount": 0,
            }
        )
    for denial in fixtures.denials:
        rows.setdefault(schema.sentry_denial, []).append(
            {
                "tenant": tenant,
                "kind": denial.kind.value,
                "record_id": denial.record_id,
                "associate_id": denial.associate_id,
            }
        )
    rows.update(_webhook_rows(tenant, fixtures))
    return rows


def _webhook_rows(tenant: str, fixtures: Fixtures) -> Rows:
    """The fixtures' webhooks, and the highest id given (a new registration takes the next)."""
    if not fixtures.webhooks:
        return {}
    return {
        schema.webhook: [webhook_row(tenant, hook) for hook in fixtures.webhooks],
        schema.webhook_ids: [{"tenant": tenant, "last_id": max(hook.id for hook in fixtures.webhooks)}],
    }
