"""SQLAlchemy Core statements compiled once per dialect, and run on the DB-API cursor.

The statements of a call (and of a tenant's creation, reset and drop) are written with Core over the
tables of :mod:`superoffice_emulator.storage.schema`, compiled here once per dialect, and run on the
driver's cursor, which costs a fraction of SQLAlchemy's execution (``docs/architecture.md`` has the
figure). A :class:`Statement` holds the compiled text and converts values both ways with the column
types' own processors::

    t = schema.ticket
    touch = update(t).where(t.c.ticket == bindparam("ticket")).values(last_used=bindparam("now"))
    statement = Statement(touch, SQLITE)
    cursor.execute(statement.text, statement.params({"ticket": "7T:...", "now": now}))

Everything else (the schema's DDL, the admin API's reads) runs through SQLAlchemy as usual.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ARRAY,
    JSON,
    BindParameter,
    ColumnElement,
    bindparam,
    func,
    select,
)
from sqlalchemy import any_ as sql_any
from sqlalchemy.engine import Dialect as SQLAlchemyDialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import Date, DateTime, Time, TypeEngine

Processor = Callable[[Any], Any]

_INLINE_IDS = 64
"""Up to this many ids, SQLite gets one ``?`` per id; above it, one JSON array (no variable limit)."""


@dataclass(frozen=True)
class Dialect:
    """What differs between the databases: the compiler, the transaction start, id lists."""

    name: str
    compiler: SQLAlchemyDialect = field(repr=False)
    """The SQLAlchemy dialect the statements are compiled for, with a positional paramstyle."""
    begin: str | None
    """The statement that starts a write transaction, or ``None`` when the driver starts one."""
    inline_ids: int
    """The longest id list that gets one placeholder per id; longer ones are one parameter."""

    def id_bucket(self, count: int) -> int:
        """The number of placeholders for ``count`` ids: a power of two up to :attr:`inline_ids`
        (the list repeats its last id to fill them), or 0 for one parameter holding them all.

        A statement is compiled once per bucket, so there are eight variants, not 64.
        """
        if 0 < count <= self.inline_ids:
            return 1 << (count - 1).bit_length()
        return 0

    def ids_match(self, column: ColumnElement[Any], name: str, bucket: int) -> ColumnElement[bool]:
        """``column`` is one of the ids passed as parameter ``name`` (see :meth:`id_bucket`)."""
        if bucket:
            return column.in_([bindparam(list_item(name, i), type_=column.type) for i in range(bucket)])
        if self.name == "postgresql":
            return column == sql_any(bindparam(name, type_=ARRAY(column.type)))
        values = func.json_each(bindparam(name, type_=JSON)).table_valued("value")
        return column.in_(select(values.c.value))


def _sqlite() -> Dialect:
    from sqlalchemy.dialects import sqlite

    return Dialect("sqlite", sqlite.pysqlite.dialect(), begin="BEGIN IMMEDIATE", inline_ids=_INLINE_IDS)


def _postgresql() -> Dialect:
    from sqlalchemy.dialects import postgresql  # its import is a tenth of a second: only when used

    return Dialect(
        "postgresql",
        postgresql.psycopg.dialect(paramstyle="format"),  # type: ignore[no-untyped-call]
        begin=None,  # psycopg begins a transaction at the first statement
        inline_ids=0,  # an array parameter always: one statement text for PostgreSQL to prepare
    )


DIALECTS: dict[str, Callable[[], Dialect]] = {"sqlite": _sqlite, "postgresql": _postgresql}


@functools.cache
def dialect_named(backend: str) -> Dialect:
    """The dialect of an SQLAlchemy backend name; the one check that the emulator runs on it."""
    make = DIALECTS.get(backend)
    if make is None:
        raise ValueError(f"the emulator runs on SQLite or PostgreSQL, not on {backend}")
    return make()


def list_item(name: str, index: int) -> str:
    """The name of the placeholder of item ``index`` of list parameter ``name``."""
    return f"{name}_{index}"


def bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    """``type_``'s conversion of a Python value into the driver's, on ``dialect`` (None: as it is)."""
    return _processor(type_, dialect, "bind")


def result_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    """``type_``'s conversion of the driver's value into Python's, on ``dialect`` (None: as it is)."""
    return _processor(type_, dialect, "result")


def _processor(type_: TypeEngine[Any], dialect: Dialect, kind: str) -> Processor | None:
    impl = type_.dialect_impl(dialect.compiler)
    key = (type(impl), repr(impl))
    cache = _PROCESSORS.setdefault((dialect.name, kind), {})
    if key not in cache:
        if kind == "result":
            cache[key] = impl.result_processor(dialect.compiler, None)
        else:
            process: Processor | None = impl.bind_processor(dialect.compiler)
            if process is not None and isinstance(impl, DateTime | Date | Time):
                process = _remembering(process)
            cache[key] = process
    return cache[key]


def _getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    """The values of ``names``, in their order, from a mapping."""
    if not names:
        return lambda _values: ()
    if len(names) == 1:
        name = names[0]
        return lambda values: (values[name],)
    return operator.itemgetter(*names)


def _remembering(process: Processor) -> Processor:
    """``process`` with a memory of its last value and result.

    A call binds its clock's one ``now`` three to five times (ticket, ``done``, ``updated``, the
    journal), and SQLite's ``DateTime`` processor costs more than all the rest of a statement's
    parameters together. Only for immutable values (datetimes): the same object, the same result.
    """
    last: tuple[Any, Any] = (object(), None)

    def remembered(value: Any) -> Any:
        nonlocal last
        seen = last
        if seen[0] is value:
            return seen[1]
        result = process(value)
        last = (value, result)
        return result

    return remembered


_PROCESSORS: dict[tuple[str, str], dict[tuple[type, str], Processor | None]] = {}
"""Per dialect and direction, one processor per type: the columns of one type share it."""

_COMPILED = frozenset(("text", "names", "_get", "_processes", "_spread", "_results"))
"""The attributes of a :class:`Statement` that its compilation sets."""


class Statement:
    """One Core statement compiled for one dialect: its text, its parameters, its rows.

    Parameters are the statement's ``bindparam`` names (for an ``insert``, the ``columns``);
    the one list parameter in ``lists``, if any, may be spread over placeholders named by
    :func:`list_item` at the statement's end (an id list's ``IN (?, ?, ...)``). A literal value
    is written into the text (``literal_column("1")``), not bound.

    It is compiled at its first use, so a process compiles only the statements it runs: compiling
    them all takes about 20 ms, a twentieth of a server's start-up, and most of them serve resets,
    the admin API and webhooks, not a call. Once compiled, its attributes are plain ones (nothing
    checks on a call).
    """

    text: str
    names: tuple[str, ...]
    """The parameters' names in the text's order (a list's placeholders not among them)."""
    _get: Callable[[Mapping[str, Any]], Sequence[Any]]
    _processes: tuple[tuple[int, Processor], ...]
    _spread: tuple[str, int, Processor | None] | None
    _results: tuple[tuple[int, Processor], ...]

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        *,
        columns: Sequence[str] | None = None,
        lists: Collection[str] = (),
    ) -> None:
        self._source = (statement, dialect, columns, lists)

    if not TYPE_CHECKING:  # to mypy, the attributes are the declared ones

        def __getattr__(self, name: str) -> Any:
            """The first read of a compiled attribute (only a missing attribute's read gets here)."""
            if name not in _COMPILED:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            self._compile(*self._source)
            return self.__dict__[name]

    def _compile(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        columns: Sequence[str] | None,
        lists: Collection[str],
    ) -> None:
        compiled = statement.compile(dialect=dialect.compiler, column_keys=list(columns or ()) or None)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise TypeError(f"not a statement with positional parameters: {statement}")
        text = str(compiled)
        items = {list_item(name, i): (name, i) for name in lists for i in range(dialect.inline_ids)}
        names: list[str] = []
        processes: list[tuple[int, Processor]] = []
        spread: list[tuple[str, int, Processor | None]] = []
        for name in compiled.positiontup:
            bind: BindParameter[Any] = compiled.binds[name]
            if not bind.required:
                raise ValueError(f"write the value of {name} into the statement's text: {text}")
            process = bind_processor(bind.type, dialect)
            if name in items:
                spread.append((*items[name], process))
            elif spread:
                raise ValueError(f"a list's placeholders must come last: {text}")
            else:
                if process is not None:
                    processes.append((len(names), process))
                names.append(name)
        if spread and [(n, i) for n, i, _ in spread] != [(spread[0][0], i) for i in range(len(spread))]:
            raise ValueError(f"one list, its items in order: {text}")
        selected: Sequence[ColumnElement[Any]] = getattr(statement, "selected_columns", ())
        # the text last: a thread that finds it finds the rest (another may compile it too, alike)
        self.names = tuple(names)
        self._get = _getter(names)
        self._processes = tuple(processes)
        self._spread = (spread[0][0], len(spread), spread[0][2]) if spread else None
        self._results = tuple(
            (index, process)
            for index, column in enumerate(selected)
            if (process := result_processor(column.type, dialect)) is not None
        )
        self.text = text

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        """The driver's parameters, in the text's order, for ``values`` (keyed by parameter name)."""
        params = list(self._get(values))
        for index, process in self._processes:
            params[index] = process(params[index])
        if self._spread is not None:
            name, count, convert = self._spread
            items = list(values[name])
            items += items[-1:] * (count - len(items))  # a shorter list repeats its last item
            params += items if convert is None else map(convert, items)
        return params

    def params_in_order(self, values: list[Any]) -> list[Any]:
        """The driver's parameters for ``values`` given in :attr:`names`' order (no list among them);
        ``values`` is converted in place."""
        for index, process in self._processes:
            values[index] = process(values[index])
        return values

    def row(self, row: Sequence[Any]) -> Sequence[Any]:
        """A row of the driver's values as Python's."""
        if not self._results:
            return row
        values = list(row)
        for index, process in self._results:
            values[index] = process(values[index])
        return values

    def rows(self, rows: list[Any]) -> list[Any]:
        if not self._results:
            return rows
        return [self.row(row) for row in rows]
