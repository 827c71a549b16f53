"""Prepared statements for SQLite: compile once, then go straight to the driver.

SQLAlchemy spends most of a statement's time not in SQLite but in its general execution
machinery (an execution context, parameter construction, a result object) — about 0.05 ms a
statement, against SQLite's 0.01 ms, and a turn runs six or more. The hot path's statements
never change shape, so here SQLAlchemy compiles each once, and each execution binds its
parameters with the column types' own converters (the same ones SQLAlchemy would apply) and
runs on the DB-API cursor of the session's connection, inside the same transaction.

A statement whose execution needs more than that — column defaults computed per row,
parameters expanded into IN lists — is left to SQLAlchemy (`plan_for` gives None).
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

Converter = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Plan:
    sql: str
    binds: tuple[tuple[str, bool, Any, Converter], ...]  # name, required, constant, converter
    row: Any  # the row type (a named tuple) when rows come back, else None
    results: tuple[Converter, ...]

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, required, constant, convert in self.binds:
            value = given[name] if required or name in given else constant
            values.append(value if convert is None or value is None else convert(value))
        return tuple(values)

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        assert self.row is not None
        make, converters = self.row._make, self.results
        return [
            make(v if c is None or v is None else c(v) for v, c in zip(r, converters, strict=True))
            for r in raw
        ]


class PreparedResult:
    """The parts of SQLAlchemy's Result the hot path uses: rows, scalars and rowcount."""

    def __init__(self, rows: list[Any], rowcount: int, returns_rows: bool) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.returns_rows = returns_rows

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalars(self) -> Scalars:
        return Scalars([row[0] for row in self._rows])

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class Scalars(list[Any]):
    def all(self) -> list[Any]:
        return list(self)

    def first(self) -> Any:
        return self[0] if self else None


def plan_for(statement: Any, dialect: Dialect, params: Mapping[str, Any]) -> Plan | None:
    """Compile `statement` for the driver, given the names of its parameters (an INSERT
    sets the columns it is given), or None when SQLAlchemy must run it itself."""
    compiled = statement.compile(dialect=dialect, column_keys=list(params))
    # (only an INSERT or UPDATE compiler has these)
    prefetch = [
        *getattr(compiled, "insert_prefetch", ()),
        *getattr(compiled, "update_prefetch", ()),
    ]
    if (
        compiled.positiontup is None
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or any(bind.expanding for bind in compiled.binds.values())
        or not all(column.default is not None and column.default.is_scalar for column in prefetch)
    ):
        return None  # a default computed per row (a function, SQL) is SQLAlchemy's to compute
    defaults = {column.key: column.default.arg for column in prefetch}
    binds = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in defaults:
            binds.append((name, False, defaults[name], convert))
        else:
            constant = None if bind.required else bind.effective_value
            binds.append((name, bool(bind.required), constant, convert))
    returned = _returned_columns(statement)
    if returned is None:
        return Plan(compiled.string, tuple(binds), None, ())
    names = [name for name, _ in returned]
    row = namedtuple("Row", names, rename=True)  # type: ignore[misc]  # built at run time
    converters = tuple(t.dialect_impl(dialect).result_processor(dialect, None) for _, t in returned)
    return Plan(compiled.string, tuple(binds), row, converters)


def _returned_columns(statement: Any) -> list[tuple[str, Any]] | None:
    if statement.is_select:
        return [(column.key, column.type) for column in statement.selected_columns]
    descriptions = getattr(statement, "returning_column_descriptions", None)
    if not descriptions:
        return None
    return [(d["name"], d["type"]) for d in descriptions]


def execute(
    cursor: Any, plan: Plan, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> PreparedResult:
    """Run `plan` once, or once per parameter set, on a DB-API cursor. A driver's error is
    raised as SQLAlchemy raises it (`IntegrityError` for a unique key taken, and so on), so
    callers catch the same errors whichever path ran the statement; its parameters are left
    out of the message (they can be a member's words)."""
    try:
        return _execute(cursor, plan, params)
    except sqlite3.Error as error:
        raise DBAPIError.instance(
            plan.sql, None, error, sqlite3.Error, hide_parameters=True
        ) from error


def _execute(
    cursor: Any, plan: Plan, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> PreparedResult:
    if isinstance(params, Mapping):
        cursor.execute(plan.sql, plan.parameters(params))
        rows = plan.rows(cursor.fetchall()) if plan.row is not None else []
        return PreparedResult(rows, cursor.rowcount, plan.row is not None)
    if plan.row is None:
        cursor.executemany(plan.sql, [plan.parameters(p) for p in params])
        return PreparedResult([], cursor.rowcount, False)
    rows, count = [], 0
    for one in params:  # sqlite3 returns no rows from executemany
        cursor.execute(plan.sql, plan.parameters(one))
        rows += plan.rows(cursor.fetchall())
        count += max(cursor.rowcount, 0)
    return PreparedResult(rows, count, True)
