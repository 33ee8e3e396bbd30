"""``netwarden demo``: the server on embedded defaults, fed by the traffic simulator in process."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import click

from netwarden.commands.shared.running import stop_signals
from netwarden.commands.shared.terminal import fail, out, safe


DEMO_DB = "netwarden-demo.db"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address of the web server.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Web port (0: any free port).")
@click.option("--db", "db_url", metavar="URL",
              help=f"Database URL (default: a fresh SQLite file {DEMO_DB} in the current folder).")
@click.option("--rate", default=10.0, show_default=True, type=click.FloatRange(min=0, max=1000),
              help="Benign activities a second.")
@click.option("--attack-every", default=45.0, show_default=True, type=click.FloatRange(min=1), metavar="SECONDS",
              help="An attack starts this often.")
@click.option("--history", default=600.0, show_default=True, type=click.FloatRange(min=0, max=86400),
              metavar="SECONDS", help="Traffic of the recent past filled in at start, so charts are not empty.")
@click.option("--seed", default=None, type=int, help="Same seed, same traffic (default: a new one each run).")
@click.option("--keep", is_flag=True,
              help=f"Keep the previous demo's {DEMO_DB} (its events, alerts and users) instead of starting afresh.")
def demo(host: str, port: int, db_url: str | None, rate: float, attack_every: float, history: float,
         seed: int | None, keep: bool) -> None:
    """Start NetWarden with a built-in traffic simulator: a small office's benign traffic and, now and then,
    attacks (scans, brute force, SQL injection, traversal, exfiltration, listed addresses, floods).

    Each start wipes the demo's own database and prints a new one-time admin password (--keep keeps the
    previous demo and its users); the dashboard fills within seconds. No listener is opened and nothing
    leaves this machine. Stop with Ctrl-C.
    """
    import secrets

    from netwarden.config import Settings
    from netwarden.simulate import Simulator
    from netwarden.simulate.live import LiveFeeder
    from netwarden.store.database import DatabaseError
    from netwarden.pipeline import LiveStream
    from netwarden.serve import Server, ServerError

    # a demo already running keeps its files: check the lock and the port before touching anything
    lock = None
    if db_url is None:
        path = Path(DEMO_DB).resolve()
        lock = _lock(path)
        _check_port_free(host, port)
        if not keep:
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                leftover.unlink(missing_ok=True)  # the demo's own file only: every demo starts afresh
        db_url = f"sqlite:///{path}"
    else:
        _check_port_free(host, port)
    settings = Settings()  # embedded defaults, whatever netwarden.toml says
    settings.database.url = db_url
    server = Server(settings, db_url=db_url, host=host, port=port, syslog_udp=[], syslog_tcp=[], netflow_udp=[])
    try:
        server.start()
    except (ServerError, DatabaseError) as exc:
        fail(f"{exc} (choose another port with --port)", 2)
    assert server.runtime is not None and server.runtime.pipeline is not None
    # stored by a thread of this process: a signal to the whole process group (Ctrl-C, timeout) cannot kill
    # a writer process before the last batch is in
    stream = LiveStream(server.runtime.pipeline, fmt=None, source="simulator", max_delay=0.25, use_process=False)
    seed = seed if seed is not None else secrets.randbelow(1 << 31)
    feeder = LiveFeeder(stream, Simulator(seed, rate=rate, attack_every=attack_every, first_attack=5),
                        history=history)
    feeder.start()
    out.print(f"NetWarden demo: {server.url}/  (simulated office traffic, seed {seed})")
    if server.first_admin_password:
        out.print("log in as [bold]admin[/bold] with the one-time password "
                  f"[bold]{server.first_admin_password}[/bold] (you will choose a new one)")
    else:
        out.print(f"log in with a user of {safe(db_url)}")
    out.print("Ctrl-C stops the demo")
    out.file.flush()
    try:
        with stop_signals() as stop:
            while not stop.wait(1.0):
                if feeder.error is not None:
                    out.print(f"simulator error: {safe(feeder.error)}")
                    feeder.error = None
                if stream.last_error is not None:
                    out.print(f"storage error: {safe(stream.last_error)}")
                    stream.last_error = None
    finally:
        feeder.stop()
        try:
            stream.close()
        except Exception as exc:  # reported; the server still stops in order
            out.print(f"storing the last simulated events failed: {safe(exc)}")
        try:
            server.stop()
        except ServerError as exc:
            fail(str(exc))
    out.print(f"stopped after {feeder.fed:,} simulated {'event' if feeder.fed == 1 else 'events'}")
    if lock is not None:
        lock.close()


def _lock(path: Path) -> TextIO:
    """An exclusive lock on ``<demo file>.lock``, held while this demo runs (the open file is returned)."""
    import fcntl

    handle = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 - held until the demo stops
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        fail(f"another demo is running on {path}; stop it first (its files were left alone)", 2)
    return handle


def _check_port_free(host: str, port: int) -> None:
    import socket

    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        fail(f"listen address {host}: {exc}", 2)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server binds
        try:
            probe.bind(address)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (is a demo already running? "
                 "choose another port with --port); nothing was changed", 2)
