"""``netwarden ingest``: read log files and captures into the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.summaries import print_detection, print_ingested, print_refusals, print_total
from netwarden.commands.shared.options import format_option, paths_argument
from netwarden.commands.shared.terminal import err, error, fail, out, safe

if TYPE_CHECKING:
    from netwarden.pipeline import IngestResult, Pipeline


@click.command()
@paths_argument
@format_option("Input format, or auto to recognise it (see `netwarden formats`).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option("--detect/--no-detect", default=True, show_default=True, help="Run the detectors on what is read.")
@click.pass_obj
def ingest(obj: Context, paths: tuple[str, ...], fmt: str, progress: bool | None,
           detect: bool) -> None:
    """Read log files (plain or .gz; - for standard input) into the store.

    Importing the same content again stores nothing twice; a file that grew is read from where the
    last import stopped. Lines that cannot be parsed are quarantined with their reason. With a [bus],
    the lines are published (each once) and the workers detect and store them.
    """
    from netwarden.parse import UnknownFormat, get_parser
    from netwarden.pipeline import InputError

    if fmt not in ("auto", "pcap", "pcapng"):  # captures are recognised by their magic bytes
        try:
            get_parser(fmt)
        except UnknownFormat as exc:
            fail(str(exc), 2)
    elif "-" in paths:
        fail("reading standard input needs --format NAME", 2)
    db = obj.database()
    # with a [bus]: parsed here and published, exactly once; the workers detect and store
    pipeline = obj.live_pipeline(db) if obj.settings.bus.url else obj.pipeline(db, detect=detect)
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
            print_ingested(result)
            if pipeline.publishes and not result.already_done:
                out.print("  published to the bus: the workers detect and store these events")
            out.file.flush()
        if len(results) > 1:
            print_total(results)
        if pipeline.engine is not None and results:  # nothing read: no detection to speak of
            print_detection(pipeline.engine)
        if pipeline.response is not None:
            print_refusals(pipeline.response.responder)
    finally:  # whatever happened, what the detectors learnt so far is saved
        pipeline.close()
        db.close()
    if failures:
        sys.exit(1)


def _ingest_one(pipeline: Pipeline, path: str, fmt: str, show_progress: bool) -> IngestResult:
    if not show_progress:
        return pipeline.ingest_file(path, fmt)
    # only here: rich's progress module costs ~60 ms of start-up, and scripts and services ingest without a bar
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(safe(Path(path).name), total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return pipeline.ingest_file(path, fmt, progress=advance)
