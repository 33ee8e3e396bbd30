"""``netwarden listen netflow``: receive NetFlow v5/v9 and IPFIX from routers and exporters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.options import status_every_option
from netwarden.commands.shared.running import run_until_stopped
from netwarden.commands.shared.terminal import endpoint, fail, out, safe

if TYPE_CHECKING:
    from netwarden.collect.netflow import NetflowListener


@click.command("netflow")
@click.option("--udp", "udp", multiple=True, metavar="HOST:PORT",
              help="Receive NetFlow/IPFIX here (repeatable; [::1]:2055 for IPv6, :4739 for every address). "
                   "Default: UDP 2055 and 4739 on every address.")
@status_every_option(10.0)
@click.pass_obj
def listen_netflow(obj: Context, udp: tuple[str, ...], status_every: float) -> None:
    """Receive flow records until Ctrl-C; each record is stored as a netflow event, the exporter its observer.

    Templates are tracked per exporter and source id / observation domain. Bad datagrams, templates and
    records are counted per exporter with their reason; a status line per exporter is printed
    periodically, and a summary at the end.
    """
    from netwarden.collect.netflow import DEFAULT_PORT, IPFIX_PORT, NetflowListener
    from netwarden.endpoints import parse_address
    from netwarden.pipeline import LiveStream

    try:
        addresses = [parse_address(v, DEFAULT_PORT) for v in udp] or [("", DEFAULT_PORT), ("", IPFIX_PORT)]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--udp") from None
    db = obj.database()
    pipeline = obj.live_pipeline(db)
    stream = LiveStream(pipeline, fmt=None, source="netflow", use_process=not pipeline.publishes)
    listener = NetflowListener(stream, addresses)
    try:
        listener.start()
    except OSError as exc:
        stream.close()
        db.close()
        fail(f"cannot listen: {exc}", 2)
    for host, port in listener.addresses:
        out.print(f"listening on udp {endpoint(host, port)}")
    out.file.flush()

    run_until_stopped(status_every=status_every,
                      status=lambda elapsed: _report(listener, f"[{elapsed:,.0f}s]", limit=20),
                      stop_source=listener.stop, stream=stream, pipeline=pipeline, db=db,
                      summary=lambda elapsed: _report(listener, f"stopped after {elapsed:,.0f}s:", limit=None))


def _report(listener: NetflowListener, head: str, limit: int | None) -> None:
    from netwarden.collect.netflow import summary_lines

    total = listener.decoder.totals()
    stored = listener.stream.stats.total("events")
    verb = "published" if listener.stream.pipeline.publishes else "stored"  # with a [bus]: workers store them
    line = (f"{head} {len(listener.stats)} exporters: datagrams {total.packets:,}, records {total.records:,}, "
            f"{verb} {stored:,}, dropped {total.dropped:,}, errors {total.error_total:,}")
    drops = listener.update_kernel_drops()
    if drops:
        line += f", lost in the UDP socket buffer {drops:,}"
    out.print(safe(line))
    for text in summary_lines(listener.stats, limit):
        out.print("  " + safe(text))
    out.file.flush()
