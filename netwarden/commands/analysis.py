"""``netwarden analysis``: one table of the analysis page (top talkers, ports, conversations ...) as CSV or JSON
lines: the same answer as ``GET /api/v1/analysis/VIEW?format=csv&table=NAME``."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import click

from netwarden.commands.shared.context import Context, parse_when
from netwarden.commands.shared.csv_output import csv_options, write_csv
from netwarden.commands.shared.options import event_range_options
from netwarden.commands.shared.terminal import fail, json_line

VIEWS = ("overview", "volume", "protocols", "talkers", "destinations", "conversations", "http")


@click.command()
@click.argument("view", type=click.Choice(VIEWS), default="overview")
@event_range_options
@click.option("--table", metavar="NAME", help="Which table of the answer (default: the first; a wrong name lists them).")
@click.option("--limit", "-n", type=click.IntRange(1, 100), default=10, show_default=True, help="Rows per list.")
@csv_options
@click.pass_obj
def analysis(obj: Context, view: str, since: str | None, until: str | None, src: str | None, dst: str | None,
             addr: str | None, port: int | None, kind: str | None, table: str | None, limit: int, as_csv: bool,
             bom: bool) -> None:
    """One table of the analysis page over the last hour unless --since (JSON lines, or CSV with --csv)."""
    from netwarden.store import analysis as store
    from netwarden.store.events import EventFilter
    from netwarden.web.api.analysis import pick_table

    settings = obj.settings
    end = parse_when(until, settings) if until else datetime.now(timezone.utc)
    try:
        q = store.Query(since=parse_when(since, settings) if since else end - timedelta(hours=1), until=end,
                        filter=EventFilter(address=addr, src=src, dst=dst, port=port, kind=kind), limit=limit)
        fn = {"overview": store.overview, "volume": store.volume, "protocols": store.protocols,
              "talkers": store.top_talkers, "destinations": store.top_destinations,
              "conversations": store.conversations, "http": store.http_mix}[view]
        _, columns, rows = pick_table(obj.in_database(lambda conn: fn(conn, q)), table)
    except (store.AnalysisError, ValueError) as exc:
        fail(str(exc), 2)
    if as_csv:
        write_csv(columns, rows, bom=bom)
        return
    for row in rows:
        sys.stdout.write(json_line(row))
