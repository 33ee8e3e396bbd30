"""Finding events for the events page, the API and exports: the store's EventFilter, plus protocol, either-side
addresses and keyset pagination.

Pages move with a cursor (the last row's time and id), not an offset: the database walks the
``(timestamp)`` index from where the previous page ended, so page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import heapq
import ipaddress
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, or_, select

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


def encode_cursor(ts: datetime, event_id: int) -> str:
    raw = f"{ts.astimezone(timezone.utc).isoformat()}|{event_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        ts = datetime.fromisoformat(when)
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=timezone.utc)
        number = int(ident)
        if not 0 <= number < 2**63 or not 1970 <= ts.year < 2200:
            raise ValueError(cursor)
        return ts, number
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise QueryError("cursor: not a cursor this server gave out") from None


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
    c = events.c
    where = _where(query)
    order = _OLDEST if query.oldest_first else _NEWEST
    if query.address:
        # "either side" as one OR makes engines walk the time index through every row; instead one query per
        # side (each on its own index), merged here
        found: dict[int, dict[str, Any]] = {}
        for column in (c.src_addr, c.dst_addr):
            stmt = _LIST.where(*where, address_match(column, query.address)).order_by(*order).limit(query.limit + 1)
            for r in conn.execute(stmt):
                found[r.id] = r._asdict()
        rows = sorted(found.values(), key=lambda r: (r["timestamp"], r["id"]), reverse=not query.oldest_first)
    else:
        stmt = _LIST.where(*where).order_by(*order).limit(query.limit + 1)
        rows = [r._asdict() for r in conn.execute(stmt)]
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return rows, encode_cursor(rows[-1]["timestamp"], rows[-1]["id"]) if more and rows else None


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
