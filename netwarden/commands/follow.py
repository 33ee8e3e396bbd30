"""``netwarden follow``: tail growing log files into the store until Ctrl-C or SIGTERM."""

from __future__ import annotations

import click

from netwarden.cli import cli


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "-f", "fmt", default="auto", show_default=True, metavar="NAME",
              help="Input format, or auto to recognise it per file (see `netwarden formats`).")
@click.option("--db", "db_url", metavar="URL", help="Database URL (overrides settings).")
@click.option("--interval", default=0.25, show_default=True, type=click.FloatRange(0.01, 60),
              metavar="SECONDS", help="How often to look for new lines.")
@click.option("--rotate-grace", default=2.0, show_default=True, type=click.FloatRange(0, 3600),
              metavar="SECONDS", help="After a rotation, keep reading the old file until it is idle this long.")
@click.option("--status-every", default=30.0, show_default=True, type=click.FloatRange(min=0),
              metavar="SECONDS", help="Print a status line this often (0: never).")
@click.pass_obj
def follow(obj, paths, fmt, db_url, interval, rotate_grace, status_every) -> None:  # type: ignore[no-untyped-def]
    """Follow growing log files (like tail -F) and store each new line as it is written.

    Survives log rotation (rename and a new file, copytruncate, delete and re-create) and waits for
    files that do not exist yet. The position in each file is stored with its events, so a restart
    — even after a crash — goes on exactly where the last run stopped: no line is lost or stored
    twice, and `netwarden ingest` of the same file stores nothing twice either. If the file was
    rotated while NetWarden was down, the unread end of the old file is read first from its rotated
    copy beside it (PATH.1, PATH.1.gz, PATH-DATE). A last line still being written is stored once
    it is complete.
    """
    import signal
    import threading
    import time

    from rich.text import Text

    from netwarden.cli import err, fail, out, safe
    from netwarden.collect.follow import Follower
    from netwarden.parse import UnknownFormat

    if "-" in paths:
        fail("follow reads files; for standard input use `netwarden ingest --format NAME -`", 2)
    if db_url:
        obj._db_url = db_url
    db = obj.database()
    pipeline = obj.pipeline(db)

    def on_error(path: str, message: str) -> None:
        err.print(Text(f"netwarden: error: {safe(message)}", style="red"))

    try:
        follower = Follower(pipeline, paths, fmt, poll_interval=interval, rotate_grace=rotate_grace,
                            on_error=on_error)
    except UnknownFormat as exc:
        db.close()
        fail(str(exc), 2)
    out.print(f"following {len(follower.stats)} file{'s' if len(follower.stats) != 1 else ''} "
              f"into {safe(db.url_for_display)} (Ctrl-C to stop)")
    out.file.flush()

    stop = threading.Event()
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda *_: stop.set())
    started = time.monotonic()
    follower.start()
    try:
        while not stop.wait(status_every if status_every > 0 else 3600):
            out.print(safe(f"[{time.monotonic() - started:,.0f}s] " + "; ".join(
                _status(s) for s in follower.stats.values())))
            out.file.flush()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        follower.stop()
        pipeline.close()  # saves detector state for the next start
        db.close()
    _summary(follower, out, safe, time.monotonic() - started)
    if any(s.state == "error" for s in follower.stats.values()):
        raise SystemExit(1)


def _status(s) -> str:  # type: ignore[no-untyped-def]
    if s.state == "waiting" and not s.lines:
        return f"{s.path}: waiting for the file"
    if s.state == "error":
        return f"{s.path}: error ({s.last_error})"
    text = f"{s.path}: {s.lines:,} lines, {s.events:,} events, {s.quarantined_total:,} quarantined"
    if s.state != "following":
        text += f" ({s.state})"
    return text


def _summary(follower, out, safe, seconds: float) -> None:  # type: ignore[no-untyped-def]
    out.print(f"stopped after {seconds:,.0f}s")
    for s in follower.stats.values():
        out.print(_heading(safe(s.path), s.format))
        if s.resumed_at_line:
            out.print(f"  resumed after line {s.resumed_at_line:,} (stored by an earlier run)")
        out.print(f"  lines read        {s.lines:>12,}")
        out.print(f"  events stored     {s.events:>12,}")
        if s.skipped:
            out.print(f"  headers/blank     {s.skipped:>12,}")
        out.print(f"  quarantined       {s.quarantined_total:>12,}")
        for reason, count in s.quarantined.most_common():
            out.print(f"    {safe(reason):<16}{count:>12,}")
        if s.bad_utf8:
            out.print(f"  invalid UTF-8     {s.bad_utf8:>12,}  (kept, bad bytes escaped)")
        if s.rotations or s.truncations:
            out.print(f"  rotations         {s.rotations:>12,}  (copytruncate {s.truncations:,})")
        if s.recovered_lines:
            out.print(f"  from rotated copy {s.recovered_lines:>12,} lines, {s.recovered_events:,} events")
        if s.state == "error":
            out.print(f"  error: {safe(s.last_error)}")
        elif s.state == "waiting" and not s.lines:
            out.print("  the file never appeared")
    out.file.flush()


def _heading(path: str, fmt: str | None):  # type: ignore[no-untyped-def]
    from rich.text import Text

    return Text.assemble((path, "bold"), f"  [{fmt or '?'}]")
