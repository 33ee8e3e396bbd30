"""``netwarden events``: the stored events, filtered, as a table, JSON lines or CSV."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from netwarden.commands.shared.context import Context, checked, parse_when
from netwarden.commands.shared.csv_output import csv_options, write_driver_csv
from netwarden.commands.shared.options import event_range_options
from netwarden.commands.shared.terminal import answered_without_table, endpoint, err, list_table, out, safe


@click.command()
@event_range_options
@click.option("--status", type=click.IntRange(100, 999), help="HTTP status.")
@click.option("--text", "text_", metavar="TEXT", help="Free text in the raw line, message, URL, agent or user.")
@click.option("--label", metavar="LABEL", help="Ground-truth label (flow datasets).")
@click.option("--limit", "-n", type=click.IntRange(1, 1_000_000), help="At most N events (default: 50; all with --csv).")
@click.option("--oldest-first", is_flag=True, help="Oldest first (default: newest first).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines in NetWarden's event shape.")
@csv_options
@click.pass_obj
def events(obj: Context, since: str | None, until: str | None, src: str | None, dst: str | None,
           addr: str | None, port: int | None, kind: str | None, status: int | None, text_: str | None,
           label: str | None, limit: int | None, oldest_first: bool, as_json: bool, as_csv: bool,
           bom: bool) -> None:
    """List stored events, newest first."""
    from netwarden.store.driver_rows import Plan
    from netwarden.store.events import EXPORT_COLUMNS, EventFilter, find_events, iter_events, row_to_event

    settings = obj.settings
    flt = EventFilter(since=parse_when(since, settings) if since else None,
                      until=parse_when(until, settings) if until else None,
                      src=src, dst=dst, address=addr, port=port, kind=kind, status=status, text=text_,
                      label=label)
    checked(flt)
    db = obj.database()
    if as_csv:
        with db.engine.connect() as conn:
            write_driver_csv(Plan.of(EXPORT_COLUMNS), iter_events(conn, flt, newest_first=not oldest_first,
                                                                   limit=limit), bom=bom)
        db.close()
        return
    with db.engine.connect() as conn:
        rows = find_events(conn, flt, limit=limit or 50, newest_first=not oldest_first)
    db.close()
    if answered_without_table(rows, as_json, lambda row: row_to_event(row).to_dict(), "no matching events",
                              console=err):
        return
    table = list_table("time (UTC)", "kind", "source", "destination", text="what")
    for row in rows:
        table.add_row(*(Text(safe(v)) for v in (  # Text: log values are never read as markup
            row["timestamp"].strftime("%Y-%m-%d %H:%M:%S"), row["source_kind"], _source(row),
            endpoint(row["dst_ip"], row["dst_port"]),
            _summary(row))))
    out.print(table)


_MESSAGE_FIRST = ("auth", "syslog")  # their message says what happened; a firewall's repeats the columns


def _source(row: dict[str, Any]) -> str:
    """The client address; for a line that names none (a PAM session line), the host that logged it."""
    if row["src_ip"] is None and row["src_port"] is None and row["observer"]:
        return f"on {row['observer']}"
    return endpoint(row["src_ip"], row["src_port"])


def _summary(row: dict[str, Any]) -> str:
    parts = []
    if row["message"] and row["source_kind"] in _MESSAGE_FIRST:  # what sshd said, then the fields read from it
        parts.append(row["message"])
    if row["http_method"] or row["url"]:
        parts.append(f"{row['http_method'] or ''} {row['url'] or ''} {row['http_status'] or ''}".strip())
    elif row["http_status"]:
        parts.append(str(row["http_status"]))
    if row["transport"] and not row["url"]:
        parts.append(row["transport"])
    for key in ("action", "user", "outcome", "tcp_flags", "label"):
        if row[key]:
            parts.append(f"{key}={row[key]}")
    if row["bytes_out"] or row["bytes_in"]:
        parts.append(f"bytes {row['bytes_out'] or 0}/{row['bytes_in'] or 0}")
    if row["user_agent"]:
        parts.append(f"ua={row['user_agent']}")
    if row["message"] and not parts:
        parts.append(row["message"])
    text = "  ".join(parts)
    return text if len(text) <= 200 else text[:197] + "..."
