"""Many rows of one statement executed on the DB-API driver, past SQLAlchemy's per-row parameter work.

Under a flood a batch writes ~10,000 alert rows; ``Connection.execute(stmt, rows)`` builds a parameter dict per
row through the compiled statement (``construct_params``, the processors looked up per row, the result's
set-up): half of writing them. Here the statement is compiled once per dialect, and each row's values pass
through the very bind processors SQLAlchemy would apply (UTC times made naive, JSON encoded, ...) into a tuple
or dict in the driver's parameter style, and go to the driver's ``executemany`` in the same transaction.
The stored values are those of ``Connection.execute`` (tests/detect/test_batch_merge.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement

from netwarden.store.schema import UtcDateTime


@dataclass(frozen=True)
class Prepared:
    """A statement compiled for one dialect: its text, the parameters in order, and their processors."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool


_PREPARED: dict[tuple[Any, ...], Prepared] = {}


def prepare(conn: Connection, key: tuple[Any, ...], build: Callable[[], ClauseElement]) -> Prepared:
    """The statement ``build()`` makes, compiled for ``conn``'s dialect once per ``key``."""
    dialect = conn.dialect
    cache_key = (dialect.name, dialect.driver, dialect.paramstyle, key)
    found = _PREPARED.get(cache_key)
    if found is None:
        compiled = build().compile(dialect=dialect)
        names = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.bind_names.values())
        procs = compiled._bind_processors  # what construct_params' caller applies to each value
        found = _PREPARED[cache_key] = Prepared(compiled.string, names, tuple(
            _remembered(procs[n]) if n in procs and isinstance(compiled.binds[n].type, UtcDateTime) else procs.get(n)
            for n in names), bool(compiled.positional))
    return found


def _remembered(process: Callable[[Any], Any], size: int = 4096) -> Callable[[Any], Any]:
    """``process`` remembering its last results: a batch's alerts share a few thousand seconds (first and last
    seen, created, updated), and making each a naive UTC time and then SQLite's text was a fifth of writing
    them. Equal times give equal results (aware ones are made UTC first), so a remembered one is exact."""
    memo: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        found = memo.get(value, memo)
        if found is memo:
            if len(memo) >= size:
                memo.clear()
            found = memo[value] = process(value)
        return found

    return remembered


def executemany(conn: Connection, prepared: Prepared, rows: Sequence[dict[str, Any]]) -> None:
    """Run ``prepared`` once per row (dicts keyed by its parameter names) on the driver's cursor."""
    if not rows:
        return
    pairs = tuple(zip(prepared.names, prepared.processors))
    params: list[Any] = []
    for row in rows:
        values = [row[name] if proc is None else proc(row[name]) for name, proc in pairs]
        params.append(tuple(values) if prepared.positional else dict(zip(prepared.names, values)))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(prepared.sql, params)
    finally:
        cursor.close()


def executemany_lists(conn: Connection, prepared: Prepared, names: Sequence[str], rows: Sequence[list[Any]]) -> None:
    """``executemany`` of rows given as lists of the values of ``names`` (the statement's parameters, in any
    order): no dict per row."""
    if not rows:
        return
    where = {name: i for i, name in enumerate(names)}
    plan = tuple((where[name], proc) for name, proc in zip(prepared.names, prepared.processors))
    if prepared.positional:
        params: list[Any] = [tuple([row[i] if proc is None else proc(row[i]) for i, proc in plan]) for row in rows]
    else:
        params = [dict(zip(prepared.names, [row[i] if proc is None else proc(row[i]) for i, proc in plan]))
                  for row in rows]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(prepared.sql, params)
    finally:
        cursor.close()
