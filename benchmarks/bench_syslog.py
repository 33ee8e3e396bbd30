"""Syslog over UDP: how many messages per second the listener stores without losing any.

A separate sender process sends sshd lines over loopback UDP at a fixed rate (10,000 and 20,000 messages/s
by default) for 20 seconds to ``SyslogServer`` → ``LiveStream`` → SQLite (a file). Reported per rate:
messages sent, received by the listener, stored, quarantined, dropped (stream full), lost in the kernel's
socket buffer, and lost in all (sent − stored − quarantined).

    python -m benchmarks.bench_syslog                      # 10,000 and 20,000 msg/s, 20 s each
    python -m benchmarks.bench_syslog --rates 5000 --seconds 5

As a module of ``benchmarks/run`` it provides ``run()`` and ``markdown()``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RATES = (10_000, 20_000)
SECONDS = 20.0
LINE = ("<38>Nov 21 10:00:{s:02d} gw01 sshd[{pid}]: Failed password for user{u} from 203.0.113.{h} "
        "port {port} ssh2")


def sender(target: tuple[str, int], rate: int, seconds: float, ready: mp.Event, result: mp.Queue) -> None:  # type: ignore[type-arg]
    """Sends ``rate`` messages per second in 1 ms slices, each slice paced against the clock."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    messages = [LINE.format(s=i % 60, pid=1000 + i % 5000, u=i % 997, h=i % 250, port=1024 + i % 60000).encode()
                for i in range(10_000)]
    ready.wait()
    sent = errors = 0
    total = int(rate * seconds)
    start = time.perf_counter()
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while sent < due:
            try:
                sock.sendto(messages[sent % len(messages)], target)
            except OSError:  # ENOBUFS: counted as sent and lost, as a router would lose it
                errors += 1
            sent += 1
        sleep = (sent / rate) - (time.perf_counter() - start)
        if sleep > 0:
            time.sleep(min(sleep, 0.001))
    result.put({"sent": sent, "send_errors": errors, "send_seconds": time.perf_counter() - start})


def run_rate(rate: int, seconds: float, workdir: Path) -> dict:
    from netwarden.collect.syslog_server import SyslogServer, SyslogServerConfig
    from netwarden.pipeline import Pipeline
    from netwarden.store.database import Database
    from netwarden.store.retention import count
    from netwarden.store.schema import events as events_table

    path = workdir / f"syslog-{rate}.db"
    path.unlink(missing_ok=True)
    db = Database.open(f"sqlite:///{path}")
    from netwarden.pipeline import LiveStream

    stream = LiveStream(Pipeline(db), fmt="syslog", source="syslog/udp", batch_size=1000, max_delay=0.25)
    server = SyslogServer(stream, SyslogServerConfig(udp=[("127.0.0.1", 0)]))
    server.start()
    ctx = mp.get_context("spawn")
    ready, results = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=sender, args=(server.address("udp"), rate, seconds, ready, results), daemon=True)
    proc.start()
    try:
        time.sleep(1.0)  # the sender has built its messages
        started = time.perf_counter()
        ready.set()
        sent = results.get(timeout=seconds * 3 + 60)
        proc.join(10)
        # settle: until the listener has read everything the kernel holds and the stream is empty
        deadline = time.monotonic() + 60
        last = -1
        while time.monotonic() < deadline:
            received = stream.stats.total("received")
            if received == last and stream.pending == 0:
                break
            last = received
            time.sleep(0.5)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(5)
        server.stop()
        stream.close()
    elapsed = time.perf_counter() - started
    stored = count(db, events_table)
    db.close()
    stats = stream.stats
    quarantined = stats.total("quarantined")
    return {
        "rate": rate, "seconds": seconds, "sent": sent["sent"], "send_errors": sent["send_errors"],
        "send_seconds": round(sent["send_seconds"], 2), "received": server.stats.datagrams,
        "stored": stored, "quarantined": quarantined, "dropped": stats.total("dropped"),
        "kernel_drops": server.stats.udp_kernel_drops, "lost": sent["sent"] - stored - quarantined,
        "elapsed": round(elapsed, 2),
    }


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int = 1,
        log: Callable[[str], None] = print, rates: tuple[int, ...] = RATES, seconds: float | None = None) -> list[dict]:
    seconds = seconds or (5.0 if quick else SECONDS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="nw-bench-syslog-") as tmp:
        for rate in rates:
            row = run_rate(rate, seconds, Path(tmp))
            log(f"  udp {rate:,}/s for {seconds:.0f}s: sent {row['sent']:,}, stored {row['stored']:,}, "
                f"dropped {row['dropped']:,}, kernel drops {row['kernel_drops']:,}, lost {row['lost']:,}")
            rows.append(row)
    return rows


def markdown(rows: list[dict], *, quick: bool = False) -> str:
    out = ["## Syslog over UDP\n",
           "A separate process sends sshd lines over loopback UDP at a fixed rate to `netwarden listen syslog`'s "
           "server, which parses and stores them in SQLite (a file). *Dropped*: the stream was full; *kernel*: "
           "the socket buffer overflowed; *lost*: sent − stored − quarantined.\n",
           "| rate (msg/s) | seconds | sent | received | stored | quarantined | dropped | kernel | lost |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['rate']:,} | {r['seconds']:.0f} | {r['sent']:,} | {r['received']:,} | {r['stored']:,} | "
                   f"{r['quarantined']:,} | {r['dropped']:,} | {r['kernel_drops']:,} | {r['lost']:,} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=lambda s: tuple(int(x) for x in s.split(",")), default=RATES,
                        help="comma-separated messages per second (default 10000,20000)")
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    rows = run(rates=args.rates, seconds=args.seconds)
    print(markdown(rows))
    return 0 if all(r["lost"] == 0 for r in rows if r["rate"] <= 10_000) else 1


if __name__ == "__main__":
    sys.exit(main())
