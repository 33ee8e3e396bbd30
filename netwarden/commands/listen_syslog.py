"""``netwarden listen syslog``: receive syslog from devices over UDP, TCP and TLS."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.options import status_every_option
from netwarden.commands.shared.running import run_until_stopped
from netwarden.commands.shared.terminal import endpoint, fail, out, safe

if TYPE_CHECKING:
    from netwarden.collect.syslog_server import SyslogServer
    from netwarden.pipeline import LiveStream


def _addresses(values: tuple[str, ...], option: str) -> list[tuple[str, int]]:
    from netwarden.collect.syslog_server import DEFAULT_PORT
    from netwarden.endpoints import parse_address

    try:
        return [parse_address(v, DEFAULT_PORT) for v in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command("syslog")
@click.option("--udp", "udp", multiple=True, metavar="HOST:PORT",
              help="Receive syslog over UDP here (repeatable; [::1]:5514 for IPv6, :5514 for every address).")
@click.option("--tcp", "tcp", multiple=True, metavar="HOST:PORT",
              help="Receive syslog over TCP here (RFC 6587: octet-counted or one message per line).")
@click.option("--tls", "tls", multiple=True, metavar="HOST:PORT", help="Receive syslog over TLS (RFC 5425) here.")
@click.option("--cert", type=click.Path(exists=True, dir_okay=False), help="TLS certificate (PEM).")
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help="TLS private key (PEM).")
@click.option("--max-message", default=65536, show_default=True, type=click.IntRange(256, 16 << 20),
              metavar="BYTES", help="Longest message; longer ones are dropped and counted.")
@click.option("--max-connections", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--max-per-address", default=50, show_default=True, type=click.IntRange(1, 100_000),
              help="TCP/TLS connections one address may hold.")
@click.option("--idle-timeout", default=600.0, show_default=True, type=click.FloatRange(min=0.1),
              metavar="SECONDS", help="Close TCP/TLS connections silent for this long.")
@click.option("--first-message-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              metavar="SECONDS", help="Close TCP/TLS connections that sent no whole message for this long.")
@status_every_option(10.0)
@click.pass_obj
def listen_syslog(obj: Context, udp: tuple[str, ...], tcp: tuple[str, ...], tls: tuple[str, ...], cert: str | None,
                  key: str | None, max_message: int, max_connections: int,
                  max_per_address: int, idle_timeout: float, first_message_timeout: float,
                  status_every: float) -> None:
    """Receive syslog from devices until Ctrl-C; the sending device is each event's observer.

    Without addresses it listens on UDP and TCP port 5514 on every address (IPv4 and IPv6).
    A status line per device (received, stored, quarantined, dropped) is printed periodically,
    and a summary at the end.
    """
    from netwarden.collect.syslog_server import SyslogServer, SyslogServerConfig
    from netwarden.pipeline import LiveStream

    if tls and not (cert and key):
        fail("--tls needs --cert and --key", 2)
    config = SyslogServerConfig(udp=_addresses(udp, "--udp"), tcp=_addresses(tcp, "--tcp"),
                                tls=_addresses(tls, "--tls"), certfile=cert, keyfile=key,
                                max_message_bytes=max_message, max_connections=max_connections,
                                max_connections_per_address=max_per_address, idle_timeout=idle_timeout,
                                first_message_timeout=first_message_timeout)
    if not (config.udp or config.tcp or config.tls):
        default = SyslogServerConfig.default()
        config.udp, config.tcp = default.udp, default.tcp
    settings = obj.settings
    db = obj.database()
    pipeline = obj.live_pipeline(db, max_line_bytes=max(settings.ingest.max_line_bytes, max_message))
    stream = LiveStream(pipeline, fmt="syslog", source="syslog", use_process=not pipeline.publishes)
    server = SyslogServer(stream, config)
    try:
        server.start()
    except (OSError, ValueError) as exc:  # port in use, permission, bad certificate
        stream.close()
        db.close()
        fail(f"cannot listen: {exc}", 2)
    for kind, host, port in server.addresses:
        out.print(f"listening on {kind} {endpoint(host, port)}")
    out.file.flush()

    run_until_stopped(status_every=status_every, status=lambda elapsed: _status(server, stream, elapsed),
                      stop_source=server.stop, stream=stream, pipeline=pipeline, db=db,
                      summary=lambda elapsed: _summary(server, stream, elapsed))


def _totals(server: SyslogServer, stream: LiveStream) -> str:
    s = stream.stats
    stored = "published" if stream.pipeline.publishes else "stored"  # with a [bus]: workers store them
    text = (f"received {s.total('received'):,}, {stored} {s.total('events'):,}, "
            f"quarantined {s.total('quarantined'):,}, dropped {s.total('dropped'):,}")
    st = server.stats
    if st.udp_kernel_drops:
        text += f", lost in the UDP socket buffer {st.udp_kernel_drops:,}"
    return text


def _status(server: SyslogServer, stream: LiveStream, seconds: float) -> None:
    devices = stream.stats.devices
    line = (f"[{seconds:,.0f}s] {len(devices)} devices, {server.stats.connections_open} connections: "
            f"{_totals(server, stream)}")
    out.print(safe(line))
    for text in summary_lines(server, stream)[:20]:
        out.print("  " + safe(text))
    out.file.flush()


def _summary(server: SyslogServer, stream: LiveStream, seconds: float) -> None:
    out.print(f"stopped after {seconds:,.0f}s: {_totals(server, stream)}")
    reasons = server.stats.dropped_by_reason
    if reasons:
        out.print("  dropped by the listener: " + ", ".join(f"{safe(r)} {n:,}" for r, n in reasons.most_common()))
    quarantined = stream.stats.quarantined_by_reason
    if quarantined:
        out.print("  quarantined: " + ", ".join(f"{safe(r)} {n:,}" for r, n in quarantined.most_common()))
    for text in summary_lines(server, stream):
        out.print("  " + safe(text))
    out.file.flush()


def summary_lines(server: SyslogServer, stream: LiveStream) -> list[str]:
    """Per-device counters of the stream, with the listener's reasons for drops, as text lines."""
    devices = stream.stats.devices
    lines = []
    for name in sorted(devices):
        d = devices[name]
        reasons = server.stats.device_reasons.get(name)
        extra = "  (" + ", ".join(f"{r} {n:,}" for r, n in reasons.most_common()) + ")" if reasons else ""
        lines.append(f"{name}: received {d.received:,}, stored {d.events:,}, quarantined {d.quarantined:,}, "
                     f"dropped {d.dropped:,}{extra}")
    return lines
