"""Injected fault rules in the database, so that every worker process follows one plan.

A call takes its rule inside its own write transaction (:meth:`FaultRules.take`): the first rule
of its tenant that matches, with its ``count`` decremented (the rule deleted when used up), so
that ``--workers N`` fire a rule exactly ``count`` times between them. The admin API adds,
lists and removes rules through :class:`FaultPlan`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BindParameter, bindparam, delete, func, literal_column, select, update

from superoffice_emulator.calls.faults import FaultKind, FaultRule
from superoffice_emulator.storage import schema
from superoffice_emulator.storage.sql import Dialect, Statement

_f = schema.fault
_TENANT: BindParameter[str] = bindparam("tenant")
_COLUMNS = ("tenant", "kind", "count", "identifiers", "operation", "latency_ms")


class FaultRules:
    """The statements of fault rules in one dialect, run on a transaction's cursor."""

    def __init__(self, dialect: Dialect) -> None:
        self._select = Statement(
            select(_f.c.id, _f.c.kind, _f.c.count, _f.c.identifiers, _f.c.operation, _f.c.latency_ms)
            .where(_f.c.tenant == _TENANT)
            .order_by(_f.c.id),
            dialect,
        )
        self._insert = Statement(_f.insert().inline(), dialect, columns=_COLUMNS)
        newest = select(func.max(_f.c.id)).where(_f.c.tenant == _TENANT)
        self._newest = Statement(newest, dialect)
        count_down = update(_f).where(_f.c.id == bindparam("id"))
        self._count_down = Statement(count_down.values(count=_f.c.count - literal_column("1")), dialect)
        self._delete_one = Statement(
            delete(_f).where(_f.c.tenant == _TENANT, _f.c.id == bindparam("id")), dialect
        )
        self._delete_all = Statement(delete(_f).where(_f.c.tenant == _TENANT), dialect)

    def list(self, cursor: Any, tenant: str) -> list[FaultRule]:
        """``tenant``'s rules, in the order they were added."""
        cursor.execute(self._select.text, self._select.params({"tenant": tenant}))
        return [_rule(self._select.row(row)) for row in cursor.fetchall()]

    def add(self, cursor: Any, tenant: str, rule: FaultRule) -> FaultRule:
        values = {
            "tenant": tenant,
            "kind": rule.kind,
            "count": rule.count,
            "identifiers": json.dumps(sorted(rule.identifiers)),
            "operation": rule.operation,
            "latency_ms": rule.latency_ms,
        }
        cursor.execute(self._insert.text, self._insert.params(values))
        cursor.execute(self._newest.text, self._newest.params({"tenant": tenant}))
        rule.id = int(cursor.fetchone()[0])  # the write transaction holds the tenant's lock
        return rule

    def remove(self, cursor: Any, tenant: str, rule_id: int) -> bool:
        cursor.execute(self._delete_one.text, self._delete_one.params({"tenant": tenant, "id": rule_id}))
        return bool(cursor.rowcount)

    def clear(self, cursor: Any, tenant: str) -> int:
        cursor.execute(self._delete_all.text, self._delete_all.params({"tenant": tenant}))
        return int(cursor.rowcount)

    def take(
        self, cursor: Any, tenant: str, operation: str, identifiers: Sequence[str | None]
    ) -> tuple[FaultRule | None, bool]:
        """The first rule matching this call, counted down (deleted when used up), in the
        caller's write transaction (``None`` when none matches), and whether the tenant has any."""
        rules = self.list(cursor, tenant)
        for rule in rules:
            if rule.matches(operation, identifiers):
                if rule.count is not None:
                    statement = self._delete_one if rule.count <= 1 else self._count_down
                    cursor.execute(statement.text, statement.params({"tenant": tenant, "id": rule.id}))
                    rule.count -= 1
                return rule, True
        return None, bool(rules)


def _rule(row: Sequence[Any]) -> FaultRule:
    kind: FaultKind = row[1]
    return FaultRule(
        kind=kind,
        count=row[2],
        identifiers=frozenset(json.loads(row[3])),
        operation=row[4],
        latency_ms=row[5],
        id=row[0],
    )


@functools.cache
def fault_rules_for(dialect: Dialect) -> FaultRules:
    """The fault statements of ``dialect``, compiled once per process."""
    return FaultRules(dialect)
