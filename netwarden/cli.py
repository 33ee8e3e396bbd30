"""The ``netwarden`` command."""

from __future__ import annotations

import re
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from netwarden import __version__
from netwarden.commands._export import csv_options, write_csv, write_driver_csv
from netwarden.config import ConfigError, Settings, load_settings
from netwarden.text import plural

_TRAILING_SPACE = re.compile(r"[ \t]+(?=\n|$)")


class _Console(Console):
    """Rich pads table cells to the column width; piped into a file, lines end without trailing spaces."""

    def _render_buffer(self, buffer):  # type: ignore[no-untyped-def]
        text = super()._render_buffer(buffer)
        return text if self.is_terminal else _TRAILING_SPACE.sub("", text)


out = _Console(highlight=False, soft_wrap=True)
if not out.is_terminal:
    out.width = 200  # piped into a file or pager: keep table rows on one line
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one error, one line

# Log values are attacker-controlled: a user agent carrying ESC[2J must not drive the terminal
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(value: Any) -> str:
    """Text fit for a terminal: control, bidi-override and line-separator characters escaped."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                        else f"\\u{ord(m.group()):04x}", text)


def json_line(value: Any) -> str:
    """One JSON object and a newline, fit for a terminal: the characters ``safe`` escapes are written as
    ``\\uXXXX`` (JSON allows it; a JSON reader gets the original text back)."""
    text = orjson.dumps(value, default=str).decode()
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def plain_table(*columns: str) -> Table:
    """The CLI's one table style: no boxes, bold headers (rows stay easy to grep and cut)."""
    return Table(*columns, show_edge=False, pad_edge=False, box=None, header_style="bold")


def error(message: str) -> None:
    """One error line on standard error, after what standard output already holds (both may go to one pipe)."""
    out.file.flush()
    err.print(Text(f"netwarden: error: {safe(message)}", style="red"))


def fail(message: str, code: int = 1) -> None:
    error(message)
    sys.exit(code)


class Context:
    def __init__(self, config: str | None, db_url: str | None) -> None:
        self._config = config
        self._db_url = db_url
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self._config)
            except ConfigError as exc:
                fail(str(exc), 2)
            if self._db_url:
                self._settings.database.url = self._db_url  # type: ignore[union-attr]
        return self._settings  # type: ignore[return-value]

    def pipeline(self, db, *, detect: bool = True, **overrides):  # type: ignore[no-untyped-def]
        """The configured pipeline (parse, detect, store) on ``db``; a wrong setting is a clean error."""
        from netwarden.detect.base import SettingsError
        from netwarden.pipeline import Pipeline

        try:
            return Pipeline.from_settings(db, self.settings, detect=detect, **overrides)
        except SettingsError as exc:
            fail(str(exc), 2)

    def database(self):  # type: ignore[no-untyped-def]
        from netwarden.store.database import Database, DatabaseError

        try:
            return Database.open(self.settings.database.url)
        except DatabaseError as exc:
            fail(str(exc), 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="netwarden")
@click.option("--config", "config", metavar="PATH", help="TOML settings file (default: ./netwarden.toml).")
@click.option("--db", "db_url", metavar="URL", envvar="NETWARDEN_DATABASE_URL", show_envvar=True,
              help="Database URL: sqlite:///netwarden.db (default), mysql://..., postgresql://...")
@click.pass_context
def cli(ctx: click.Context, config: str | None, db_url: str | None) -> None:
    """NetWarden: watch your network's logs and flows for attacks."""
    ctx.obj = Context(config, db_url)


# -- ingest -------------------------------------------------------------------------------------

@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "-f", "fmt", default="auto", show_default=True, metavar="NAME",
              help="Input format, or auto to recognise it (see `netwarden formats`).")
@click.option("--db", "db_url", metavar="URL", help="Database URL (overrides settings).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option("--detect/--no-detect", default=True, show_default=True, help="Run the detectors on what is read.")
@click.pass_obj
def ingest(obj: Context, paths: tuple[str, ...], fmt: str, db_url: str | None, progress: bool | None,
           detect: bool) -> None:
    """Read log files (plain or .gz; - for standard input) into the store.

    Importing the same content again stores nothing twice; a file that grew is read from where the
    last import stopped. Lines that cannot be parsed are quarantined with their reason.
    """
    from netwarden.parse import UnknownFormat, get_parser
    from netwarden.pipeline import InputError

    if db_url:
        obj._db_url = db_url
    if fmt not in ("auto", "pcap", "pcapng"):  # captures are recognised by their magic bytes
        try:
            get_parser(fmt)
        except UnknownFormat as exc:
            fail(str(exc), 2)
    elif "-" in paths:
        fail("reading standard input needs --format NAME", 2)
    db = obj.database()
    pipeline = obj.pipeline(db, detect=detect)
    if pipeline.response is not None:
        pipeline.response.responder.log_refusals = False  # one summary line at the end, not one per alert
    show_progress = err.is_terminal if progress is None else progress
    failures = 0
    results = []
    try:
        for path in paths:
            try:
                if path == "-":  # bytes, as a file is read: bad UTF-8 escaped, max_line_bytes honoured
                    result = pipeline.ingest_stream(sys.stdin.buffer, fmt, source="stdin")
                else:
                    result = _ingest_one(pipeline, path, fmt, show_progress)
            except (InputError, UnknownFormat) as exc:
                error(str(exc))
                failures += 1
                continue
            results.append(result)
            _print_summary(result)
            out.file.flush()
        if len(results) > 1:
            _print_total(results)
        if pipeline.engine is not None and results:  # nothing read: no detection to speak of
            _print_alerts(pipeline.engine)
        if pipeline.response is not None:
            _print_refusals(pipeline.response.responder)
    finally:  # whatever happened, what the detectors learnt so far is saved
        pipeline.close()
        db.close()
    if failures:
        sys.exit(1)


def _ingest_one(pipeline, path: str, fmt: str, show_progress: bool):  # type: ignore[no-untyped-def]
    if not show_progress:
        return pipeline.ingest_file(path, fmt)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(safe(Path(path).name), total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return pipeline.ingest_file(path, fmt, progress=advance)


def _print_summary(r) -> None:  # type: ignore[no-untyped-def]
    head = Text.assemble((safe(r.source), "bold"), f"  [{r.format}]")
    out.print(head)
    if r.already_done:
        out.print("  already ingested: nothing new since the last import")
        return
    if r.unit == "packets":
        _print_capture_summary(r)
        return
    if r.resumed_at_line:
        out.print(f"  resumed after line {r.resumed_at_line:,} (stored by an earlier import)")
    out.print(f"  lines read        {r.lines:>12,}")
    out.print(f"  events stored     {r.events:>12,}")
    if r.skipped:
        out.print(f"  headers/blank     {r.skipped:>12,}")
    out.print(f"  quarantined       {r.quarantined_total:>12,}")
    for reason, count in r.quarantined.most_common():
        out.print(f"    {safe(reason):<16}{count:>12,}")
    if r.bad_utf8:
        out.print(f"  invalid UTF-8     {r.bad_utf8:>12,}  (kept, bad bytes escaped)")
    out.print(f"  time              {r.seconds:>11.2f}s  ({r.events_per_second:,.0f} events/s)")


def _print_capture_summary(r) -> None:  # type: ignore[no-untyped-def]
    c = r.capture or {}
    if r.resumed_at_line:
        out.print(f"  resumed after packet {r.resumed_at_line:,} (stored by an earlier import)")
    out.print(f"  packets read      {r.lines:>12,}")
    out.print(f"  flows             {c.get('flows', 0):>12,}")
    out.print(f"  events stored     {r.events:>12,}  (flows and HTTP requests)")
    for key, label in (("fragments", "IP fragments"), ("non_ip", "not IP"), ("truncated", "cut by snaplen"),
                       ("evicted", "flows evicted")):
        if c.get(key):
            out.print(f"  {label:<18}{c[key]:>12,}")
    for reason, count in sorted((c.get("skipped") or {}).items(), key=lambda kv: -kv[1]):
        out.print(f"  skipped {safe(reason):<22}{count:>8,}")
    if c.get("stopped"):
        out.print(Text(f"  capture unreadable from here on: {safe(c['stopped'])}", style="yellow"))
    rate = r.lines / r.seconds if r.seconds > 0 else 0.0
    out.print(f"  time              {r.seconds:>11.2f}s  ({rate:,.0f} packets/s)")


def _print_total(results: list) -> None:
    seconds = sum(r.seconds for r in results)
    events = sum(r.events for r in results)
    quarantined: Counter = Counter()
    for r in results:
        quarantined.update(r.quarantined)
    out.print(Text("total", style="bold"))
    out.print(f"  files {len(results):,}, lines {sum(r.lines for r in results):,}, events {events:,}, "
              f"quarantined {sum(quarantined.values()):,}, {events / seconds if seconds else 0:,.0f} events/s")


def _print_alerts(engine) -> None:  # type: ignore[no-untyped-def]
    stats = engine.stats
    out.print(Text("detection", style="bold"))
    out.print(f"  alerts            {stats.alerts_new:>12,} new, {plural(stats.alerts_updated, 'update')}"
              + (f", {stats.suppressed:,} suppressed (false positives)" if stats.suppressed else ""))
    for alert in sorted(engine.alerts, key=lambda a: (-a.severity.rank, -a.confidence))[:10]:
        out.print(Text(f"    #{alert.id or '-'} {alert.severity:<8} {alert.confidence:.2f}  "
                       f"{safe(alert.kind)}/{safe(alert.subkind)}  {safe(alert.source or '-')}  "
                       f"{safe(alert.factors[0].detail if alert.factors else '')}"))
    if len(engine.alerts) > 10:
        out.print("    ... see `netwarden alerts`")
    for detector in engine.detectors:
        for ref, batches in sorted(getattr(detector, "model_failures", {}).items()):
            err.print(Text(f"  model {safe(ref)} failed on {batches:,} batch{'es' if batches != 1 else ''} and "
                           "raised no alerts (see the log; `netwarden model deactivate` it)", style="red"))


def _print_refusals(responder) -> None:  # type: ignore[no-untyped-def]
    if not responder.refusals:
        return
    causes = ", ".join(f"{cause} {count:,} ({plural(len(responder.refused_networks.get(cause, ())), 'network')})"
                       for cause, count in responder.refusals.most_common())
    out.print(f"  blocks refused    {sum(responder.refusals.values()):>12,}  {causes}; "
              "see `netwarden block list --refused`")


# -- events -------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdwy])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_when(value: str, settings: Settings) -> datetime:
    """``30m``/``2h``/``7d``/``2w``/``1y`` ago (a year is 365 days), or an ISO date/time (local zone when it
    has none)."""
    m = _RELATIVE.match(value.strip())
    if m:
        try:
            return datetime.now(timezone.utc) - timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
        except OverflowError:
            raise click.BadParameter(f"{value!r} reaches back before the calendar starts") from None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: use a relative time like 30m, 2h, 7d, 2w, 1y, or an ISO time "
                                 "like 2026-11-21T08:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=settings.local_tz())
    return when.astimezone(timezone.utc)


@cli.command()
@click.option("--since", metavar="WHEN", help="From (30m, 2h, 7d, 2w, 1y, or ISO time).")
@click.option("--until", metavar="WHEN", help="Until (exclusive).")
@click.option("--src", metavar="ADDR|NET", help="Source address or network (10.0.0.0/8).")
@click.option("--dst", metavar="ADDR|NET", help="Destination address or network.")
@click.option("--addr", metavar="ADDR|NET", help="Either side.")
@click.option("--port", type=click.IntRange(0, 65535), help="Source or destination port.")
@click.option("--kind", metavar="KIND", help="Source kind: access_log, auth, firewall, zeek ...")
@click.option("--status", type=click.IntRange(100, 999), help="HTTP status.")
@click.option("--text", "text_", metavar="TEXT", help="Free text in the raw line, message, URL, agent or user.")
@click.option("--label", metavar="LABEL", help="Ground-truth label (flow datasets).")
@click.option("--limit", "-n", type=click.IntRange(1, 1_000_000), help="At most N events (default: 50; all with --csv).")
@click.option("--oldest-first", is_flag=True, help="Oldest first (default: newest first).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines in NetWarden's event shape.")
@csv_options
@click.pass_obj
def events(obj: Context, since, until, src, dst, addr, port, kind, status, text_, label, limit,  # type: ignore[no-untyped-def]
           oldest_first, as_json, as_csv, bom) -> None:
    """List stored events, newest first."""
    from netwarden.report.export import Plan
    from netwarden.store.events import EXPORT_COLUMNS, EventFilter, find_events, iter_events, row_to_event

    settings = obj.settings
    flt = EventFilter(since=parse_when(since, settings) if since else None,
                      until=parse_when(until, settings) if until else None,
                      src=src, dst=dst, address=addr, port=port, kind=kind, status=status, text=text_,
                      label=label)
    try:
        flt.clauses()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
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
    if as_json:
        for row in rows:
            sys.stdout.write(json_line(row_to_event(row).to_dict()))
        return
    if not rows:
        err.print("no matching events")
        return
    table = plain_table()
    for column in ("time (UTC)", "kind", "source", "destination"):
        table.add_column(column, no_wrap=True)
    table.add_column("what", overflow="fold")
    for row in rows:
        table.add_row(*(Text(safe(v)) for v in (  # Text: log values are never read as markup
            row["timestamp"].strftime("%Y-%m-%d %H:%M:%S"), row["source_kind"], _source(row),
            _endpoint(row["dst_ip"], row["dst_port"]),
            _summary(row))))
    out.print(table)


def _endpoint(ip: str | None, port: int | None) -> str:
    if ip is None:
        return "" if port is None else f":{port}"
    if port is None:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


_MESSAGE_FIRST = ("auth", "syslog")  # their message says what happened; a firewall's repeats the columns


def _source(row: dict[str, Any]) -> str:
    """The client address; for a line that names none (a PAM session line), the host that logged it."""
    if row["src_ip"] is None and row["src_port"] is None and row["observer"]:
        return f"on {row['observer']}"
    return _endpoint(row["src_ip"], row["src_port"])


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


# -- formats, quarantine, retention, status -----------------------------------------------------

@cli.command()
def formats() -> None:
    """List the input formats with an example line each."""
    from netwarden.parse import parsers
    from netwarden.parse._messages import message_parsers

    for name, cls in parsers().items():
        out.print(Text.assemble((name, "bold cyan"), "  ", safe(cls.description)))
        out.print(Text("  " + safe(cls.example)))
    out.print(Text.assemble(("pcap", "bold cyan"), "  ", "packet captures: libpcap .pcap (micro/nanosecond, both byte "
                            "orders) and .pcapng, plain or .gz, recognised by content; packets become flows "
                            "(and HTTP requests, DNS queries)"))
    out.print(Text("  tcpdump -i eth0 -w capture.pcap; netwarden ingest capture.pcap"))
    messages = message_parsers()
    if messages:
        out.print(Text("\ninside syslog messages (recognised automatically):", style="bold"))
        for name, parser in messages.items():
            out.print(Text.assemble(("  " + name, "cyan"), "  ", safe(getattr(parser, "description", ""))))


@cli.command()
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


@cli.command()
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


@cli.command()
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


def _set_global(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    obj = ctx.find_object(Context)
    if value is not None and obj is not None:
        if param.name == "db_url":
            obj._db_url = value
        else:
            obj._config = value


def _with_global_options(group: click.Group) -> None:
    """``--db`` and ``--config`` also after every command's name (``netwarden events --db URL``), as before it."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _with_global_options(command)
            continue
        names = {p.name for p in command.params}
        # a command's own --config (backtest: the candidate settings) keeps its meaning there
        opts = {o for p in command.params for o in getattr(p, "opts", [])}
        if "db_url" not in names and "--db" not in opts:
            command.params.append(click.Option(["--db", "db_url"], metavar="URL", expose_value=False,
                                               callback=_set_global, help="Database URL (overrides settings)."))
        if "config" not in names and "--config" not in opts:
            command.params.append(click.Option(["--config", "config"], metavar="PATH", expose_value=False,
                                               callback=_set_global, help="TOML settings file."))


def main() -> None:
    try:
        cli(prog_name="netwarden")
    except ConfigError as exc:
        fail(str(exc), 2)


# The command groups in netwarden/commands/ attach themselves to `cli` (imported last: they import it)
from netwarden.commands import load_all as _load_commands  # noqa: E402

_load_commands()
_with_global_options(cli)

if __name__ == "__main__":
    main()
