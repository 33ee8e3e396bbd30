"""One address seen from every side (the host page), and the repeat offenders (sources with the most alerts
and blocks over a time range). Reads only; every query is bounded."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, union_all

from netwarden.records import Severity
from netwarden.store import analysis
from netwarden.store.addresses import network_range
from netwarden.store.alerts import row_to_alert
from netwarden.store.blocks import BlockState, blocks_of_address, list_blocks
from netwarden.store.events import EventFilter
from netwarden.store.schema import alerts, events
from netwarden.store.schema_respond import blocks
from netwarden.useragent import parse_agent

HOST_ALERTS = 50
HOST_BLOCKS = 50
HOST_AGENTS = 10


def host_summary(conn: Connection, address: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Events over time, ports, peers, user agents, first and last seen, alerts and blocks of one address.

    The newest events from the address and the newest to it are read once each (``scan_limit`` at most, through
    each side's (address, timestamp) index) and counted here: what volume(), protocols(), top_destinations() and
    top_talkers() would give from nine statements, whose building cost more than running them. The statements
    are built once (below) and run with the address's values: building them cost three times running them."""
    key = network_range(address)[0]
    first, last = conn.execute(_FIRST_LAST, {"key": key}).one()
    q = analysis.Query(since, until, filter=EventFilter(address=address), limit=15)
    values = {"key": key, "since": since, "until": until, "scan": q.scan_limit}
    sent, received = conn.execute(_SENT, values).all(), conn.execute(_RECEIVED, values).all()
    both = {r.id: r for r in sent} | {r.id: r for r in received}  # from the address to itself: once
    newest = sorted(both.values(), key=lambda r: (r.timestamp, r.id), reverse=True)[:q.scan_limit]
    volume, ports = analysis.volume_and_protocols(q, [
        (r.src_ip, r.dst_ip, r.bytes_out, r.bytes_in, r.timestamp, r.transport, r.dst_port, r.source_kind)
        for r in newest], max_points=60)
    talks_to = analysis.top_from_rows(analysis.Query(since, until, filter=EventFilter(src=address), limit=15),
                                      [(r.dst_ip, r.bytes_out, r.bytes_in) for r in sent], "dst")
    heard_from = analysis.top_from_rows(analysis.Query(since, until, filter=EventFilter(dst=address), limit=15),
                                        [(r.src_ip, r.bytes_out, r.bytes_in) for r in received], "src")
    return {
        "address": address, "first_seen": first, "last_seen": last,
        "events": sum(p["events"] for p in volume["points"]), "volume": volume,
        "ports": ports["ports"], "transports": ports["transports"], "sampled": volume["sampled"] or ports["sampled"],
        "peers_out": talks_to["rows"], "peers_in": heard_from["rows"],
        "agents": [{"user_agent": ua, "events": int(n), **parse_agent(ua).to_dict()}
                   for ua, n in _agents(sent)],
        "alerts": [row_to_alert(r) for r in conn.execute(_ALERTS, {"key": key})],
        "blocks": blocks_of_address(conn, address, limit=HOST_BLOCKS),
    }


def _first_last_statement() -> Any:
    """When the address (``key``) was first and last seen on either side: the ends of each side's (address,
    timestamp) index, four seeks; min() and max() over its events read them all (seconds for an address with
    millions)."""
    c = events.c
    ends = [select(c.timestamp).where(column == bindparam("key")).order_by(order).limit(1).subquery()
            for column in (c.src_addr, c.dst_addr) for order in (c.timestamp.asc(), c.timestamp.desc())]
    seen = union_all(*(select(end.c.timestamp) for end in ends)).subquery()
    return select(func.min(seen.c.timestamp), func.max(seen.c.timestamp))


def _newest_statement(column: Any) -> Any:
    """The newest ``scan`` events in [since, until) of one side (``column`` = ``key``), with what the host
    page counts (an analysis.Query's filter for that side)."""
    c = events.c
    return select(c.id, c.timestamp, c.src_ip, c.dst_ip, c.bytes_out, c.bytes_in, c.transport, c.dst_port,
                  c.source_kind, c.user_agent) \
        .where(c.timestamp >= bindparam("since"), c.timestamp < bindparam("until"), column == bindparam("key")) \
        .order_by(c.timestamp.desc(), c.id.desc()).limit(bindparam("scan"))


_FIRST_LAST = _first_last_statement()
_SENT, _RECEIVED = _newest_statement(events.c.src_addr), _newest_statement(events.c.dst_addr)
# find_alerts(AlertFilter(source=address)): one address is an equality on its (source_addr, last_seen) index
_ALERTS = select(alerts).where(alerts.c.source_addr == bindparam("key")) \
    .order_by(alerts.c.last_seen.desc(), alerts.c.id.desc()).limit(HOST_ALERTS)


def _agents(sent: list[Any]) -> list[tuple[str, int]]:
    """The address's most frequent user agents among the events read from it: all of them, or the newest
    ``scan_limit`` when the page says ``sampled`` (like its other counts; a GROUP BY over every event of the
    busiest source took seconds)."""
    counts = Counter(r.user_agent for r in sent if r.user_agent is not None)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:HOST_AGENTS]


def offenders(conn: Connection, since: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """The sources with the most alerts and blocks since ``since``, worst first, with their block history
    summary (how many, the latest one's state and escalation level)."""
    by_source: dict[str, dict[str, Any]] = {}

    def entry(source: str) -> dict[str, Any]:
        return by_source.setdefault(source, {
            "source": source, "alerts": 0, "occurrences": 0, "severity": None, "kinds": [],
            "first_seen": None, "last_seen": None, "blocks": 0, "level": None, "block": None})

    a = alerts.c
    rows = conn.execute(
        select(a.source, func.count().label("n"), func.sum(a.count), func.min(a.first_seen), func.max(a.last_seen))
        .where(a.last_seen >= since, a.source.is_not(None)).group_by(a.source)
        .order_by(func.count().desc(), a.source).limit(limit)).all()
    for source, n, occurrences, first, last in rows:
        e = entry(source)
        e.update(alerts=int(n), occurrences=int(occurrences or 0), first_seen=first, last_seen=last)
    b = blocks.c
    for network, n, level, last in conn.execute(
            select(b.network, func.count(), func.max(b.level), func.max(b.created))
            .where(b.created >= since, b.state != str(BlockState.REFUSED)).group_by(b.network).order_by(func.count().desc(), b.network).limit(limit)):
        e = entry(network)
        e["blocks"] = int(n)
        e["level"] = int(level)
        e["last_seen"] = max(x for x in (e["last_seen"], last) if x is not None)
    sources = list(by_source)
    for i in range(0, len(sources), 500):  # bounded IN lists
        for source, severity, kind in conn.execute(
                select(a.source, a.severity, a.kind).where(a.source.in_(sources[i:i + 500]), a.last_seen >= since)
                .group_by(a.source, a.severity, a.kind)):
            e = by_source[source]
            if e["severity"] is None or Severity(severity).rank > Severity(e["severity"]).rank:
                e["severity"] = severity
            if kind not in e["kinds"]:
                e["kinds"].append(kind)
    for e in by_source.values():
        try:  # the latest block that took effect (a refused record never did)
            latest = [x for x in list_blocks(conn, address=e["source"], limit=5) if x.state != BlockState.REFUSED]
        except ValueError:  # a source that is not an address
            latest = []
        e["block"] = latest[0] if latest else None
    ranked = sorted(by_source.values(), key=lambda e: (-(e["alerts"] + 3 * e["blocks"]), e["source"]))
    return ranked[:limit]
