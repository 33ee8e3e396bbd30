"""NetFlow/IPFIX: records per second decoded, and stored end to end from a sender on loopback.

1. Pure decode: ``NetflowDecoder.decode`` over NetFlow v5, v9 and IPFIX datagrams of 30 records each
   (v9/IPFIX in softflowd's template layout), records → Events, no store.
2. End to end: a sender process sends v9 datagrams over loopback UDP at a fixed rate of records per second
   to ``NetflowListener`` → ``LiveStream`` → SQLite (a file). Reported: records sent, stored, lost
   (kernel socket buffer or stream overload) and the stored rate.

    python -m benchmarks.bench_netflow                    # decode, then 20,000 and 50,000 records/s for 10 s
    python -m benchmarks.bench_netflow --quick

As a module of ``benchmarks/run`` it provides ``run()`` and ``markdown()`` (section ``netflow``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RATES = (20_000, 50_000)  # records per second
SECONDS = 10.0
PER_PACKET = 30
# softflowd's v9/IPFIX IPv4 template: src, dst, first, last, octets, packets, in/out if, direction,
# end reason, ports, protocol, tcp flags, ip version, tos
FIELDS = [(8, 4), (12, 4), (22, 4), (21, 4), (1, 4), (2, 4), (10, 4), (14, 4), (61, 1), (136, 1), (7, 2), (11, 2),
          (4, 1), (6, 1), (60, 1), (5, 1)]
RECORD = struct.Struct(">4s4sIIIIIIBBHHBBBB")


def _records(seq: int) -> bytes:
    return b"".join(RECORD.pack(socket.inet_aton(f"10.{(seq >> 8) & 255}.{seq & 255}.{i + 1}"),
                                socket.inet_aton("192.0.2.10"), 90_000, 95_000, 40 + i * 10, 1 + i % 3, 1, 2, 0, 3,
                                1024 + (seq * 30 + i) % 60000, 22 + i, 6, 0x02, 4, 0)
                    for i in range(PER_PACKET))


def v9_packets(n: int) -> list[bytes]:
    template = struct.pack(">HH", 1024, len(FIELDS)) + b"".join(struct.pack(">HH", *f) for f in FIELDS)
    out = []
    for seq in range(n):
        sets = b""
        if seq % 16 == 0:  # templates refreshed now and then, as exporters do
            sets += struct.pack(">HH", 0, len(template) + 4) + template
        body = _records(seq)
        body += b"\0" * (-len(body) % 4)
        sets += struct.pack(">HH", 1024, len(body) + 4) + body
        out.append(struct.pack(">HHIIII", 9, PER_PACKET + (seq % 16 == 0), 100_000, 1_700_000_000, seq, 0) + sets)
    return out


def ipfix_packets(n: int) -> list[bytes]:
    template = struct.pack(">HH", 1024, len(FIELDS)) + b"".join(struct.pack(">HH", *f) for f in FIELDS)
    out = []
    for seq in range(n):
        sets = struct.pack(">HH", 2, len(template) + 4) + template if seq % 16 == 0 else b""
        body = _records(seq)
        sets += struct.pack(">HH", 1024, len(body) + 4) + body
        out.append(struct.pack(">HHIII", 10, 16 + len(sets), 1_700_000_000, seq, 0) + sets)
    return out


def v5_packets(n: int) -> list[bytes]:
    out = []
    for seq in range(n):
        recs = b"".join(struct.pack(">4s4s4sHHIIIIHHxBBBHHBB2x", socket.inet_aton(f"10.0.{seq & 255}.{i + 1}"),
                                    socket.inet_aton("192.0.2.10"), b"\0" * 4, 1, 2, 1 + i % 3, 40 + i, 90_000,
                                    95_000, 1024 + i, 22, 0x02, 6, 0, 0, 0, 24, 24) for i in range(PER_PACKET))
        out.append(struct.pack(">HHIIIIBBH", 5, PER_PACKET, 100_000, 1_700_000_000, 0, seq, 0, 0, 0) + recs)
    return out


def bench_decode(packets: int, reps: int) -> list[dict]:
    from netwarden.collect.netflow import NetflowDecoder

    rows = []
    for name, build in (("NetFlow v5", v5_packets), ("NetFlow v9", v9_packets), ("IPFIX", ipfix_packets)):
        data = build(packets)
        best = 0.0
        for _ in range(reps):
            decoder = NetflowDecoder()
            started = time.perf_counter()
            records = sum(len(decoder.decode(p, "192.0.2.1")) for p in data)
            seconds = time.perf_counter() - started
            assert records == packets * PER_PACKET and not decoder.stats["192.0.2.1"].errors
            best = max(best, records / seconds)
        rows.append({"kind": "decode", "name": name, "records": packets * PER_PACKET, "per_second": best})
    return rows


def sender(target: tuple[str, int], rate: int, seconds: float, ready, result) -> None:  # type: ignore[no-untyped-def]
    """Sends ``rate`` records per second (30 per datagram), paced against the clock every 10 ms."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    packets = v9_packets(512)
    ready.wait()
    total = int(rate * seconds) // PER_PACKET
    sent = 0
    started = time.monotonic()
    while sent < total and time.monotonic() - started < seconds * 3:
        due = min(total, int((time.monotonic() - started) * rate / PER_PACKET) + 1)
        while sent < due:
            try:
                sock.sendto(packets[sent % len(packets)], target)
            except OSError:
                pass
            sent += 1
        time.sleep(0.01)
    result.put((sent * PER_PACKET, time.monotonic() - started))


def run_rate(rate: int, seconds: float, workdir: Path) -> dict:
    from netwarden.collect.netflow import NetflowListener
    from netwarden.pipeline import Pipeline
    from netwarden.store.database import Database
    from netwarden.pipeline import LiveStream

    db = Database.open(f"sqlite:///{workdir / f'netflow-{rate}.db'}")
    stream = LiveStream(Pipeline(db), fmt=None, source="netflow", batch_size=2000)
    listener = NetflowListener(stream, [("127.0.0.1", 0)])
    listener.start()
    ctx = mp.get_context("spawn")
    ready, result = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=sender, args=(listener.addresses[0], rate, seconds, ready, result))
    proc.start()
    try:
        ready.set()
        sent, send_seconds = result.get(timeout=seconds * 4 + 30)
        deadline = time.monotonic() + 30
        last = -1
        while time.monotonic() < deadline and listener.datagrams != last:
            last = listener.datagrams
            time.sleep(0.5)
        listener.stop()
        stream.close()
        elapsed = time.monotonic()
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
        listener.stop()
        db.close()
    totals = listener.decoder.totals()
    stored = stream.stats.total("events")
    return {"kind": "end-to-end", "rate": rate, "seconds": send_seconds, "sent": sent, "decoded": totals.records,
            "stored": stored, "kernel_drops": listener.kernel_drops * PER_PACKET, "dropped": totals.dropped,
            "lost": sent - stored, "per_second": stored / send_seconds if send_seconds else 0.0, "_t": elapsed}


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        log: Callable[[str], None] = print, rates: tuple[int, ...] = RATES, seconds: float | None = None) -> list[dict]:
    rows = bench_decode(200 if quick else 2000, 1 if quick else (reps or 3))
    for row in rows:
        log(f"  decode {row['name']}: {row['per_second']:,.0f} records/s")
    seconds = seconds or (3.0 if quick else SECONDS)
    with tempfile.TemporaryDirectory(prefix="nw-netflow-") as tmp:
        for rate in rates:
            row = run_rate(rate, seconds, Path(tmp))
            log(f"  end to end {rate:,} records/s: sent {row['sent']:,}, stored {row['stored']:,}, lost {row['lost']:,}")
            rows.append(row)
    return rows


def markdown(rows: list[dict], *, quick: bool = False) -> str:
    out = ["### NetFlow / IPFIX collector", "",
           "Pure decode (`NetflowDecoder.decode`, datagrams of 30 records → Events, best of the runs):", "",
           "| format | records | records/s |", "|---|---:|---:|"]
    for r in rows:
        if r["kind"] == "decode":
            out.append(f"| {r['name']} | {r['records']:,} | {r['per_second']:,.0f} |")
    out += ["", "End to end: a sender process → loopback UDP (NetFlow v9, 30 records a datagram) → `NetflowListener` "
            "→ `LiveStream` → SQLite file:", "",
            "| offered records/s | seconds | sent | stored | lost in socket buffer | dropped by stream | lost in all "
            "| stored records/s |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["kind"] == "end-to-end":
            out.append(f"| {r['rate']:,} | {r['seconds']:.1f} | {r['sent']:,} | {r['stored']:,} | "
                       f"{r['kernel_drops']:,} | {r['dropped']:,} | {r['lost']:,} | {r['per_second']:,.0f} |")
    out += ["", "Reproduce: `python -m benchmarks.bench_netflow` (or `benchmarks/run`)."]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_netflow", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", type=lambda s: tuple(int(x) for x in s.split(",")), default=RATES)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args(argv)
    rows = run(quick=args.quick, rates=args.rates, seconds=args.seconds,
               log=lambda m: print(m, file=sys.stderr, flush=True))
    print(markdown(rows, quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
