"""One address seen from every side (the host page), and the repeat offenders (sources with the most alerts
and blocks over a time range). Reads only; every query is bounded."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from netwarden.records import Alert, AlertStatus, Factor, Severity
from netwarden.store import analysis
from netwarden.store.addresses import network_range
from netwarden.store.blocks import Block, BlockState, list_blocks
from netwarden.store.events import EventFilter
from netwarden.store.host_statement import ALERT, BLOCK, FIRST_LAST, HOST_ALERTS, HOST_BLOCKS, RECEIVED, SENT, \
    statement_for
from netwarden.store.schema import alerts
from netwarden.store.schema_respond import blocks
from netwarden.useragent import parse_agent

HOST_AGENTS = 10
__all__ = ["HOST_AGENTS", "HOST_ALERTS", "HOST_BLOCKS", "host_summary", "offenders"]


def host_summary(conn: Connection, address: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Events over time, ports, peers, user agents, first and last seen, alerts and blocks of one address.

    One statement (netwarden.store.host_statement) reads every part: the ends of each side's (address,
    timestamp) index, the newest events from the address and the newest to it (``scan_limit`` at most each),
    its newest alerts and its blocks. The events are counted here: what volume(), protocols(),
    top_destinations() and top_talkers() would give from nine statements."""
    key = network_range(address)[0]
    q = analysis.Query(since, until, filter=EventFilter(address=address), limit=15)
    statement, starts = statement_for(key)
    parts: dict[int, list[Any]] = {FIRST_LAST: [], SENT: [], RECEIVED: [], ALERT: [], BLOCK: []}
    for row in conn.execute(statement, {"key": key, "since": since, "until": until, "scan": q.scan_limit, **starts}):
        parts[row[0]].append(row)
    seen = [r.t1 for r in parts[FIRST_LAST] if r.t1 is not None]
    sent, received = parts[SENT], parts[RECEIVED]
    both = {r.id: r for r in sent} | {r.id: r for r in received}  # from the address to itself: once
    newest = sorted(both.values(), key=lambda r: (r.t1, r.id), reverse=True)[:q.scan_limit]
    volume, ports = analysis.volume_and_protocols(q, [(r.s0, r.s1, r.n0, r.n1, r.t1, r.s2, r.n2, r.s3)
                                                      for r in newest], max_points=60)
    talks_to = analysis.top_from_rows(analysis.Query(since, until, filter=EventFilter(src=address), limit=15),
                                      [(r.s1, r.n0, r.n1) for r in sent], "dst")
    heard_from = analysis.top_from_rows(analysis.Query(since, until, filter=EventFilter(dst=address), limit=15),
                                        [(r.s0, r.n0, r.n1) for r in received], "src")
    return {
        "address": address, "first_seen": min(seen, default=None), "last_seen": max(seen, default=None),
        "events": sum(p["events"] for p in volume["points"]), "volume": volume,
        "ports": ports["ports"], "transports": ports["transports"], "sampled": volume["sampled"] or ports["sampled"],
        "peers_out": talks_to["rows"], "peers_in": heard_from["rows"],
        "agents": [{"user_agent": ua, "events": int(n), **parse_agent(ua).to_dict()}
                   for ua, n in _agents(sent)],
        # newest first, as each part's ORDER BY (a UNION ALL's rows come in no defined order)
        "alerts": [_alert(r) for r in sorted(parts[ALERT], key=lambda r: (r.t2, r.id), reverse=True)],
        "blocks": [_block(r) for r in sorted(parts[BLOCK], key=lambda r: (r.t1, r.id), reverse=True)[:HOST_BLOCKS]],
    }


def _alert(r: Any) -> Alert:
    """row_to_alert of an alert's row on the statement's slots."""
    return Alert(id=r.id, kind=r.s0, subkind=r.s1, severity=Severity(r.s2), confidence=r.f0,
                 factors=[Factor(**f) for f in r.j0], source=r.s3, target=r.s4, first_seen=r.t1, last_seen=r.t2,
                 count=r.n0, evidence=r.j1, recommendation=r.s5, detector=r.s6, signature=r.s7,
                 status=AlertStatus(r.s8), incident_id=r.n1, model_version=r.s9, history=bool(r.b0))


def _block(r: Any) -> Block:
    """blocks._from_row of a block's row on the statement's slots."""
    return Block(id=r.id, network=r.s0, reason=r.s1, alert_id=r.n0, backend=r.s2, mode=r.s3, created_by=r.s4,
                 created=r.t1, expires=r.t2, level=r.n1, state=BlockState(r.s5), ended=r.t3, ended_by=r.s6,
                 detail=r.s7)


def _agents(sent: list[Any]) -> list[tuple[str, int]]:
    """The address's most frequent user agents among the events read from it: all of them, or the newest
    ``scan_limit`` when the page says ``sampled`` (like its other counts; a GROUP BY over every event of the
    busiest source took seconds)."""
    counts = Counter(r.s4 for r in sent if r.s4 is not None)
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
