"""Analysis results from rows: what the rows of each query in :mod:`netwarden.store.analysis` become (plain,
JSON-ready data, each row with the EventFilter that lists its events), and the same results counted in
Python from events a caller has read already (the overview's single read, the host page's).

The counting here must give what the SQL of ``analysis`` gives: same order, same ties (tests compare them).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from netwarden.store.rollups import count_into

if TYPE_CHECKING:
    from netwarden.store.analysis import Query

# bucket sizes a chart may use (seconds); the smallest that gives at most ``max_points`` points wins
BUCKETS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)


def iso(ts: datetime) -> str:
    if ts.tzinfo is not timezone.utc:  # the stored times are UTC already
        ts = ts.astimezone(timezone.utc)
    return ts.isoformat().replace("+00:00", "Z")


def bucket_seconds(since: datetime, until: datetime, max_points: int = 240) -> int:
    span = (until - since).total_seconds()
    for size in BUCKETS:
        if span / size <= max_points:
            return size
    return BUCKETS[-1]


def volume_data(q: Query, size: int, rows: list[Any], sampled: bool) -> dict[str, Any]:
    points = []
    step = timedelta(seconds=size)
    base, first, last = q._drill_base, q.since, q.until
    end = end_iso = None
    # each point's filter is q.drill(max(start, since), min(end, until)); a bucket's start is the previous
    # one's end most of the time: its text is made once (formatting the times was most of a host page's)
    for b, count, size_sum in rows:
        start = datetime.fromtimestamp(int(b) * size, timezone.utc)
        start_iso = end_iso if start == end else iso(start)
        end = start + step
        end_iso = iso(end)
        drill = dict(base)
        drill["since"] = start_iso if start >= first else iso(first)
        drill["until"] = end_iso if end <= last else iso(last)
        points.append({"start": start_iso, "events": int(count), "bytes": int(size_sum or 0), "filter": drill})
    return {"bucket_seconds": size, "source": "rollups" if q.uses_rollups else "events",
            "sampled": sampled, "points": points}


def protocol_data(q: Query, total: int, sampled: bool, by_transport: list[Any], by_port: list[Any],
                  by_kind: list[Any]) -> dict[str, Any]:
    out_transport = [{"transport": (t or None), "events": int(n), "bytes": int(b or 0),
                      "filter": q.drill()} for t, n, b in by_transport]
    out_ports = []
    for p, n, b in by_port:  # limit + 1 rows: the "no port" bucket may take a place
        if p is None or p < 0:
            continue
        out_ports.append({"port": int(p), "events": int(n), "bytes": int(b or 0), "filter": q.drill(port=int(p))})
    out_kinds = [{"kind": k, "events": int(n), "bytes": int(b or 0), "filter": q.drill(kind=k)}
                 for k, n, b in by_kind]
    return {"total": total, "sampled": sampled, "transports": out_transport, "ports": out_ports[:q.limit],
            "kinds": out_kinds}


def talker_rows(q: Query, rows: list[Any], sampled: bool, side: str) -> dict[str, Any]:
    return {"sampled": sampled, "rows": [
        {"address": a, "events": int(n), "bytes": int(b or 0), "filter": q.drill(**{side: a})} for a, n, b in rows]}


def conversation_data(q: Query, rows: list[Any], sampled: bool) -> dict[str, Any]:
    nodes: list[str] = []
    index: dict[str, int] = {}
    for s, d, _n, _b in rows:
        for a in (s, d):
            if a not in index:
                index[a] = len(nodes)
                nodes.append(a)
    matrix = [[0] * len(nodes) for _ in nodes]
    links = []
    for s, d, n, b in rows:
        matrix[index[s]][index[d]] = int(n)
        links.append({"source": s, "target": d, "events": int(n), "bytes": int(b or 0),
                      "filter": q.drill(src=s, dst=d)})
    return {"sampled": sampled, "nodes": nodes, "links": links, "matrix": matrix}


def http_data(q: Query, total: int, sampled: bool, statuses: list[Any], methods: list[Any],
              every_status: dict[Any, int]) -> dict[str, Any]:
    classes: dict[str, int] = {}
    for s, n in every_status.items():
        label = f"{s // 100}xx" if s is not None else "none"
        classes[label] = classes.get(label, 0) + int(n)
    return {
        "total": int(total), "sampled": sampled,
        "statuses": [{"status": s, "events": int(n), "filter": q.drill(status=s)} for s, n in statuses],
        "classes": dict(sorted(classes.items())),
        # EventFilter has no method field: the drill-down lists the range's events, searched for the method
        "methods": [{"method": m, "events": int(n), "filter": q.drill(text=m) if m else q.drill()}
                    for m, n in methods],
    }


def overview_volume_and_protocols(q: Query, rows: list[Any], sampled: bool,
                                  max_points: int = 240) -> tuple[dict[str, Any], dict[str, Any]]:
    """What volume() and protocols() give for a filtered query, from the overview's rows."""
    size = bucket_seconds(q.since, q.until, max_points)
    buckets: dict[int, list[int]] = {}
    transports: dict[str | None, list[int]] = {}
    ports: dict[int, list[int]] = {}
    kinds: dict[str, list[int]] = {}
    for _s, _d, out, inn, _m, _st, ts, transport, port, kind in rows:
        n = (out or 0) + (inn or 0)
        count_into(buckets, math.floor(ts.timestamp()) // size, n)
        count_into(transports, transport, n)
        if port is not None and port >= 0:
            count_into(ports, port, n)
        count_into(kinds, kind, n)

    def ranked(counts: dict[Any, int], limit: int | None = None) -> list[tuple[Any, ...]]:
        order = sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0] is not None, kv[0] or ""))
        return [(k, n, b) for k, (n, b) in order[:limit]]

    traffic = volume_data(q, size, [(b, n, v) for b, (n, v) in sorted(buckets.items())], sampled)
    traffic.update(source="events")
    by_port = [(k, n, b) for k, (n, b) in sorted(ports.items(), key=lambda kv: (-kv[1][0], kv[0]))[:q.limit]]
    mix = protocol_data(q, len(rows), sampled, ranked(transports), by_port, ranked(kinds))
    return traffic, mix


def volume_and_protocols(q: Query, rows: list[Any], *,
                         max_points: int = 240) -> tuple[dict[str, Any], dict[str, Any]]:
    """What volume() and protocols() give for ``q``, from the newest events of its filter already read (at most
    ``scan_limit``: ``(src_ip, dst_ip, bytes_out, bytes_in, timestamp, transport, dst_port, source_kind)``)."""
    return overview_volume_and_protocols(q, [(s, d, o, i, None, None, *rest) for s, d, o, i, *rest in rows],
                                         len(rows) >= q.scan_limit, max_points)


def top_from_rows(q: Query, rows: list[Any], side: str) -> dict[str, Any]:
    """What top_talkers() (``side="src"``) or top_destinations() give for ``q``, from the newest events of its
    filter already read (at most ``scan_limit``: ``(address, bytes_out, bytes_in)``, the address on ``side``)."""
    counts: Counter[str] = Counter()
    sizes: dict[str, int] = {}
    for address, out, inn in rows:
        if address is not None:
            counts[address] += 1
            sizes[address] = sizes.get(address, 0) + (out or 0) + (inn or 0)
    return talker_rows(q, [(a, counts[a], sizes[a]) for a in top_keys(counts, q.limit)], len(rows) >= q.scan_limit,
                       side)


def top_keys(counts: Counter[Any], limit: int) -> list[Any]:
    """The ``limit`` keys with the highest counts, ties by key (as ORDER BY count DESC, key)."""
    return [k for k, _n in heapq.nsmallest(limit, counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def ranked_counts(counts: dict[Any, int], limit: int) -> list[tuple[Any, ...]]:
    # None sorts first among equal counts, as NULL does in ascending order on SQLite and MariaDB
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is not None, kv[0] or 0))[:limit]
