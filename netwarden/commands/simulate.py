"""``netwarden simulate``: send a small office's traffic, with attacks now and then, to running listeners."""

from __future__ import annotations

import time

import click

from netwarden.commands.shared.running import stop_signals
from netwarden.commands.shared.terminal import fail, out, safe

@click.command()
@click.option("--syslog", "syslog", metavar="HOST:PORT",
              help="Send syslog lines (sshd, nginx access, netfilter) over UDP here (e.g. 127.0.0.1:5514).")
@click.option("--netflow", "netflow", metavar="HOST:PORT",
              help="Send IPFIX flow records over UDP here (e.g. 127.0.0.1:2055).")
@click.option("--rate", default=10.0, show_default=True, type=click.FloatRange(min=0, max=10_000),
              help="Benign activities a second (each is one to a few lines or flow records).")
@click.option("--duration", default=0.0, show_default=True, type=click.FloatRange(min=0),
              metavar="SECONDS", help="Stop after this long (0: until Ctrl-C).")
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same traffic.")
@click.option("--attack-every", default=90.0, show_default=True, type=click.FloatRange(min=1),
              metavar="SECONDS", help="An attack starts this often (the first after 15 s).")
@click.option("--attacks", default="all", show_default=True, metavar="KIND,...",
              help="Attack kinds to cycle through: all, none, or a list of "
                   "port_scan, brute_force, sqli, traversal, exfiltration, intel, flood.")
def simulate(syslog: str | None, netflow: str | None, rate: float, duration: float, seed: int,
             attack_every: float, attacks: str) -> None:
    """Send simulated traffic in real time to a NetWarden server's syslog and NetFlow listeners.

    The traffic is what a small office's devices would send: its servers' sshd and nginx logs, its
    gateway's firewall log and flow records. Only the given addresses are contacted; the addresses inside
    the traffic are only text.
    """
    from netwarden.simulate import ATTACKS, Simulator
    from netwarden.simulate.outputs import NetworkSender, paced, parse_address

    if not syslog and not netflow:
        raise click.UsageError("give --syslog HOST:PORT and/or --netflow HOST:PORT")
    try:
        syslog_to = parse_address(syslog, 514) if syslog else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--syslog") from None
    try:
        netflow_to = parse_address(netflow, 2055) if netflow else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--netflow") from None
    kinds = _attack_kinds(attacks, ATTACKS)
    sim = Simulator(seed, rate=rate, attack_every=attack_every, attacks=kinds)
    try:
        sender = NetworkSender(syslog_to, netflow_to)
    except (OSError, ValueError) as exc:
        fail(f"cannot send: {exc}", 2)
    started = time.monotonic()
    emissions = sim.generate(time.time(), duration if duration > 0 else float("inf"))
    reported = 0
    try:
        with stop_signals() as stop:

            def finished() -> bool:  # attacks begun near the end would otherwise run past --duration
                return stop.is_set() or (duration > 0 and time.monotonic() - started >= duration)

            for batch in paced(emissions, stop=finished):
                try:
                    sender.send(batch)
                except OSError as exc:
                    fail(f"sending failed: {exc}", 2)
                for _, kind, who in sim.launched[reported:]:
                    out.print(f"attack: {kind} ({safe(who)})")
                reported = len(sim.launched)
    finally:
        sender.close()
    out.print(f"sent {sender.sent['syslog']:,} syslog lines and {sender.sent['flows']:,} flow records "
              f"({sender.sent['datagrams']:,} datagrams); {len(sim.launched)} attacks")


def _attack_kinds(text: str, known: tuple[str, ...]) -> tuple[str, ...]:
    text = text.strip().lower()
    if text == "all":
        return known
    if text in ("none", ""):
        return ()
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise click.BadParameter(f"unknown attack kind(s) {', '.join(unknown)}; known: {', '.join(known)}",
                                 param_hint="--attacks")
    return kinds
