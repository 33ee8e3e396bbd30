"""Packet capture import: packets per second of the reader + flow table alone, and end to end into SQLite.

Inputs are built (once, in ``benchmarks/out/``) from the real captures in ``shared/datasets/pcaps``: their
packets are copied again and again, each copy shifted 30 days later, into one large classic pcap (and a
pcapng of the same packets):

- *mixed*: all 21 captures, the mix as it comes: port scans, ARP and ICMP sweeps (about two packets per
  flow: the flow table's worst case, where building flow events dominates) and browsing;
- *bulk*: the browsing and SSH captures (``http_espn``, ``tcp_ports``, ``malicious-ssh-bruteforce``),
  about 14 packets per flow, like ordinary traffic.

*Reader + flows*: ``CaptureImport`` over the file, every event built, nothing stored (best of the runs).
*End to end*: ``Pipeline(db).ingest_file(path)`` into a fresh SQLite file, exactly ``netwarden ingest``.

    python -m benchmarks.bench_pcap                 # 1M packets per input
    python -m benchmarks.bench_pcap --quick         # 100k
"""

from __future__ import annotations

import argparse
import gc
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import inputs

OUT = inputs.REPO / "benchmarks" / "out"
TARGET_PPS = 200_000
BULK = ("chrissanders-packets/http_espn.pcapng", "chrissanders-packets/tcp_ports.pcapng",
        "stratosphere-slips/malicious-ssh-bruteforce.pcap")


def _packets(names: list[Path]) -> list[tuple[float, bytes, int]]:
    from netwarden.collect.pcap import CaptureParser, CaptureStats

    packets: list[tuple[float, bytes, int]] = []
    for path in names:
        def grab(link: int, ts: float, buf: bytes, off: int, end: int, wirelen: int) -> None:
            assert link == 1  # every dataset capture is Ethernet
            packets.append((ts, bytes(buf[off:end]), wirelen))
        parser = CaptureParser(grab, CaptureStats())
        parser.feed(path.read_bytes())
        parser.finish()
    return packets


def build(name: str, count: int, kind: str = "pcap") -> Path:
    """Write (once) ``benchmarks/out/<name>-<count>.<kind>``."""
    target = OUT / f"{name}-{count}.{kind}"
    if target.exists():
        return target
    root = inputs.datasets() / "pcaps"
    files = sorted(root.rglob("*.pcap*")) if name == "mixed" else [root / n for n in BULK]
    base = _packets(files)
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with tmp.open("wb") as out:
        if kind == "pcap":
            out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        else:
            out.write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
            out.write(_block(1, struct.pack("<HHI", 1, 0, 65535)))
        written = copy = 0
        while written < count:
            shift = copy * 30 * 86400
            for ts, data, wirelen in base[:count - written]:
                t = ts + shift
                if kind == "pcap":
                    sec = int(t)
                    out.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(data), wirelen) + data)
                else:
                    ticks = int(t * 1e6)
                    out.write(_block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                                                    wirelen) + data))
            written += min(len(base), count - written)
            copy += 1
    tmp.rename(target)
    return target


def _block(btype: int, body: bytes) -> bytes:
    body = body.ljust((len(body) + 3) & ~3, b"\0")
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def reader_only(path: Path) -> dict:
    from netwarden.collect.pcap import CaptureImport
    from netwarden.pipeline import relaxed_gc

    gc.collect()  # start clean: earlier benchmarks in this process leave garbage behind
    with path.open("rb") as f, relaxed_gc():  # as `netwarden ingest` runs it
        started, cpu = time.perf_counter(), time.process_time()
        imp = CaptureImport(f)
        events = sum(len(batch) for batch, _ in imp.batches())
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {"packets": imp.stats.packets, "events": events, "flows": imp.table.records, "seconds": seconds,
            "cpu": cpu_seconds}


def end_to_end(path: Path, workdir: Path) -> dict:
    from netwarden.pipeline import Pipeline
    from netwarden.store.database import Database
    from netwarden.store.retention import count
    from netwarden.store.schema import events as events_table

    db_path = workdir / f"bench-{time.monotonic_ns()}.db"
    db = Database.open(f"sqlite:///{db_path}")
    try:
        result = Pipeline(db).ingest_file(path)
        stored = count(db, events_table)
        assert stored == result.events, (stored, result.events)
    finally:
        db.close()
        db_path.unlink(missing_ok=True)
    return {"packets": result.lines, "events": result.events, "seconds": result.seconds}


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        log: Callable[[str], None] = print) -> list[dict]:
    count = 100_000 if quick else 1_000_000
    reps = reps or (1 if quick else 3)
    rows = []
    cases = [("mixed", "pcap"), ("mixed", "pcapng"), ("bulk", "pcap")]
    with tempfile.TemporaryDirectory(prefix="nw-bench-pcap-") as tmp:
        for name, kind in cases:
            label = f"{name} {kind}"
            if only and only not in label:
                continue
            path = build(name, count, kind)
            best = min((reader_only(path) for _ in range(reps)), key=lambda r: r["seconds"])
            log(f"  {label}: reader+flows {best['packets'] / best['seconds']:,.0f} packets/s")
            e2e = min((end_to_end(path, Path(tmp)) for _ in range(max(1, reps - 1))), key=lambda r: r["seconds"])
            log(f"  {label}: end to end {e2e['packets'] / e2e['seconds']:,.0f} packets/s")
            rows.append({"input": label, "size": path.stat().st_size, **{f"r_{k}": v for k, v in best.items()},
                         **{f"e_{k}": v for k, v in e2e.items()}, "reps": reps})
    return rows


def markdown(rows: list[dict], *, quick: bool = False) -> str:
    out = ["## Packet capture import\n",
           "Captures built from the real ones in `shared/datasets/pcaps`, copied again and again 30 days apart: "
           "*mixed* is all 21 captures (scans and sweeps: about two packets per flow, the worst case, where "
           "building flow events dominates), *bulk* the browsing and SSH ones (about 14 packets per flow). "
           "*Reader + flows*: `CaptureImport` (pcap/pcapng reader, decoder, flow table, every event built), best "
           f"of the runs, wall clock (CPU time in brackets); *end to end*: `netwarden ingest` into a fresh "
           f"SQLite file. Target for import: {TARGET_PPS:,} packets/s.\n",
           "| input | packets | MB | flow events | reader + flows (packets/s) | end to end (packets/s) | "
           "end to end (events/s) |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['input']} | {r['r_packets']:,} | {r['size'] / 1e6:,.0f} | {r['e_events']:,} | "
                   f"{r['r_packets'] / r['r_seconds']:,.0f} ({r['r_packets'] / r['r_cpu']:,.0f}) | "
                   f"{r['e_packets'] / r['e_seconds']:,.0f} | {r['e_events'] / r['e_seconds']:,.0f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--only")
    args = parser.parse_args()
    print(markdown(run(quick=args.quick, reps=args.reps, only=args.only), quick=args.quick))


if __name__ == "__main__":
    main()
