"""``netwarden follow``: tail growing log files into the store until Ctrl-C or SIGTERM."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click
from rich.text import Text

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.options import format_option, paths_argument, status_every_option
from netwarden.commands.shared.running import stop_signals
from netwarden.commands.shared.summaries import heading, print_line_counts
from netwarden.commands.shared.terminal import err, fail, out, safe

if TYPE_CHECKING:
    from netwarden.collect.follow import FileStats, Follower


@click.command()
@paths_argument
@format_option("Input format, or auto to recognise it per file (see `netwarden formats`).")
@click.option("--interval", default=0.25, show_default=True, type=click.FloatRange(0.01, 60),
              metavar="SECONDS", help="How often to look for new lines.")
@click.option("--rotate-grace", default=2.0, show_default=True, type=click.FloatRange(0, 3600),
              metavar="SECONDS", help="After a rotation, keep reading the old file until it is idle this long.")
@status_every_option(30.0)
@click.pass_obj
def follow(obj: Context, paths: tuple[str, ...], fmt: str, interval: float, rotate_grace: float,
           status_every: float) -> None:
    """Follow growing log files (like tail -F) and store each new line as it is written.

    Survives log rotation (rename and a new file, copytruncate, delete and re-create) and waits for
    files that do not exist yet. The position in each file is stored with its events, so a restart
    — even after a crash — goes on exactly where the last run stopped: no line is lost or stored
    twice, and `netwarden ingest` of the same file stores nothing twice either. If the file was
    rotated while NetWarden was down, the unread end of the old file is read first from its rotated
    copy beside it (PATH.1, PATH.1.gz, PATH-DATE). A last line still being written is stored once
    it is complete. With a [bus], each line is published once (its position is advanced after the
    bus accepted it) and the workers detect and store it.
    """
    from netwarden.collect.follow import Follower
    from netwarden.parse import UnknownFormat

    if "-" in paths:
        fail("follow reads files; for standard input use `netwarden ingest --format NAME -`", 2)
    db = obj.database()
    pipeline = obj.live_pipeline(db)  # with a [bus]: published (each line once), the workers store them

    def on_error(path: str, message: str) -> None:
        err.print(Text(f"netwarden: error: {safe(message)}", style="red"))

    try:
        follower = Follower(pipeline, paths, fmt, poll_interval=interval, rotate_grace=rotate_grace,
                            on_error=on_error)
    except UnknownFormat as exc:
        db.close()
        fail(str(exc), 2)
    out.print(f"following {len(follower.stats)} file{'s' if len(follower.stats) != 1 else ''} "
              f"{'onto the bus' if pipeline.publishes else 'into ' + safe(db.url_for_display)} (Ctrl-C to stop)")
    out.file.flush()

    with stop_signals() as stop:  # caught before the follower starts: a quick SIGTERM still stops in order
        started = time.monotonic()
        follower.start()
        try:
            while not stop.wait(status_every if status_every > 0 else 3600):
                out.print(safe(f"[{time.monotonic() - started:,.0f}s] " + "; ".join(
                    _status(s) for s in follower.stats.values())))
                out.file.flush()
        finally:
            follower.stop()
            pipeline.close()  # saves detector state for the next start
            db.close()
    _summary(follower, time.monotonic() - started)
    if any(s.state == "error" for s in follower.stats.values()):
        raise SystemExit(1)


def _status(s: FileStats) -> str:
    if s.state == "waiting" and not s.lines:
        return f"{s.path}: waiting for the file"
    if s.state == "error":
        return f"{s.path}: error ({s.last_error})"
    text = f"{s.path}: {s.lines:,} lines, {s.events:,} events, {s.quarantined_total:,} quarantined"
    if s.state != "following":
        text += f" ({s.state})"
    return text


def _summary(follower: Follower, seconds: float) -> None:
    out.print(f"stopped after {seconds:,.0f}s")
    for s in follower.stats.values():
        out.print(heading(s.path, s.format or "?"))
        print_line_counts(s, earlier="run")
        if s.rotations or s.truncations:
            out.print(f"  rotations         {s.rotations:>12,}  (copytruncate {s.truncations:,})")
        if s.recovered_lines:
            out.print(f"  from rotated copy {s.recovered_lines:>12,} lines, {s.recovered_events:,} events")
        if s.state == "error":
            out.print(f"  error: {safe(s.last_error)}")
        elif s.state == "waiting" and not s.lines:
            out.print("  the file never appeared")
    out.file.flush()
