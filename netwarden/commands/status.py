"""``netwarden status``, ``quarantine``, ``retention``: what the store holds, what it set aside, what it keeps."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.text import Text

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.csv_output import csv_options, write_csv
from netwarden.commands.shared.terminal import out, safe
from netwarden.text import plural

if TYPE_CHECKING:
    from netwarden.bus.settings import BusSettings


@click.command()
@click.pass_obj
def status(obj: Context) -> None:
    """Where the store is, its schema version, and what it holds."""
    from netwarden.store import sources
    from netwarden.store.retention import count
    from netwarden.store.schema import events as events_table
    from netwarden.store.schema import quarantine as quarantine_table

    db = obj.database()
    out.print(f"settings     {safe(obj.settings.source)}")
    out.print(f"database     {safe(db.url_for_display)}")
    out.print(f"schema       {db.schema_version()} (newest {db.newest_version()})")
    out.print(f"events       {count(db, events_table):,}")
    out.print(f"quarantined  {count(db, quarantine_table):,}")
    with db.engine.connect() as conn:
        inputs = sources.all_sources(conn)
    db.close()
    if inputs:
        out.print(Text("inputs", style="bold"))
        for s in inputs:
            state = "complete" if s["complete"] else "partial"
            unit = "packet" if s["kind"] == "pcap" else "line"  # a capture's bookkeeping counts packets
            out.print(Text(f"  {safe(s['name'])}  [{s['format']}]  {plural(s['lines'], unit)}, "
                           f"{plural(s['events'], 'event')}, {s['quarantined']:,} quarantined, {state}"))
    if obj.settings.bus.url:
        _bus_status(obj.settings.bus)


def _bus_status(settings: BusSettings) -> None:
    """Workers, what waits to be stored, and what producers dropped because the bus stayed full."""
    from netwarden.bus.redis_bus import RedisBus

    out.print(Text("bus", style="bold"))
    bus = RedisBus(settings)
    try:
        problem = bus.ping()
        if problem:
            out.print(Text(f"  cannot be reached: {problem}"))
            return
        backlog = [bus.backlog(p) for p in range(bus.partitions)]
        workers = bus.live_workers()
        dropped = bus.dropped_by_source()
    finally:
        bus.close()
    out.print(Text(f"  {settings.url.split('@')[-1]}  {plural(len(workers), 'worker')} alive, "
                   f"{plural(len(backlog), 'partition')}"))
    out.print(f"  backlog      {plural(sum(backlog), 'batch', 'batches')} not yet stored "
              f"(largest partition {max(backlog):,})")
    out.print(f"  dropped      {sum(dropped.values()):,} (events and quarantined lines: the bus stayed full)")
    for source, n in sorted(dropped.items(), key=lambda kv: -kv[1])[:20]:
        out.print(Text(f"    {safe(source)}  {n:,}"))


@click.command()
@click.option("--limit", "-n", type=click.IntRange(1, 100_000), help="At most N lines (default: 20; all with --csv).")
@click.option("--reason", metavar="REASON", help="Only this reason (see the counts).")
@csv_options
@click.pass_obj
def quarantine(obj: Context, limit: int | None, reason: str | None, as_csv: bool, bom: bool) -> None:
    """Show quarantined input lines and counts per reason."""
    from netwarden.store import quarantine as q

    db = obj.database()
    if as_csv:
        with db.engine.connect() as conn:
            write_csv(q.EXPORT_COLUMNS, q.iter_recent(conn, reason=reason, limit=limit), bom=bom)
        db.close()
        return
    with db.engine.connect() as conn:
        counts = q.counts_by_reason(conn)
        rows = q.recent(conn, limit or 20, reason=reason)
    db.close()
    if not counts:
        out.print("nothing quarantined")
        return
    for name, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        out.print(f"{safe(name):<20}{count:>12,}")
    for row in rows:
        out.print(Text(f"\n{safe(row['source'])}:{row['line_no']}  [{safe(row['format'])}] "
                       f"{safe(row['reason'])}: {safe(row['detail'])}", style="bold"))
        raw = safe(row["raw"])
        out.print(Text("  " + (raw if len(raw) <= 300 else raw[:300] + f"... ({row['raw_length']:,} bytes)")))


@click.command()
@click.option("--keep-days", type=click.FloatRange(min=0, min_open=True), metavar="N",
              help="Keep raw events of the last N days (default: the retention.keep_days setting).")
@click.pass_obj
def retention(obj: Context, keep_days: float | None) -> None:
    """Delete raw events and quarantined lines older than N days; per-minute rollups are kept."""
    from netwarden.store.retention import apply_retention

    days = keep_days if keep_days is not None else obj.settings.retention.keep_days
    db = obj.database()
    result = apply_retention(db, days)
    db.close()
    out.print(f"deleted {plural(result.events_deleted, 'event')} and "
              f"{plural(result.quarantine_deleted, 'quarantined line')} "
              f"older than {result.cutoff:%Y-%m-%d %H:%M} UTC; rollups kept")
