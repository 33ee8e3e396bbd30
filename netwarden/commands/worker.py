"""``netwarden worker`` and ``netwarden publish``: the scale-out on the bus configured in ``[bus]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.running import stop_signals
from netwarden.commands.shared.terminal import fail, out, safe

if TYPE_CHECKING:
    from netwarden.bus.redis_bus import RedisBus


def _bus(obj: Context) -> RedisBus:
    from netwarden.bus.redis_bus import BusError, RedisBus

    settings = obj.settings
    if not settings.bus.url:
        fail("no bus is configured: set [bus] url = \"redis://host:6379/0\" (or NETWARDEN_BUS_URL)", 2)
    try:
        bus = RedisBus(settings.bus)
    except BusError as exc:
        fail(str(exc), 2)
    problem = bus.ping()
    if problem:
        fail(problem, 2)
    return bus


@click.command()
@click.option("--name", default=None, help="This worker's name (default: host-pid-random; unique per process).")
@click.option("--metrics", "metrics_at", default="127.0.0.1:9108", show_default=True, metavar="HOST:PORT",
              help="Serve /metrics, /healthz and /readyz here (empty: not at all).")
@click.option("--seconds", type=click.FloatRange(min=0), default=None, help="Stop after this long (benchmarks).")
@click.pass_obj
def worker(obj: Context, name: str | None, metrics_at: str, seconds: float | None) -> None:
    """Read partitions of the bus, detect and store into the shared database, until Ctrl-C or SIGTERM.

    Start as many as the machines have cores; partitions move between workers as they come and go.
    """
    from netwarden.bus.http import serve_metrics
    from netwarden.bus.worker import Worker

    bus = _bus(obj)
    db = obj.database()
    if db.dialect == "sqlite":
        out.print("[yellow]note:[/yellow] workers share their database: use PostgreSQL or MariaDB beyond one machine")
    the_worker = Worker(obj.settings, db, bus, name=name)
    http = None
    if metrics_at:
        host, _, port = metrics_at.rpartition(":")
        try:
            http = serve_metrics(host.strip("[]") or "127.0.0.1", int(port))
        except (OSError, ValueError) as exc:
            fail(f"--metrics {safe(metrics_at)}: {exc}", 2)
        out.print(f"metrics: http://{safe(metrics_at)}/metrics")
    out.print(f"worker {safe(the_worker.name)}: {bus.partitions} partitions on {safe(bus.settings.url.split('@')[-1])}")
    out.file.flush()
    with stop_signals() as stop:
        the_worker.stop = stop
        the_worker.run(max_seconds=seconds)
    if http is not None:
        http.shutdown()
    db.close()
    out.print(f"stopped after {the_worker.batches} batches")


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "-f", "fmt", required=True, metavar="NAME", help="Input format (see `netwarden formats`).")
@click.pass_obj
def publish(obj: Context, paths: tuple[str, ...], fmt: str) -> None:
    """Parse log files here and publish them to the bus, for the workers to detect and store."""
    from netwarden.bus.produce import publish_file
    from netwarden.parse import UnknownFormat, get_parser
    from netwarden.pipeline import InputError, Pipeline

    try:
        get_parser(fmt)
    except UnknownFormat as exc:
        fail(str(exc), 2)
    bus = _bus(obj)
    settings = obj.settings
    pipeline = Pipeline(obj.database(), stages=(), max_line_bytes=settings.ingest.max_line_bytes,
                        local_tz=settings.local_tz())
    for path in paths:
        try:
            counts = publish_file(pipeline, bus, path, fmt)
        except InputError as exc:
            fail(str(exc))
        out.print(f"{safe(path)}: {counts.lines} lines, {counts.events} events parsed, "
                  f"{counts.quarantined_total} quarantined")
    if bus.dropped:
        fail(f"{bus.dropped} events dropped: the bus stayed full for [bus] max_wait seconds (are workers running?)")
