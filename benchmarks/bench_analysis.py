"""Analysis queries on a large store: how long the analysis page's data takes for ranges of one hour,
one day and one week, with and without an address filter (raw events instead of rollups).

The store holds ``events`` synthetic flow and web events spread evenly over seven days (a site with
~2M events a week: 3 events/s), inserted with the production writer and rollups.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from netwarden.records import Event
from netwarden.store import analysis
from netwarden.store.database import Database
from netwarden.store.events import EventFilter, EventWriter
from netwarden.store.rollups import add_buckets, rollup_counts

END = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
DAYS = 7
PARTS = {"volume": analysis.volume, "protocols": analysis.protocols, "talkers": analysis.top_talkers,
         "destinations": analysis.top_destinations, "conversations": analysis.conversations, "http": analysis.http_mix}


def _events(n: int, seed: int = 1):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    hosts = [f"10.20.{i // 250}.{i % 250 + 1}" for i in range(600)]
    outside = [f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
               for _ in range(20_000)]
    span = DAYS * 86400
    start = END - timedelta(seconds=span)
    for i in range(n):
        ts = start + timedelta(seconds=span * i / n)
        if rng.random() < 0.3:
            yield Event(timestamp=ts, source_kind="access_log", src_ip=rng.choice(outside), dst_ip="10.20.0.10",
                        dst_port=443, transport="tcp", http_method=rng.choice(("GET", "GET", "GET", "POST")),
                        http_status=rng.choice((200, 200, 200, 304, 404)), url="/", bytes_in=rng.randint(200, 90_000))
        else:
            port = rng.choice((443, 443, 443, 80, 53, 993, 22, 123))
            yield Event(timestamp=ts, source_kind="netflow", src_ip=rng.choice(hosts), dst_ip=rng.choice(outside),
                        src_port=rng.randint(32768, 60999), dst_port=port, transport="udp" if port in (53, 123) else "tcp",
                        bytes_out=rng.randint(60, 20_000), packets_out=rng.randint(1, 40))


def fill(db: Database, n: int, log: Callable[[str], None]) -> float:
    writer = EventWriter(db.engine.dialect)
    started = time.perf_counter()
    batch: list[Event] = []
    for event in _events(n):
        batch.append(event)
        if len(batch) == 20_000:
            _store(db, writer, batch)
            batch = []
    if batch:
        _store(db, writer, batch)
    seconds = time.perf_counter() - started
    log(f"  stored {n:,} events in {seconds:.0f} s")
    return seconds


def _store(db: Database, writer: EventWriter, batch: list[Event]) -> None:
    with db.engine.begin() as conn:
        writer.insert(conn, writer.rows(batch, None, [None] * len(batch)))
        add_buckets(conn, rollup_counts(batch))


def _time(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        log: Callable[[str], None] = print) -> list[dict]:
    n = 200_000 if quick else 2_000_000
    reps = reps or 3
    rows = []
    with tempfile.TemporaryDirectory(prefix="nw-bench-analysis-") as tmp:
        db = Database.open(f"sqlite:///{Path(tmp) / 'analysis.db'}")
        try:
            fill(db, n, log)
            for label, hours in (("1 hour", 1), ("1 day", 24), ("7 days", 24 * DAYS)):
                for filtered in (False, True):
                    flt = EventFilter(address="10.20.0.0/16") if filtered else None
                    q = analysis.Query(since=END - timedelta(hours=hours), until=END, filter=flt)
                    if only and only not in label:
                        continue
                    with db.engine.connect() as conn:
                        parts = {name: _time(lambda f=fn, q=q: f(conn, q), reps) for name, fn in PARTS.items()}
                        page = _time(lambda q=q: analysis.overview(conn, q), reps)
                    row = {"events": n, "range": label, "filter": "address 10.20.0.0/16" if filtered else "none",
                           "parts": parts, "total": page}
                    log(f"  {label:>7} filter={row['filter']}: page {page:.0f} ms "
                        + " ".join(f"{k}={v:.0f}" for k, v in parts.items()))
                    rows.append(row)
        finally:
            db.close()
    return rows


def markdown(rows: list[dict], *, quick: bool = False) -> str:
    if not rows:
        return "## Analysis queries\n\nNot measured.\n"
    out = ["## Analysis queries\n",
           (f"The analysis page's data (`netwarden.store.analysis`) on SQLite holding {rows[0]['events']:,} events over "
           f"{DAYS} days (70% flows, 30% web requests), median of the runs, in milliseconds. Without a filter, "
           "traffic over time and the protocol/port mix read the per-minute rollups; the lists read at most the "
           f"newest {analysis.DEFAULT_SCAN_LIMIT:,} events of the range (the page says so when the cap is reached). "
           "With an address filter, everything reads raw events through the address index. *Page* is "
           "`overview()`, what `/api/v1/analysis` returns: the four lists from one read of the events instead "
           "of the four single queries in the other columns.\n"),
           "| range | filter | volume | protocols | talkers | destinations | conversations | http | page |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p = r["parts"]
        out.append(f"| {r['range']} | {r['filter']} | {p['volume']:.0f} | {p['protocols']:.0f} | {p['talkers']:.0f} | "
                   f"{p['destinations']:.0f} | {p['conversations']:.0f} | {p['http']:.0f} | {r['total']:.0f} |")
    return "\n".join(out) + "\n"
