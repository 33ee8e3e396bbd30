"""One address seen from every side (the host page), and the repeat offenders (sources with the most alerts
and blocks over a time range). Reads only; every query is bounded."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, func, select

from netwarden.records import Alert, AlertStatus, Factor, Severity
from netwarden.store import analysis
from netwarden.store.addresses import network_range
from netwarden.store.blocks import Block, BlockState, list_blocks
from netwarden.store.events import EventFilter
from netwarden.store.host_statement import ALERT, BLOCK, FIRST_LAST, HOST_ALERTS, HOST_BLOCKS, RECEIVED, SENT, \
    SLOTS, host_rows, statement_for
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
    for row in host_rows(conn, statement, {"key": key, "since": since, "until": until, "scan": q.scan_limit,
                                           **starts}):
        parts[row[0]].append(row)
    seen = [r[T1] for r in parts[FIRST_LAST] if r[T1] is not None]
    # events as (id, timestamp, src_ip, dst_ip, bytes_out, bytes_in, transport, dst_port, source_kind, user_agent)
    sent, received = list(map(_EVENT, parts[SENT])), list(map(_EVENT, parts[RECEIVED]))
    both = {e[0]: e for e in sent} | {e[0]: e for e in received}  # from the address to itself: once
    newest = sorted(both.values(), key=lambda e: (e[1], e[0]), reverse=True)[:q.scan_limit]
    volume, ports = analysis.volume_and_protocols(q, [(e[2], e[3], e[4], e[5], e[1], e[6], e[7], e[8])
                                                      for e in newest], max_points=60)
    talks_to = analysis.top_from_rows(analysis.Query(since, until, filter=EventFilter(src=address), limit=15),
                                      [(e[3], e[4], e[5]) for e in sent], "dst")
    heard_from = analysis.top_from_rows(analysis.Query(since, until, filter=EventFilter(dst=address), limit=15),
                                        [(e[2], e[4], e[5]) for e in received], "src")
    return {
        "address": address, "first_seen": min(seen, default=None), "last_seen": max(seen, default=None),
        "events": sum(p["events"] for p in volume["points"]), "volume": volume,
        "ports": ports["ports"], "transports": ports["transports"], "sampled": volume["sampled"] or ports["sampled"],
        "peers_out": talks_to["rows"], "peers_in": heard_from["rows"],
        "agents": [{"user_agent": ua, "events": int(n), **parse_agent(ua).to_dict()}
                   for ua, n in _agents(sent)],
        # newest first, as each part's ORDER BY (a UNION ALL's rows come in no defined order)
        "alerts": [_alert(*_ALERT(r)) for r in sorted(parts[ALERT], key=lambda r: (r[T2], r[ID]), reverse=True)],
        "blocks": [_block(*_BLOCK(r)) for r in sorted(parts[BLOCK], key=lambda r: (r[T1], r[ID]),
                                                      reverse=True)[:HOST_BLOCKS]],
    }


# where each part's values are in the statement's rows (read by position: a row's attributes cost more)
ID, T1, T2, T3, S0, S1, S2, S3, S4, S5, S6, S7, S8, S9, N0, N1, N2, F0, J0, J1, B0 = range(1, len(SLOTS) + 1)
assert list(SLOTS) == ["id", "t1", "t2", "t3", *(f"s{i}" for i in range(10)), "n0", "n1", "n2", "f0", "j0", "j1",
                       "b0"]
_EVENT = itemgetter(ID, T1, S0, S1, N0, N1, S2, N2, S3, S4)
_ALERT = itemgetter(ID, S0, S1, S2, F0, J0, S3, S4, T1, T2, N0, J1, S5, S6, S7, S8, N1, S9, B0)
_BLOCK = itemgetter(ID, S0, S1, N0, S2, S3, S4, T1, T2, N1, S5, T3, S6, S7)


def _alert(id: int, kind: str, subkind: str, severity: str, confidence: float, factors: list[dict[str, Any]],
           source: str | None, target: str | None, first_seen: datetime, last_seen: datetime, count: int,
           evidence: dict[str, Any], recommendation: str, detector: str, signature: str, status: str,
           incident_id: int | None, model_version: str | None, history: bool | None) -> Alert:
    """row_to_alert of an alert's row on the statement's slots."""
    return Alert(id=id, kind=kind, subkind=subkind, severity=Severity(severity), confidence=confidence,
                 factors=[Factor(**f) for f in factors], source=source, target=target, first_seen=first_seen,
                 last_seen=last_seen, count=count, evidence=evidence, recommendation=recommendation,
                 detector=detector, signature=signature, status=AlertStatus(status), incident_id=incident_id,
                 model_version=model_version, history=bool(history))


def _block(id: int, network: str, reason: str, alert_id: int | None, backend: str, mode: str, created_by: str,
           created: datetime, expires: datetime | None, level: int, state: str, ended: datetime | None,
           ended_by: str | None, detail: str) -> Block:
    """blocks._from_row of a block's row on the statement's slots."""
    return Block(id=id, network=network, reason=reason, alert_id=alert_id, backend=backend, mode=mode,
                 created_by=created_by, created=created, expires=expires, level=level, state=BlockState(state),
                 ended=ended, ended_by=ended_by, detail=detail)


def _agents(sent: list[Any]) -> list[tuple[str, int]]:
    """The address's most frequent user agents among the events read from it: all of them, or the newest
    ``scan_limit`` when the page says ``sampled`` (like its other counts; a GROUP BY over every event of the
    busiest source took seconds)."""
    counts = Counter(e[9] for e in sent if e[9] is not None)
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
