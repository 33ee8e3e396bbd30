"""Analysis queries: traffic over time, protocol and port mix, top talkers, who talks to whom, HTTP mix.

Every function takes a time range and an optional :class:`~netwarden.store.events.EventFilter`, returns
plain data (dicts and lists, ready for JSON) and bounds its work:

- traffic over time and the protocol/port mix read the per-minute ``rollups`` when the filter allows
  (no filter or only ``kind``), so a month of millions of events is a few thousand rows;
- queries that need raw events read at most ``scan_limit`` of the newest events in the range (the
  timestamp or address index gives them in order) and say ``sampled: true`` when that cap was reached;
- result lists are cut to ``limit`` rows.

Each result row carries a ``filter``: the EventFilter fields (``since``, ``until``, ``src``, ``dst``,
``port``, ``kind``, ``status``) that list the events behind it, for drill-down.

>>> volume(conn, since, until)["points"][0]   # doctest: +SKIP
{'start': '2026-11-21T10:00:00Z', 'events': 412, 'bytes': 90210, 'filter': {...}}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from functools import cached_property
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Integer, and_, func, literal, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from netwarden.store.addresses import network_range
from netwarden.store.analysis_rows import (
    bucket_seconds,
    conversation_data,
    http_data,
    iso,
    overview_volume_and_protocols,
    protocol_data,
    ranked_counts,
    talker_rows,
    top_keys,
    volume_data,
)
# counted from rows a caller read already (store.hosts): part of this module's interface
from netwarden.store.analysis_rows import top_from_rows as top_from_rows
from netwarden.store.analysis_rows import volume_and_protocols as volume_and_protocols
from netwarden.store.events import EventFilter
from netwarden.store.schema import events, rollups

DEFAULT_SCAN_LIMIT = 200_000
MAX_LIMIT = 200


class AnalysisError(ValueError):
    """A request the queries cannot answer (bad range or limit); the message says why."""


class _epoch(FunctionElement):
    """Seconds since 1970 of a naive-UTC datetime column, the same number on every engine."""

    inherit_cache = True
    type = Integer()


@compiles(_epoch)
def _epoch_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(_epoch, "postgresql")
def _epoch_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    # FLOOR: a cast alone rounds, and 10:00:59.7 would count in the next minute
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(_epoch, "mysql")
@compiles(_epoch, "mariadb")
def _epoch_mysql(element: Any, compiler: Any, **kw: Any) -> str:
    # not UNIX_TIMESTAMP(): that reads the column in the session's time zone
    return f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {compiler.process(element.clauses, **kw)})"


@dataclass(frozen=True)
class Query:
    """The time range and filter of one analysis request."""

    since: datetime
    until: datetime
    filter: EventFilter | None = None
    limit: int = 10
    scan_limit: int = DEFAULT_SCAN_LIMIT

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=timezone.utc))
        if self.until <= self.since:
            raise AnalysisError("the end of the time range must come after its start")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise AnalysisError(f"limit must be between 1 and {MAX_LIMIT}")
        if self.scan_limit < 1:
            raise AnalysisError("scan_limit must be positive")

    def event_filter(self) -> EventFilter:
        return replace(self.filter or EventFilter(), since=self.since, until=self.until)

    @property
    def uses_rollups(self) -> bool:
        """Rollups know time, kind, transport and destination port only."""
        f = self.filter
        return f is None or not any((f.src, f.dst, f.address, f.port is not None, f.status is not None,
                                     f.text, f.label))

    def drill(self, since: datetime | None = None, until: datetime | None = None, **fields: Any) -> dict:
        """The EventFilter (as JSON-ready dict) that lists the events behind one result row."""
        base = dict(self._drill_base)
        for k, v in fields.items():
            if v is not None:
                base[k] = v
        base["since"] = self._drill_range[0] if since is None else iso(since)
        base["until"] = self._drill_range[1] if until is None else iso(until)
        return base

    # a result has a drill-down filter per row (a host page ~50): its filter's fields and range once per Query
    @cached_property
    def _drill_base(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self.filter or EventFilter()).items()
                if v is not None and k not in ("since", "until")}

    @cached_property
    def _drill_range(self) -> tuple[str, str]:
        return iso(self.since), iso(self.until)


def _recent_events(q: Query, *columns):  # type: ignore[no-untyped-def]
    """At most ``scan_limit`` of the newest matching events, as a subquery with the given columns."""
    flt = q.event_filter()
    key = _one_address(flt.address)
    if key is None:
        return select(*columns).where(*flt.clauses()) \
            .order_by(events.c.timestamp.desc()).limit(q.scan_limit).subquery()
    # One address on either side: as "src OR dst" ordered by time, engines walk the timestamp index through
    # every event of the range (all 10M for a host page over 7 days). Instead the newest of each side from its
    # own (address, timestamp) index, events from the address to itself once, and the newest of both.
    c = events.c
    rest = replace(flt, address=None).clauses()
    wanted = [*columns, *(col for col in (c.timestamp, c.id) if col not in columns)]
    newest = (c.timestamp.desc(), c.id.desc())
    sides = [select(*wanted).where(*rest, c.src_addr == key),
             select(*wanted).where(*rest, c.dst_addr == key, or_(c.src_addr.is_(None), c.src_addr != key))]
    both = union_all(*(select(side.order_by(*newest).limit(q.scan_limit).subquery()) for side in sides)).subquery()
    return select(*(both.c[col.name] for col in columns)) \
        .order_by(both.c.timestamp.desc(), both.c.id.desc()).limit(q.scan_limit).subquery()


def _one_address(network: str | None) -> bytes | None:
    """The address key when ``network`` is a single address, else None."""
    if not network:
        return None
    lo, hi = network_range(network)
    return lo if lo == hi else None


def _rollup_where(q: Query) -> list:
    where = [rollups.c.minute >= q.since.replace(second=0, microsecond=0), rollups.c.minute < q.until]
    if q.filter is not None and q.filter.kind:
        where.append(rollups.c.source_kind == q.filter.kind)
    return where


# -- traffic over time --------------------------------------------------------------------------

def volume(conn: Connection, q: Query, *, max_points: int = 240) -> dict[str, Any]:
    """Events and bytes per time bucket; the bucket size follows the length of the range."""
    size = bucket_seconds(q.since, q.until, max_points)
    if q.uses_rollups:
        bucket = func.floor(_epoch(rollups.c.minute) / literal(size))
        stmt = select(bucket.label("b"), func.sum(rollups.c.events), func.sum(rollups.c.bytes)) \
            .where(*_rollup_where(q)).group_by(bucket).order_by(bucket)
        sampled = False
        rows = conn.execute(stmt).all()
    else:
        sub = _recent_events(q, events.c.timestamp, events.c.bytes_out, events.c.bytes_in)
        bucket = func.floor(_epoch(sub.c.timestamp) / literal(size))
        size_expr = func.coalesce(sub.c.bytes_out, 0) + func.coalesce(sub.c.bytes_in, 0)
        stmt = select(bucket.label("b"), func.count(), func.sum(size_expr)).group_by(bucket).order_by(bucket)
        rows = conn.execute(stmt).all()
        sampled = sum(int(r[1]) for r in rows) >= q.scan_limit
    return volume_data(q, size, rows, sampled)


# -- protocols, ports and kinds -----------------------------------------------------------------

def protocols(conn: Connection, q: Query) -> dict[str, Any]:
    """Events and bytes by transport, by destination port (top ``limit``) and by source kind."""
    if q.uses_rollups:
        src, count, size = rollups, func.sum(rollups.c.events), func.sum(rollups.c.bytes)
        where = _rollup_where(q)
        transport, port, kind = rollups.c.transport, rollups.c.dst_port, rollups.c.source_kind
        sampled = False
    else:
        src = _recent_events(q, events.c.transport, events.c.dst_port, events.c.source_kind,
                             events.c.bytes_out, events.c.bytes_in)
        count = func.count()
        size = func.sum(func.coalesce(src.c.bytes_out, 0) + func.coalesce(src.c.bytes_in, 0))
        where = []
        transport, port, kind = src.c.transport, src.c.dst_port, src.c.source_kind
        sampled = None

    def grouped(column, limit: int | None = None):  # type: ignore[no-untyped-def]
        stmt = select(column, count.label("n"), size).select_from(src).where(*where) \
            .group_by(column).order_by(count.desc(), column)
        return conn.execute(stmt.limit(limit) if limit else stmt).all()

    by_transport = grouped(transport)
    total = sum(int(r[1]) for r in by_transport)
    if sampled is None:
        sampled = total >= q.scan_limit
    return protocol_data(q, total, sampled, by_transport, grouped(port, q.limit + 1), grouped(kind))


# -- who ----------------------------------------------------------------------------------------

def _top_by(conn: Connection, q: Query, *columns, limit: int | None = None) -> tuple[list, bool]:  # type: ignore[no-untyped-def]
    sub = _recent_events(q, *columns, events.c.bytes_out, events.c.bytes_in)
    keys = [sub.c[c.name] for c in columns]
    count = func.count()
    size = func.sum(func.coalesce(sub.c.bytes_out, 0) + func.coalesce(sub.c.bytes_in, 0))
    scanned = conn.execute(select(func.count()).select_from(sub)).scalar_one()
    stmt = select(*keys, count, size).where(and_(*(k.is_not(None) for k in keys))) \
        .group_by(*keys).order_by(count.desc(), *keys).limit(limit or q.limit)
    return conn.execute(stmt).all(), scanned >= q.scan_limit


def address_counts(conn: Connection, q: Query, side: str, max_addresses: int = 2000) -> tuple[list[tuple], bool]:
    """(address, events, bytes) of the busiest ``max_addresses`` sources (``side="src"``) or destinations,
    for geolocation; and whether the scan cap was reached."""
    if side not in ("src", "dst"):
        raise AnalysisError("side must be src or dst")
    column = events.c.src_ip if side == "src" else events.c.dst_ip
    rows, sampled = _top_by(conn, q, column, limit=max_addresses)
    return [(a, int(n), int(b or 0)) for a, n, b in rows], sampled


def top_talkers(conn: Connection, q: Query) -> dict[str, Any]:
    """The sources with the most events (and their bytes)."""
    rows, sampled = _top_by(conn, q, events.c.src_ip)
    return talker_rows(q, rows, sampled, "src")


def top_destinations(conn: Connection, q: Query) -> dict[str, Any]:
    """The destinations with the most events (and their bytes)."""
    rows, sampled = _top_by(conn, q, events.c.dst_ip)
    return talker_rows(q, rows, sampled, "dst")


def conversations(conn: Connection, q: Query) -> dict[str, Any]:
    """Who talks to whom: the top source → destination pairs as graph data (nodes and links) and as a
    matrix (``matrix[i][j]`` = events from ``nodes[i]`` to ``nodes[j]``)."""
    rows, sampled = _top_by(conn, q, events.c.src_ip, events.c.dst_ip)
    return conversation_data(q, rows, sampled)


# -- HTTP ---------------------------------------------------------------------------------------

def http_mix(conn: Connection, q: Query) -> dict[str, Any]:
    """Requests by status code and by method (events with an HTTP method or status only)."""
    sub = select(events.c.http_status, events.c.http_method).where(
        *q.event_filter().clauses(), (events.c.http_method.is_not(None)) | (events.c.http_status.is_not(None))) \
        .order_by(events.c.timestamp.desc()).limit(q.scan_limit).subquery()
    count = func.count()
    statuses = conn.execute(select(sub.c.http_status, count).group_by(sub.c.http_status)
                            .order_by(count.desc(), sub.c.http_status).limit(q.limit)).all()
    methods = conn.execute(select(sub.c.http_method, count).group_by(sub.c.http_method)
                           .order_by(count.desc(), sub.c.http_method).limit(q.limit)).all()
    total = conn.execute(select(func.count()).select_from(sub)).scalar_one()
    every_status = dict(conn.execute(select(sub.c.http_status, count).group_by(sub.c.http_status)).all())
    return http_data(q, int(total), total >= q.scan_limit, statuses, methods, every_status)


def overview(conn: Connection, q: Query) -> dict[str, Any]:
    """Everything the analysis page shows, in one round trip.

    The four lists come from ONE read of the newest ``scan_limit`` events, counted here (in C, by
    ``Counter``), instead of four GROUP BY queries over the same rows (each a temporary B-tree on SQLite):
    about half the time for a large range, most of it now the read itself. The results are those of the single-purpose functions (a test checks it), except
    that when the cap is reached the HTTP mix is of the newest events overall, not of the newest requests.
    """
    columns = [events.c.src_ip, events.c.dst_ip, events.c.bytes_out, events.c.bytes_in, events.c.http_method,
               events.c.http_status]
    if not q.uses_rollups:  # traffic over time and the protocol mix from the same rows, not two more reads
        columns += [events.c.timestamp, events.c.transport, events.c.dst_port, events.c.source_kind]
    rows = conn.execute(select(_recent_events(q, *columns))).all()
    sampled = len(rows) >= q.scan_limit
    if q.uses_rollups:
        traffic, mix = volume(conn, q), protocols(conn, q)
    else:
        traffic, mix = overview_volume_and_protocols(q, rows, sampled)
    # counted in C (Counter over columns); bytes summed in one more pass for the top keys only
    srcs = [r[0] for r in rows]
    dsts = [r[1] for r in rows]
    talkers = Counter(srcs)
    dests = Counter(dsts)
    pairs = Counter(zip(srcs, dsts))
    for counts in (talkers, dests):
        counts.pop(None, None)
    top_src, top_dst = top_keys(talkers, q.limit), top_keys(dests, q.limit)
    top_pairs = top_keys(Counter({k: n for k, n in pairs.items() if None not in k}) if (None in srcs or None in dsts)
                     else pairs, q.limit)
    want_src, want_dst, want_pair = set(top_src), set(top_dst), set(top_pairs)
    size_src: dict = dict.fromkeys(want_src, 0)
    size_dst: dict = dict.fromkeys(want_dst, 0)
    size_pair: dict = dict.fromkeys(want_pair, 0)
    http = [(r[4], r[5]) for r in rows if r[4] is not None or r[5] is not None]
    for src, dst, out, inn, *_rest in rows:
        if src in want_src or dst in want_dst or (src, dst) in want_pair:
            size = (out or 0) + (inn or 0)
            if src in want_src:
                size_src[src] += size
            if dst in want_dst:
                size_dst[dst] += size
            if (src, dst) in want_pair:
                size_pair[(src, dst)] += size
    statuses = Counter(st for _m, st in http)
    methods = Counter(m for m, _st in http)
    return {"since": iso(q.since), "until": iso(q.until), "volume": traffic, "protocols": mix,
            "talkers": talker_rows(q, [(k, talkers[k], size_src[k]) for k in top_src], sampled, "src"),
            "destinations": talker_rows(q, [(k, dests[k], size_dst[k]) for k in top_dst], sampled, "dst"),
            "conversations": conversation_data(q, [(s, d, pairs[(s, d)], size_pair[(s, d)]) for s, d in top_pairs],
                                               sampled),
            "http": http_data(q, len(http), sampled, ranked_counts(statuses, q.limit),
                              ranked_counts(methods, q.limit), statuses)}
