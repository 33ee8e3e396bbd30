"""Finding events for the events page, the API and exports: the store's EventFilter, plus protocol, either-side
addresses and keyset pagination.

Pages move with a cursor (the last row's time and id), not an offset: the database walks the
``(timestamp)`` index from where the previous page ended, so page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
from functools import lru_cache
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select

from netwarden.store import keyset
from netwarden.store.addresses import network_range
from netwarden.store.driver_rows import Plan
from netwarden.store.events import EventFilter, address_match, after_key, keyset_pages
from netwarden.store.schema import events

LIST_COLUMNS = [c for c in events.c if c.name not in ("raw", "extra", "src_addr", "dst_addr", "message")]


class QueryError(ValueError):
    """A query that cannot be asked (a bad address, an inverted range, a foreign cursor); the message says
    which. The web app answers it with a 400."""


@dataclass
class EventQuery:
    """What a caller asked for, validated (every bad value is a QueryError with a message)."""

    since: datetime | None = None
    until: datetime | None = None
    address: str | None = None  # address or network, either side
    src: str | None = None
    dst: str | None = None
    port: int | None = None
    protocol: str | None = None  # transport (tcp, udp ...) or application protocol (http, ssh ...)
    kind: str | None = None
    status: int | None = None  # HTTP status
    text: str | None = None
    label: str | None = None
    oldest_first: bool = False
    cursor: str | None = None
    limit: int = 50

    def to_filter(self) -> EventFilter:
        for name in ("address", "src", "dst"):
            value = getattr(self, name)
            if value:
                try:
                    ipaddress.ip_network(value, strict=False)
                except ValueError:
                    raise QueryError(f"{name}: {value!r} is not an address or network "
                                     "(e.g. 192.0.2.7 or 10.0.0.0/8)") from None
        if self.since and self.until and self.since >= self.until:
            raise QueryError("since must be before until")
        # addresses are not left to EventFilter: search() matches them so that each side's index is used
        return EventFilter(since=self.since, until=self.until, port=self.port, kind=self.kind, status=self.status,
                           text=self.text, label=self.label)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        return keyset.decode_cursor(cursor)
    except keyset.CursorError as exc:
        raise QueryError(str(exc)) from None


def _where(query: EventQuery) -> list:
    """The query's conditions except the either-side address (see :func:`search`)."""
    c = events.c
    where = query.to_filter().clauses()
    if query.protocol:
        proto = query.protocol.lower()
        where.append(or_(c.transport == proto, c.app_protocol == proto))
    if query.src:
        where.append(address_match(c.src_addr, query.src))
    if query.dst:
        where.append(address_match(c.dst_addr, query.dst))
    if query.cursor:
        ts, ident = decode_cursor(query.cursor)
        where.append(after_key(ts, ident, newest_first=not query.oldest_first))
    return where


# built once: coercing the 32 columns of a new select() cost more than running the query for one address
_LIST = select(*LIST_COLUMNS)
_NEWEST = (events.c.timestamp.desc(), events.c.id.desc())
_OLDEST = (events.c.timestamp.asc(), events.c.id.asc())


def search(conn: Connection, query: EventQuery) -> tuple[list[dict[str, Any]], str | None]:
    """One page of events (newest first unless asked otherwise) and the cursor of the next page, if any."""
    bound = _bound(query)
    if bound is None:
        return _page(conn, query, [conn.execute(stmt) for stmt in _built(query)])
    shape, values = bound
    return _page(conn, query, [conn.execute(stmt, values) for stmt in _statements(shape)])


def _page(conn: Connection, query: EventQuery, results: list) -> tuple[list[dict[str, Any]], str | None]:
    """The page from the results of one statement, or of one per side for an either-side address (merged
    here: an event from the address to itself comes from both)."""
    if len(results) == 1:
        rows = [r._asdict() for r in results[0]]
    else:
        found = {r.id: r._asdict() for result in results for r in result}
        rows = sorted(found.values(), key=lambda r: (r["timestamp"], r["id"]), reverse=not query.oldest_first)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return rows, keyset.encode_cursor(rows[-1]["timestamp"], rows[-1]["id"]) if more and rows else None


def _built(query: EventQuery) -> list:
    """Statements built for this query's values (a text search: its pattern is part of the statement)."""
    c = events.c
    where = _where(query)
    order = _OLDEST if query.oldest_first else _NEWEST
    page = _LIST.where(*where).order_by(*order).limit(query.limit + 1)
    if not query.address:
        return [page]
    # "either side" as one OR makes engines walk the time index through every row; instead one query per
    # side (each on its own index)
    return [page.where(address_match(column, query.address)) for column in (c.src_addr, c.dst_addr)]


def _bound(query: EventQuery) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """The shape of a search (its order and which conditions it has) and the values of their bind parameters;
    None for a text search. Building a statement and its cache key cost twice what running it does for one
    address: statements are built once per shape (:func:`_statements`) and run with the values."""
    if query.text:
        return None
    flt = query.to_filter()  # checks the addresses and the time range
    values: dict[str, Any] = {"page_limit": query.limit + 1}
    for name in ("since", "until", "port", "status"):  # as EventFilter.clauses() tests them
        if getattr(flt, name) is not None:
            values[name] = getattr(flt, name)
    for name in ("kind", "label"):
        if getattr(flt, name):
            values[name] = getattr(flt, name)
    if query.protocol:
        values["protocol"] = query.protocol.lower()
    for name in ("src", "dst", "address"):
        network = getattr(query, name)
        if network:
            lo, hi = network_range(network)
            values[f"{name}_lo"] = lo
            if hi != lo:
                values[f"{name}_hi"] = hi
    if query.cursor:
        values["cursor_ts"], values["cursor_id"] = decode_cursor(query.cursor)
    return (query.oldest_first, *sorted(values)), values


@lru_cache(maxsize=512)
def _statements(shape: tuple[Any, ...]) -> tuple[Any, ...]:
    """The statements of a search shape (see :func:`_bound`), with bind parameters for the values: the
    conditions of :func:`_where` and :meth:`EventFilter.clauses`."""
    oldest, p = shape[0], {name: bindparam(name) for name in shape[1:]}
    c = events.c

    def side(column: Any, name: str) -> Any:  # as address_match(): one address is an equality
        lo = p[f"{name}_lo"]
        return column.between(lo, p[f"{name}_hi"]) if f"{name}_hi" in p else column == lo

    where = []
    if "since" in p:
        where.append(c.timestamp >= p["since"])
    if "until" in p:
        where.append(c.timestamp < p["until"])
    if "port" in p:
        where.append(or_(c.dst_port == p["port"], c.src_port == p["port"]))
    for name, column in (("kind", c.source_kind), ("status", c.http_status), ("label", c.label)):
        if name in p:
            where.append(column == p[name])
    if "protocol" in p:
        where.append(or_(c.transport == p["protocol"], c.app_protocol == p["protocol"]))
    for name, column in (("src", c.src_addr), ("dst", c.dst_addr)):
        if f"{name}_lo" in p:
            where.append(side(column, name))
    if "cursor_ts" in p:
        where.append(after_key(p["cursor_ts"], p["cursor_id"], newest_first=not oldest))
    page = _LIST.where(*where).order_by(*(_OLDEST if oldest else _NEWEST)).limit(p["page_limit"])
    if "address_lo" not in p:
        return (page,)
    return tuple(page.where(side(column, "address")) for column in (c.src_addr, c.dst_addr))


LIST_PLAN = Plan.of(LIST_COLUMNS)


def search_all(conn: Connection, query: EventQuery, chunk: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Every matching event from the query's cursor on, as driver tuples of :data:`LIST_PLAN` (for exports:
    keyset pages, memory flat). The either-side address is two index walks merged, as in :func:`search`."""
    c = events.c
    where = _where(query)
    newest = not query.oldest_first
    if not query.address:
        return keyset_pages(conn, select(*LIST_COLUMNS).where(*where), newest_first=newest, chunk=chunk)
    sides = [keyset_pages(conn, select(*LIST_COLUMNS).where(*where, address_match(column, query.address)),
                          newest_first=newest, chunk=chunk) for column in (c.src_addr, c.dst_addr)]
    ts_at, id_at = LIST_PLAN.names.index("timestamp"), LIST_PLAN.names.index("id")
    merged = heapq.merge(*sides, key=lambda r: (r[ts_at], r[id_at]), reverse=newest)
    return (next(same) for _, same in itertools.groupby(merged, key=lambda r: r[id_at]))  # src == dst: once


def get_event(conn: Connection, event_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(*[col for col in events.c if col.name not in ("src_addr", "dst_addr")])
                       .where(events.c.id == event_id)).first()
    return dict(row._mapping) if row else None


def latest_events(conn: Connection, flt: EventFilter, limit: int) -> list[dict[str, Any]]:
    """The newest events matching ``flt`` (list columns), newest first."""
    stmt = select(*LIST_COLUMNS).where(*flt.clauses()).order_by(events.c.timestamp.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def count_events(conn: Connection, flt: EventFilter) -> int:
    return int(conn.execute(select(func.count()).select_from(events).where(*flt.clauses())).scalar_one())
