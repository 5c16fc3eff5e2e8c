"""Databases with many rows, made fast: the emulator creates the tenant, SQLite fills it in bulk.

Each activity table of the tenant is filled up to ``rows`` with one ``INSERT ... SELECT`` over a
recursive CTE (about a second per million rows), with identifiers from ``FIRST_ID`` on, so the
fixtures' own rows (and their Sentry denials) stay as they are.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from superoffice_emulator.domain.activities import ActivityKind

FIRST_ID = 1000
"""The first generated identifier: above every id of the default fixtures."""

_OWNER_GROUP = "CASE i % 5 WHEN 0 THEN 1 WHEN 1 THEN 2 WHEN 2 THEN 1 WHEN 3 THEN 2 ELSE 3 END"
"""The group of associate ``1 + i % 5`` in the default fixtures."""


def make_database(path: Path, rows: int, tenant: str = "default") -> str:
    """A SQLite file at ``path`` whose ``tenant`` holds ``rows`` rows per activity table; its URL."""
    from superoffice_emulator.settings import default_fixtures
    from superoffice_emulator.storage.database import Database
    from superoffice_emulator.storage.fixtures import load_fixtures

    url = f"sqlite:///{path}"
    database = Database(url, load_fixtures(default_fixtures()))
    try:
        database.create_schema()
        database.ensure_tenant(tenant)
    finally:
        database.dispose()
    fill(path, rows, tenant)
    return url


def fill(path: Path, rows: int, tenant: str = "default") -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        for kind in ActivityKind:
            table, key = kind.value, kind.key
            (have,) = connection.execute(
                f"SELECT count(*) FROM {table} WHERE tenant = ?", (tenant,)
            ).fetchone()
            missing = rows - have
            if missing <= 0:
                continue
            connection.execute(
                f"""WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                INSERT INTO {table} (tenant, {key}, title, status, done, associate_id, group_idx,
                                     registered, updated, updated_associate_id, updatedCount)
                SELECT ?, i, 'Generated activity ' || i, 1, NULL, 1 + i % 5, {_OWNER_GROUP},
                       '2025-01-01 09:00:00.000000', NULL, 0, 0 FROM n""",
                (FIRST_ID, FIRST_ID + missing - 1, tenant),
            )
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def generated_ids(count: int) -> list[str]:
    """``count`` identifiers of generated rows, cycling over the four kinds (``count / 4`` per table)."""
    kinds = list(ActivityKind)
    return [f"{kinds[i % 4].key}={FIRST_ID + i // 4}" for i in range(count)]
