"""Storing and finding events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
import functools
import json
import math
import operator
from datetime import datetime, timedelta, timezone
from itertools import repeat
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Dialect, Select, Text, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from netwarden.records import EVENT_FIELDS, Event
from netwarden.store import bulk, keyset
from netwarden.store.addresses import address_key, network_range
from netwarden.store.driver_rows import driver_datetime
from netwarden.store.schema import TEXT_LIMITS, events

_STR_FIELDS = tuple(f for f in EVENT_FIELDS if f in TEXT_LIMITS or f in (
    "src_ip", "dst_ip", "url", "user_agent", "message", "raw"))


def clean_text(value: str) -> str:
    """Make any text storable on every engine: no NUL (PostgreSQL refuses it), no lone surrogates
    (from ``\\ud800`` in JSON; no encoder accepts them). Both are kept visibly escaped."""
    if not value.isascii():
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    return value


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):  # NaN and infinities are not JSON (orjson: null)
        return None
    return value


_COLUMNS = (*(f for f in EVENT_FIELDS), "src_addr", "dst_addr", "source_id", "line_no")


def event_row(event: Event, source_id: int | None = None, line_no: int | None = None) -> dict[str, Any]:
    """The ``events`` row for an event, as a dict (for tests and small writes)."""
    return dict(zip(_COLUMNS, _row_values(event, source_id, line_no, lambda ts: ts, _dump_json)))


_GET_FIELDS = operator.attrgetter(*EVENT_FIELDS)
_TS = EVENT_FIELDS.index("timestamp")
_EXTRA = EVENT_FIELDS.index("extra")
_KIND = EVENT_FIELDS.index("source_kind")
_STR_INDEX = tuple((EVENT_FIELDS.index(f), TEXT_LIMITS.get(f, 1 << 62)) for f in _STR_FIELDS
                   if f != "source_kind")


def _row_values(event: Event, source_id, line_no, convert_time, dump_json) -> tuple:  # type: ignore[no-untyped-def]
    values = list(_GET_FIELDS(event))
    for i, limit in _STR_INDEX:
        value = values[i]
        if value is not None:
            if not value.isascii() or "\x00" in value:
                value = values[i] = clean_text(value)
            if len(value) > limit:
                values[i] = value[:limit]
    values[_KIND] = str(values[_KIND])  # a StrEnum member would take sqlite3's slow adapter path
    if values[_TS] is not None:
        values[_TS] = convert_time(values[_TS])
    extra = values[_EXTRA]
    values[_EXTRA] = dump_json(extra) if extra else None
    values += (address_key(event.src_ip), address_key(event.dst_ip), source_id, line_no)
    return tuple(values)


_FIELD_GETTERS = tuple(operator.attrgetter(f) for f in EVENT_FIELDS)


def event_columns(batch: Sequence[Event]) -> list[list]:
    """The events' fields column by column, in ``EVENT_FIELDS`` order (one loop in C per field: half the cost of
    a tuple per event transposed with ``zip``), ``timestamp`` as microseconds (:func:`_micros`) and ``extra`` already
    as JSON text: what is handed on holds only immutable values, whatever later happens to the events (a writer
    process pickles it on a thread)."""
    columns = [list(map(get, batch)) for get in _FIELD_GETTERS]
    columns[_TS] = _times(columns[_TS], _micros)
    try:  # loops in C; the rows' maker (a writer process, off the critical path) makes empty ones NULL. The text,
        # not orjson's bytes, is kept: those keep orjson's spare buffer (doubling the parsing process's memory)
        columns[_EXTRA] = list(map(bytes.decode, map(orjson.dumps, columns[_EXTRA])))
    except TypeError:  # lone surrogates, or a type orjson does not know (a set, a Decimal ...)
        columns[_EXTRA] = [_orjson_dumps(extra) if extra else None for extra in columns[_EXTRA]]
    return columns


# what orjson makes of an empty or missing extra (or another false value): stored as NULL, as before
_NO_EXTRA = frozenset({"{}", "null", "[]", '""', "0", "false", "0.0", "-0.0"})


def _json_texts(column: list) -> list:
    """The extra column as stored: JSON text, or None for an empty extra (see :func:`event_columns`)."""
    if _NO_EXTRA.isdisjoint(column):
        return column
    return [None if value in _NO_EXTRA else value for value in column]


_STR_SET = frozenset(_STR_FIELDS)
# a source repeats its address line after line, and ipaddress parses in Python: each address parsed once (bounded)
_address_key = functools.lru_cache(maxsize=65536)(address_key)


@functools.lru_cache(maxsize=65536)
def _sqlite_address_key(ip: str | None) -> bytearray | None:
    """The key as a bytearray, which sqlite3 binds as it is; bytes go through its failed adapter look-up first
    (0.5 µs a value). Only ever read (bound as a BLOB), so shared from the cache."""
    key = address_key(ip)
    return None if key is None else bytearray(key)


_SRC, _DST = EVENT_FIELDS.index("src_ip"), EVENT_FIELDS.index("dst_ip")


def _clean_cut(value: str | None, limit: int) -> str | None:
    """A text value as ``_row_values`` stores it: cleaned (``clean_text``), cut to ``limit``."""
    if value is None:
        return None
    if not value.isascii() or "\x00" in value:
        value = clean_text(value)
    return value[:limit] if len(value) > limit else value


def _plain_column(column: tuple, limit: int) -> bool:
    """True when no value of a text column needs cleaning or cutting, checked in C."""
    try:
        joined = "".join(filter(None, column))
        return joined.isascii() and "\x00" not in joined \
            and (limit >= len(joined) or max(map(len, filter(None, column))) <= limit)
    except TypeError:  # not text: _clean_cut fails on it as _row_values does
        return False


def _times(column: Sequence, convert: Callable[[Any], Any]) -> list:
    """The time column converted; lines of one second share one time object (the parsers' caches), so a
    time is converted once for the run of events that share it (an equal one: the microseconds of
    :func:`_micros` come out of a pickle as distinct objects)."""
    out = []
    last = text = None
    for ts in column:
        if ts is not last and ts != last:
            last, text = ts, None if ts is None else convert(ts)
        out.append(text)
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def _micros(ts: Any) -> Any:
    """An event time as :func:`event_columns` hands it on: microseconds since 1970 UTC (a naive time is UTC). A
    writer process gets an int in a few bytes of pickle, where a datetime took ~1 µs to reduce: half of pickling
    an SSH batch. Anything else is left for the writer to refuse, as before."""
    if type(ts) is not datetime:
        return ts
    return ((ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)) - _EPOCH) // _MICROSECOND


def _dump_json(value: Any) -> Any:
    return _clean_json(value)  # SQLAlchemy's JSON type serialises dicts itself


def _sqlite_time(ts: datetime | int) -> str:
    # exactly SQLAlchemy's SQLite DATETIME text ("2015-05-17 10:05:03.000000"), so that comparisons in
    # SQL order correctly; isoformat runs in C. An int: microseconds since 1970 UTC (_micros)
    if type(ts) is int:
        return (_EPOCH_NAIVE + timedelta(microseconds=ts)).isoformat(" ", "microseconds")
    if ts.tzinfo is not timezone.utc:
        ts = ts.astimezone(timezone.utc) if ts.tzinfo is not None else ts
    return ts.isoformat(" ", "microseconds")[:26]


def _naive_utc(ts: datetime | int) -> datetime:
    if type(ts) is int:  # microseconds since 1970 UTC (_micros)
        return _EPOCH_NAIVE + timedelta(microseconds=ts)
    return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo is not None else ts


def _orjson_dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # lone surrogates, or a type orjson does not know (a set, a Decimal ...)
        return json.dumps(_clean_json(value), default=str)


def _filled(columns: Sequence[Sequence]) -> tuple[int, ...]:
    """The indexes of the columns with a value in some row (``source_kind`` always has one). sqlite3 binds a NULL
    through a failed adapter look-up (~270 ns, a third of an SSH event's insert with its 17 empty columns), so
    SQLite's INSERT leaves out the columns empty in a whole batch: they have no default, and so are NULL."""
    return tuple(i for i, column in enumerate(columns)  # (a first value settles most columns without a count)
                 if i == _KIND or column[0] is not None or column.count(None) != len(column))


class EventWriter:
    """Bulk insert of events through one precompiled, parameterised statement.

    SQLAlchemy's per-row parameter processing costs more than the insert itself at tens of
    thousands of rows per second, so rows go to the driver as tuples already in column form.
    """

    def __init__(self, dialect: Dialect) -> None:
        quote = dialect.identifier_preparer.quote
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        columns = ', '.join(quote(c) for c in _COLUMNS)
        self.sql = f"INSERT INTO {quote(events.name)} ({columns}) VALUES ({', '.join([marker] * len(_COLUMNS))})"
        self.convert_time = _sqlite_time if dialect.name == "sqlite" else _naive_utc
        # the server engines load through their fastest bulk path (netwarden/store/bulk.py)
        self.mysql_columns = ([quote(c) for c in _COLUMNS]
                              if dialect.name in ("mysql", "mariadb") and dialect.driver == "pymysql" else None)
        self.mysql_parents = bulk.parent_keys(events, _COLUMNS, quote) if self.mysql_columns else ()
        self.table, self.quote = quote(events.name), quote
        # statements by the columns they fill (SQLite's narrow rows, see _filled)
        self.narrow_sql: dict[tuple[int, ...], str] | None = {} if dialect.name == "sqlite" else None
        self.address_key = _sqlite_address_key if dialect.name == "sqlite" else _address_key
        self.copy_sql = (f"COPY {quote(events.name)} ({columns}) FROM STDIN (FORMAT BINARY)"
                         if dialect.name == "postgresql" and dialect.driver == "psycopg" else None)
        self.copy_types = bulk.pg_copy_types(events, _COLUMNS, dialect) if self.copy_sql else []
        # PostgreSQL's events table has no foreign key (migration 0015): the writer checks them once per batch
        self.pg_parents = bulk.parent_keys(events, _COLUMNS, quote) if self.copy_sql else ()

    def rows(self, batch: Sequence[Event], source_id: int | None,
             line_numbers: Sequence[int | None]) -> list[tuple]:
        """The rows of ``batch``: what :func:`event_row` gives, column by column. Most of the work then runs in
        C over a whole column (a text column that needs no cleaning or cutting, the common case, is checked
        with one join), instead of a Python step per field of each event: 39k -> 25k instructions per SSH event
        (valgrind)."""
        return self.rows_of_columns(event_columns(batch), source_id, line_numbers) if batch else []

    def rows_of_columns(self, columns: list[list], source_id: int | None,
                        line_numbers: Sequence[int | None]) -> list[tuple]:
        """The rows of events given as :func:`event_columns` (which a writer process receives instead of rows:
        the work of making rows is then the writer's, not the parser's). ``columns`` is changed."""
        return self.rows_and_columns(columns, source_id, line_numbers)[0]

    def rows_and_columns(self, columns: list[list], source_id: int | None, line_numbers: Sequence[int | None],
                         *, narrow: bool = False) -> tuple[list[tuple], list[Sequence] | None]:
        """:meth:`rows_of_columns`, and the same values column by column in ``_COLUMNS`` order (None when the
        columns' lengths differ), which MariaDB's statements are built from: no transposing the rows back.

        ``narrow``: on SQLite, the rows then hold only the columns with a value (:func:`_filled` of the columns
        returned): they are for :meth:`insert` with those columns, which tells them from full rows by length."""
        if not columns[0]:
            return [], None
        columns[_EXTRA] = _json_texts(columns[_EXTRA])
        for i, limit in _STR_INDEX:
            if not _plain_column(columns[i], limit):
                columns[i] = tuple(_clean_cut(value, limit) for value in columns[i])
        columns[_KIND] = tuple(map(str, columns[_KIND]))  # a StrEnum member would take sqlite3's slow adapter path
        columns[_TS] = _times(columns[_TS], self.convert_time)
        key = self.address_key
        src, dst = list(map(key, columns[_SRC])), list(map(key, columns[_DST]))
        by_column = [*columns, src, dst, (source_id,) * len(src), line_numbers]
        if any(len(column) != len(src) for column in by_column):  # zip cuts the rows to the shortest column:
            return list(zip(*by_column)), None  # only the rows say what is stored
        if narrow and self.narrow_sql is not None:
            return list(zip(*(by_column[i] for i in _filled(by_column)))), by_column
        return list(zip(*by_column)), by_column

    def _narrow_sql(self, filled: tuple[int, ...]) -> str:
        sql = self.narrow_sql.get(filled)  # type: ignore[union-attr]
        if sql is None:
            if len(self.narrow_sql) >= 256:  # type: ignore[arg-type]  # (a few per kind of log: bounded anyway)
                self.narrow_sql.clear()  # type: ignore[union-attr]
            names = [_COLUMNS[i] for i in filled]
            sql = self.narrow_sql[filled] = (  # type: ignore[index]
                f"INSERT INTO {self.table} ({', '.join(self.quote(n) for n in names)}) "
                f"VALUES ({', '.join('?' * len(names))})")
        return sql

    def insert(self, conn: Connection, rows: list[tuple], columns: list[Sequence] | None = None) -> None:
        """Store ``rows``; ``columns``, if given, holds the same values column by column as :meth:`rows_and_columns`
        gave them with the rows (on SQLite the rows are then narrow)."""
        if not rows:
            return
        if self.copy_sql is not None:
            bulk.pg_copy(conn.connection.driver_connection, self.copy_sql, self.copy_types, rows, self.pg_parents)
        elif self.mysql_columns is not None:
            raw = conn.connection.driver_connection
            try:
                bulk.mysql_insert(raw, self.table, self.mysql_columns, rows, self.mysql_parents,
                                  values_by_column=columns)
            except BaseException:
                if not raw.open:  # closed (lost, or out of step with the server): the pool must drop it, and
                    conn.invalidate()  # the transaction's ROLLBACK must not replace this error with its own
                raise
        else:
            narrow = columns is not None and self.narrow_sql is not None and len(rows[0]) != len(_COLUMNS)
            conn.exec_driver_sql(self._narrow_sql(_filled(columns)) if narrow else self.sql, rows)  # type: ignore[arg-type]


def insert_events(conn: Connection, batch: Sequence[Event], source_id: int | None = None,
                  line_numbers: Sequence[int | None] | None = None) -> None:
    writer = EventWriter(conn.dialect)
    writer.insert(conn, writer.rows(batch, source_id, line_numbers or [None] * len(batch)))


class _folded(FunctionElement):  # noqa: N801 - reads like the SQL function it is
    """``lower(column)``; on MariaDB/MySQL with a binary collation, because utf8mb4_general_ci weighs
    every 4-byte character (emoji, rare CJK) the same: a search for one emoji found all of them."""

    inherit_cache = True
    type = Text()


@compiles(_folded)
def _folded_default(element, compiler, **kw):  # type: ignore[no-untyped-def]
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(_folded, "mysql")
@compiles(_folded, "mariadb")
def _folded_mysql(element, compiler, **kw):  # type: ignore[no-untyped-def]
    return f"lower({compiler.process(element.clauses, **kw)}) COLLATE utf8mb4_bin"


def address_match(column: Any, network: str) -> ColumnElement[bool]:
    """``column`` holds an address of ``network``. One address is an equality, not ``BETWEEN x AND x``: only
    then does the (address, timestamp) index give rows in time order, and SQLite walked the timestamp index
    through every event of the range instead (seconds at 10M events for an address with ten)."""
    lo, hi = network_range(network)
    return column == lo if lo == hi else column.between(lo, hi)


def overlapping(since: datetime | None, until: datetime | None, first: Any, last: Any) -> list[ColumnElement[bool]]:
    """Rows whose span from ``first`` to ``last`` (one column for an event's moment) meets the period
    [since, until); an open end asks nothing."""
    return ([last >= since] if since is not None else []) + ([first < until] if until is not None else [])


@dataclass
class EventFilter:
    """What ``netwarden events`` and the API can ask for. Every value is bound, never spliced into SQL."""

    since: datetime | None = None
    until: datetime | None = None
    src: str | None = None  # address or network
    dst: str | None = None
    address: str | None = None  # either side
    port: int | None = None  # either side
    kind: str | None = None
    status: int | None = None
    text: str | None = None
    label: str | None = None

    def clauses(self) -> list:
        c = events.c
        where: list = overlapping(self.since, self.until, c.timestamp, c.timestamp)
        if self.src:
            where.append(address_match(c.src_addr, self.src))
        if self.dst:
            where.append(address_match(c.dst_addr, self.dst))
        if self.address:
            where.append(or_(address_match(c.src_addr, self.address), address_match(c.dst_addr, self.address)))
        if self.port is not None:
            where.append(or_(c.dst_port == self.port, c.src_port == self.port))
        if self.kind:
            where.append(c.source_kind == self.kind)
        if self.status is not None:
            where.append(c.http_status == self.status)
        if self.label:
            where.append(c.label == self.label)
        if self.text:
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            # lower() on both sides: LIKE ignores case on SQLite and MariaDB but not on PostgreSQL, so
            # the same search found different events depending on the engine; ignore case everywhere
            where.append(or_(*(_folded(col).like(func.lower(pattern), escape="\\") for col in (
                c.raw, c.message, c.url, c.user_agent, c.user))))
        return where


def find_events(conn: Connection, flt: EventFilter, *, limit: int = 100, offset: int = 0,
                newest_first: bool = True) -> list[dict[str, Any]]:
    """Rows of matching events, as dicts with the Event field names plus ``id``."""
    order = events.c.timestamp.desc() if newest_first else events.c.timestamp.asc()
    stmt = select(events).where(*flt.clauses()).order_by(order, events.c.id.desc()) \
        .limit(limit).offset(offset)
    return [dict(r._mapping) for r in conn.execute(stmt)]


EXPORT_COLUMNS = tuple(c for c in events.c if c.name not in ("src_addr", "dst_addr"))  # as the user knows them


def after_key(ts: datetime, ident: int, *, newest_first: bool = True) -> ColumnElement[bool]:
    """Events after (``ts``, ``ident``) in (timestamp, id) order (see :func:`netwarden.store.keyset.after`)."""
    return keyset.after(events.c.timestamp, events.c.id, ts, ident, newest_first=newest_first)


def keyset_pages(conn: Connection, stmt: Select, *, newest_first: bool = True, limit: int | None = None,
                 chunk: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Every row of ``stmt`` (a select of events with ``timestamp`` and ``id`` among its columns, filtered but
    not ordered), up to ``limit``, read in keyset pages of ``chunk`` rows: memory stays flat and each page
    starts where the last ended on the timestamp index. Rows come straight from the driver (tuples, times
    as the driver returns them: see :class:`netwarden.store.driver_rows.Plan`): about twice as fast as rows
    built by SQLAlchemy."""
    c = events.c
    names = [col.name for col in stmt.selected_columns]
    ts_at, id_at = names.index("timestamp"), names.index("id")
    order = (c.timestamp.desc(), c.id.desc()) if newest_first else (c.timestamp.asc(), c.id.asc())
    last: tuple[datetime, int] | None = None
    left = limit
    while left is None or left > 0:
        page = stmt
        if last is not None:
            ts, ident = last
            page = page.where(after_key(ts, ident, newest_first=newest_first))
        size = chunk if left is None else min(chunk, left)
        result = conn.execute(page.order_by(*order).limit(size))
        rows = result.cursor.fetchall()  # the driver's tuples, past SQLAlchemy's per-row processing
        result.close()
        yield from rows
        if len(rows) < size:
            return
        last = (driver_datetime(rows[-1][ts_at]), rows[-1][id_at])
        if left is not None:
            left -= len(rows)


def iter_events(conn: Connection, flt: EventFilter, *, newest_first: bool = True, limit: int | None = None,
                chunk: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Every matching event as a driver tuple of :data:`EXPORT_COLUMNS` (see :func:`keyset_pages`)."""
    return keyset_pages(conn, select(*EXPORT_COLUMNS).where(*flt.clauses()), newest_first=newest_first,
                        limit=limit, chunk=chunk)


def row_to_event(row: dict[str, Any]) -> Event:
    return Event(**{f: row.get(f) for f in EVENT_FIELDS if f != "extra"}, extra=row.get("extra") or {})


def iter_all(conn: Connection, batch: int = 5000) -> Iterable[dict[str, Any]]:
    last = 0
    while True:
        rows = conn.execute(select(events).where(events.c.id > last).order_by(events.c.id).limit(batch)).all()
        if not rows:
            return
        for r in rows:
            yield dict(r._mapping)
        last = rows[-1].id
