"""``netwarden capture``: capture an interface live, turning its packets into flows in the store."""

from __future__ import annotations

import time

import click
from rich.text import Text

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.running import stop_signals
from netwarden.commands.shared.terminal import err, fail, out, safe


@click.command()
@click.option("--interface", "-i", required=True, metavar="IFACE", help="Interface to capture (any: all).")
@click.option("--filter", "-f", "bpf", metavar="BPF", help="Capture filter, tcpdump syntax (\"not port 22\").")
@click.option("--active-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True, metavar="S",
              help="Report a flow that lasts longer every S seconds.")
@click.option("--idle-timeout", type=click.FloatRange(min=0.1), default=15.0, show_default=True, metavar="S",
              help="End a flow after S seconds without packets.")
@click.option("--max-flows", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="Flows kept at once; the oldest are reported early beyond this.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="Stop after S seconds (default: until Ctrl-C or SIGTERM).")
@click.pass_obj
def capture(obj: Context, interface: str, bpf: str | None, active_timeout: float, idle_timeout: float,
            max_flows: int, duration: float | None) -> None:
    """Capture packets on an interface and store them as flows, live (runs tcpdump; needs root or
    cap_net_raw). Flows are stored when they end, and every --active-timeout seconds while they last."""
    from netwarden.collect.capture import CaptureError, LiveCapture
    from netwarden.pipeline import LiveStream

    db = obj.database()
    pipeline = obj.live_pipeline(db)
    stream = LiveStream(pipeline, fmt=None, source=f"capture/{interface}", use_process=not pipeline.publishes)
    try:
        live = LiveCapture(stream, interface, bpf=bpf, active_timeout=active_timeout, idle_timeout=idle_timeout,
                           max_flows=max_flows)
        live.start()
    except (CaptureError, ValueError) as exc:
        stream.close()
        db.close()
        fail(str(exc), 1)
    with stop_signals() as done:
        err.print(Text(f"capturing on {safe(interface)}" + (f" ({safe(bpf)})" if bpf else "")
                       + "; Ctrl-C to stop"))
        started = time.monotonic()
        try:
            while not done.wait(0.2):
                if duration is not None and time.monotonic() - started >= duration:
                    break
                if not live.running:
                    break
        finally:
            live.stop()
            try:
                stream.close()
            finally:
                pipeline.close()  # saves detector state for the next start
                db.close()
    s = live.status()
    out.print(Text(f"capture/{safe(interface)}", style="bold"))
    out.print(f"  packets           {s.packets:>12,}")
    out.print(f"  flow records      {s.flow_records:>12,}")
    out.print(f"  events stored     {s.events:>12,}")
    if s.dropped_by_kernel:
        out.print(f"  dropped by kernel {s.dropped_by_kernel:>12,}")
    if s.not_delivered:
        out.print(f"  not stored (overload) {s.not_delivered:>8,}")
    if s.error:
        fail(s.error, 1)
