"""The tables. Every row belongs to a tenant, so tenants share one database and never each other's data.

The four activity tables follow docs/behaviour.md: keyed by the identifier's own column
(``appointment_id``, ``sale_id``, ...), with the completed ``status`` (0..3), ``done``,
owner ``associate_id`` and ``group_idx``, and NetServer's ``registered``/``updated``/
``updated_associate_id``/``updatedCount`` bookkeeping.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

from superoffice_emulator.domain.activities import ActivityKind

metadata = MetaData()

TENANT = 64

tenant = Table(
    "emulator_tenant",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("created", DateTime, nullable=False),
    Column("generation", BigInteger, nullable=False, default=0, server_default="0"),
    # random at creation, one more at each change of the fault plan: see superoffice_emulator.storage.facts
    Column("state", String(40), nullable=False, default="Running", server_default="Running"),
    # SuperOffice's tenant state (superoffice_emulator.domain.online.TENANT_STATES)
)


def _activity_table(kind: ActivityKind) -> Table:
    return Table(
        kind.value,
        metadata,
        Column("tenant", String(TENANT), primary_key=True),
        Column(kind.key, Integer, primary_key=True, autoincrement=False),
        Column("title", String(200), nullable=False, default=""),
        Column("status", SmallInteger, nullable=False, default=1),
        Column("done", DateTime, nullable=True),
        Column("associate_id", Integer, nullable=False),
        Column("group_idx", Integer, nullable=False),
        Column("registered", DateTime, nullable=False),
        Column("updated", DateTime, nullable=True),
        Column("updated_associate_id", Integer, nullable=False, default=0),
        Column("updatedCount", Integer, nullable=False, default=0),
    )


activity_tables: dict[ActivityKind, Table] = {kind: _activity_table(kind) for kind in ActivityKind}

role = Table(
    "role",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("role_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("rights", Text, nullable=False),  # JSON: {table: [own, group, other]} as Level values
)

associate = Table(
    "associate",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("associate_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("full_name", String(200), nullable=False),
    Column("email", String(200), nullable=False),
    Column("person_id", Integer, nullable=False),
    Column("contact_id", Integer, nullable=False),
    Column("group_id", Integer, nullable=False),
    Column("role_id", Integer, nullable=False),
    Column("user_type", String(40), nullable=False),
    ForeignKeyConstraint(["tenant", "role_id"], ["role.tenant", "role.role_id"]),
    Index("ix_associate_name", "tenant", "name", unique=True),
)

ticket = Table(
    "ticket",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("ticket", String(200), primary_key=True),
    Column("associate_id", Integer, nullable=False),
    Column("last_used", DateTime, nullable=False),
    Column("fixed", Boolean, nullable=False, default=False),
    ForeignKeyConstraint(["tenant", "associate_id"], ["associate.tenant", "associate.associate_id"]),
)

access_token = Table(
    "access_token",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("token", String(400), primary_key=True),
    Column("associate_id", Integer, nullable=False),
    Column("expires", DateTime, nullable=True),  # NULL: a fixture's token, which never expires
    Column("client_id", String(200), nullable=True),  # the application it was granted to; NULL: fixtures
    ForeignKeyConstraint(["tenant", "associate_id"], ["associate.tenant", "associate.associate_id"]),
)
"""Bearer access tokens (REST, Online; SOAP's ``Credentials/Ticket`` too): the fixtures' fixed ones and
those the sign-in grants (``8A:<ctx>.<random>``, 3600 s)."""

application = Table(
    "application",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("client_id", String(200), primary_key=True),
    Column("client_secret", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("redirect_uris", Text, nullable=False),  # JSON list
    Column("allowed_origins", Text, nullable=False),  # JSON list
    Column("public_key", Text, nullable=True),  # PEM or RSA XML; NULL: none registered
    Column("system_user", Boolean, nullable=False, default=False),  # asks for a system user
)
"""Applications registered in the developer portal (OpenID Connect clients), as the tenant knows them."""

consent = Table(
    "consent",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("client_id", String(200), primary_key=True),
    Column("system_token", String(400), nullable=False),
    Column("associate_id", Integer, nullable=False),  # the system user the app acts as
    ForeignKeyConstraint(["tenant", "associate_id"], ["associate.tenant", "associate.associate_id"]),
)
"""System-user consents: an application approved in the tenant, with its system token
(:mod:`superoffice_emulator.domain.system_users`)."""

authorization_code = Table(
    "authorization_code",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("code", String(200), primary_key=True),
    Column("client_id", String(200), nullable=False),
    Column("associate_id", Integer, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("code_challenge", String(200), nullable=True),
    Column("challenge_method", String(10), nullable=True),
    Column("nonce", Text, nullable=True),
    Column("expires", DateTime, nullable=False),
    ForeignKeyConstraint(["tenant", "associate_id"], ["associate.tenant", "associate.associate_id"]),
)
"""Authorization codes not yet exchanged: each is deleted by its exchange (single use)."""

refresh_token = Table(
    "refresh_token",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("token", String(200), primary_key=True),
    Column("client_id", String(200), nullable=False),
    Column("associate_id", Integer, nullable=False),
    ForeignKeyConstraint(["tenant", "associate_id"], ["associate.tenant", "associate.associate_id"]),
)
"""Refresh tokens: valid while they exist (SuperOffice: while the consent exists)."""

signing_key = Table(
    "emulator_signing_key",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_key", Text, nullable=False),  # PEM (PKCS#8)
    Column("created", DateTime, nullable=False),
)
"""The sign-in's RSA key: made once per database, kept across restarts and resets (no tenant's)."""

application_token = Table(
    "application_token",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("token", String(200), primary_key=True),
)

sentry_denial = Table(
    "sentry_denial",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("associate_id", Integer, nullable=True),  # NULL: denied to everyone
    Index("ix_sentry_denial_record", "tenant", "kind", "record_id"),
)

journal = Table(
    "emulator_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("wire", String(10), nullable=False, default="soap"),
    Column("service", String(40), nullable=False),
    Column("operation", String(100), nullable=False),
    Column("user", String(100), nullable=True),
    Column("identifiers", Text, nullable=False),  # JSON list
    Column("status", String(20), nullable=True),
    Column("outcome", String(40), nullable=False),
    Column("exception_type", String(100), nullable=True),
    Column("message", Text, nullable=True),
    Column("duration_ms", Float, nullable=False),
    Column("contract_warnings", Text, nullable=False, default="[]"),  # JSON list of sentences
    Column("request_body", Text, nullable=True),  # NULL: not kept
    Column("response_body", Text, nullable=True),
    Column("injected", String(20), nullable=True),  # the injected fault's kind; NULL: none
    Index("ix_journal_tenant", "tenant", "id"),
    sqlite_autoincrement=True,  # ids never reused after a clear: clients poll with since_id
)

fault = Table(
    "emulator_fault",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("count", Integer, nullable=True),  # NULL: until removed
    Column("identifiers", Text, nullable=False),  # JSON list, normalised (appointment_id=17)
    Column("operation", String(100), nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Index("ix_fault_tenant", "tenant", "id"),
    sqlite_autoincrement=True,  # ids never reused: DELETE faults/<id> names one rule only
)
"""Injected fault rules (:mod:`superoffice_emulator.storage.faults`): one plan for every worker process."""

webhook = Table(
    "webhook",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("webhook_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("events", Text, nullable=False),  # JSON list
    Column("target_url", Text, nullable=False),
    Column("secret", Text, nullable=False, default=""),
    Column("state", SmallInteger, nullable=False),
    Column("type", String(20), nullable=False),
    Column("headers", Text, nullable=False, default="{}"),  # JSON object
    Column("properties", Text, nullable=False, default="{}"),  # JSON object
    Column("registered", DateTime, nullable=False),
    Column("registered_associate_id", Integer, nullable=False),
    Column("updated", DateTime, nullable=True),
    Column("updated_associate_id", Integer, nullable=False, default=0),
    Column("application", String(200), nullable=True),  # the registering app's client id or token; NULL: none
    Column("errors", Integer, nullable=False, default=0),  # events dropped in a row
    Column("last_error", Text, nullable=True),  # JSON: the last failing answer
)
"""Registered webhooks (:mod:`superoffice_emulator.domain.webhooks`)."""

webhook_ids = Table(
    "emulator_webhook_ids",
    metadata,
    Column("tenant", String(TENANT), primary_key=True),
    Column("last_id", Integer, nullable=False),
)
"""The highest webhook id each tenant has given: ids are never reused, so a try still in flight for a
deleted webhook never updates a later one."""

webhook_event = Table(
    "emulator_webhook_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("webhook_id", Integer, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event", String(100), nullable=False),
    Column("body", Text, nullable=False),  # the exact JSON posted (UTF-8), signed as it stands
    Column("created", DateTime, nullable=False),
    Column("tries", Integer, nullable=False, default=0),
    Column("due", DateTime, nullable=False),  # the next try's time; a claimed try's deadline
    Column("outcome", String(20), nullable=False, default="pending"),  # pending, delivered, failed, dropped
    Index("ix_webhook_event_due", "outcome", "due"),
    sqlite_autoincrement=True,
)
"""The outbox: one row per event and webhook, written in the transaction of the call that changed
the activity, delivered by :mod:`superoffice_emulator.webhooks.delivery`."""

webhook_delivery = Table(
    "emulator_webhook_delivery",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("event_row", Integer, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event", String(100), nullable=False),
    Column("webhook_id", Integer, nullable=False),
    Column("target_url", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime, nullable=False),
    Column("status", Integer, nullable=True),  # NULL: no answer (refused, timed out)
    Column("error", Text, nullable=True),
    Column("duration_ms", Float, nullable=False),
    Index("ix_webhook_delivery_tenant", "tenant", "id"),
    sqlite_autoincrement=True,
)
"""Every try to post an event: the deliveries log of the admin API."""

lease = Table(
    "emulator_lease",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("until", DateTime, nullable=False),
)
"""Work one process of the server does for all (the webhooks' deliverer): who holds it, until when."""

TENANT_TABLES: tuple[Table, ...] = (
    webhook_delivery,
    webhook_event,
    webhook,
    webhook_ids,
    fault,
    sentry_denial,
    application_token,
    authorization_code,
    refresh_token,
    access_token,
    consent,
    application,
    ticket,
    *activity_tables.values(),
    associate,
    role,
    journal,
    tenant,
)
"""Every table holding a tenant's rows, children before parents (the order to delete in)."""
