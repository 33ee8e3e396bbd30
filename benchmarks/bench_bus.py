"""Scale-out: throughput of 1 and 2 ``netwarden worker`` processes on the Redis bus against the single process,
and the bus's own cost per event.

The same sshd syslog lines (400 sources; a tenth are failures, so some sources alert) go

- **single**: through ``Pipeline.ingest_lines`` (parse, detect, store) into PostgreSQL, in this process;
- **bus, k workers**: parsed and published to the bus first (timed apart: the producer's share), then
  ``k`` worker processes detect and store them into PostgreSQL until every event is stored.

Each configuration runs ``--repeats`` times, alternating, on a fresh database and fresh bus keys; the report
gives medians of wall time, events per second and events per CPU-second (the CPU of the workers, read from
their rusage at exit — the machine is shared, so CPU-seconds are the steadier figure). The bus overhead per
event is measured apart: encode + XADD (producer) and XREADGROUP + decode + XACK (consumer), no database.

    python -m benchmarks.bench_bus                       # 40,000 lines, 3 repeats
    python -m benchmarks.bench_bus --lines 10000 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PG_SERVER = os.environ.get("NETWARDEN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("NETWARDEN_BENCH_REDIS", "redis://127.0.0.1:6379/0")


def auth_lines(n: int) -> list[str]:
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    out = []
    for i in range(n):
        ts = (start + timedelta(milliseconds=50 * i)).strftime("%b %d %H:%M:%S").replace(" 0", "  ", 1)
        src = f"203.0.{(i * 7) % 400 // 200}.{(i * 7) % 200 + 1}"
        what = "Failed password for jsmith" if i % 10 == 0 else "Accepted password for staff"
        out.append(f"<38>{ts} gw01 sshd[{1000 + i % 30000}]: {what} from {src} port {1024 + i % 60000} ssh2")
    return out


def fresh_pg(name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def count_events(db) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from netwarden.store.schema import events

    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(events)).scalar_one()


def run_single(lines: list[str]) -> dict[str, float]:
    from netwarden.config import Settings
    from netwarden.pipeline import Pipeline
    from netwarden.store.database import Database

    db = Database.open(fresh_pg("nw_bench_bus_single"))
    pipeline = Pipeline.from_settings(db, Settings(), batch_size=2000)
    cpu, wall = time.process_time(), time.perf_counter()
    pipeline.ingest_lines(lines, "syslog", source="bench")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pipeline.close()
    assert count_events(db) == len(lines)
    db.close()
    return {"wall": wall, "cpu": cpu}


def run_bus(lines: list[str], workers: int, partitions: int) -> dict[str, float]:
    from netwarden.bus.produce import publish_lines
    from netwarden.bus.redis_bus import RedisBus
    from netwarden.bus.settings import BusSettings
    from netwarden.pipeline import Pipeline
    from netwarden.store.database import Database

    url = fresh_pg(f"nw_bench_bus_{workers}")
    db = Database.open(url)
    settings = BusSettings(url=REDIS, prefix=f"nwbench-{uuid.uuid4().hex[:8]}", partitions=partitions,
                           max_backlog=100_000)
    bus = RedisBus(settings)
    cpu, wall = time.process_time(), time.perf_counter()
    publish_lines(Pipeline(db, stages=()), bus, lines, "syslog", source="bench", batch_size=2000)
    produce_wall, produce_cpu = time.perf_counter() - wall, time.process_time() - cpu
    env = {**os.environ, "PYTHONPATH": str(REPO), "NETWARDEN_DATABASE_URL": url, "NETWARDEN_BUS_URL": REDIS,
           "NETWARDEN_BUS_PREFIX": settings.prefix, "NETWARDEN_BUS_PARTITIONS": str(partitions)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", "from netwarden.cli import main; main()", "worker",
                               "--metrics", "", "--name", f"b{i}", "--seconds", "600"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(workers)]
    deadline = time.monotonic() + 600
    while count_events(db) < len(lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    wall = time.perf_counter() - started
    stored = count_events(db)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(60)
    cpu = _children_cpu(before)
    keys = list(bus.redis.scan_iter(match=f"{settings.prefix}:*", count=1000))
    if keys:
        bus.redis.delete(*keys)
    bus.close()
    db.close()
    assert stored == len(lines), f"{stored} of {len(lines)} stored"
    # the workers' CPU includes their start (imports, connecting): reported, and measured apart below
    return {"wall": wall, "cpu": cpu, "produce_wall": produce_wall, "produce_cpu": produce_cpu}


def worker_start_cpu() -> float:
    """CPU-seconds of a worker that starts and stops with nothing to do (imports, database, bus)."""
    from netwarden.bus.settings import BusSettings

    url = fresh_pg("nw_bench_bus_idle")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NETWARDEN_DATABASE_URL": url, "NETWARDEN_BUS_URL": REDIS,
           "NETWARDEN_BUS_PREFIX": f"nwbench-{uuid.uuid4().hex[:8]}"}
    BusSettings(url=REDIS)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "from netwarden.cli import main; main()", "worker", "--metrics", "",
                    "--seconds", "1"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=300, check=False)
    return _children_cpu(before)


def _children_cpu(before) -> float:  # type: ignore[no-untyped-def]
    """CPU-seconds of the children waited for since ``before`` (a getrusage of RUSAGE_CHILDREN)."""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bus_overhead(n: int = 50_000) -> dict[str, float]:
    """Microseconds per event of the bus alone: encode + XADD, then XREADGROUP + decode + XACK."""
    from netwarden.bus.codec import decode_events
    from netwarden.bus.redis_bus import GROUP, RedisBus
    from netwarden.bus.settings import BusSettings
    from netwarden.parse import ParseContext, get_parser

    parser = get_parser("syslog")(ParseContext(source="bench"))
    events = [e for e in (parser.parse_line(line) for line in auth_lines(n)) if e is not None]
    bus = RedisBus(BusSettings(url=REDIS, prefix=f"nwbench-{uuid.uuid4().hex[:8]}", partitions=4,
                               max_backlog=1_000_000))
    cpu = time.process_time()
    for i in range(0, len(events), 2000):
        bus.publish(events[i:i + 2000], source="bench", fmt="syslog")
    produce = time.process_time() - cpu
    cpu = time.process_time()
    got = 0
    for p in range(bus.partitions):
        stream = bus.stream(p)
        while True:
            answer = bus.redis.xreadgroup(GROUP, "bench", {stream: ">"}, count=100)
            if not answer:
                break
            for _, entries in answer:
                for entry_id, fields in entries:
                    got += len(decode_events(fields[b"events"]))
                    bus.redis.xack(stream, GROUP, entry_id)
    consume = time.process_time() - cpu
    keys = list(bus.redis.scan_iter(match=f"{bus.prefix}:*", count=1000))
    if keys:
        bus.redis.delete(*keys)
    bus.close()
    assert got == len(events)
    return {"produce_us": produce / len(events) * 1e6, "consume_us": consume / len(events) * 1e6,
            "events": len(events)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    lines = auth_lines(args.lines)
    runs: dict[str, list[dict[str, float]]] = {"single": [], "1 worker": [], "2 workers": []}
    for _ in range(args.repeats):  # alternated, so that a change of load hits every configuration alike
        runs["single"].append(run_single(lines))
        runs["1 worker"].append(run_bus(lines, 1, args.partitions))
        runs["2 workers"].append(run_bus(lines, 2, args.partitions))
    start_cpu = worker_start_cpu()
    over = bus_overhead()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}; {args.lines:,} lines, median of {args.repeats}")
    print(f"worker start (imports, database, bus; no events): {start_cpu:.2f} CPU-s each")
    print("| configuration | wall s | events/s | CPU-s (workers) | events per CPU-s (less start) | producer s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, results in runs.items():
        wall = statistics.median(r["wall"] for r in results)
        cpu = statistics.median(r["cpu"] for r in results)
        workers = 0 if name == "single" else int(name[0])
        net_cpu = cpu - workers * start_cpu
        produce = statistics.median(r.get("produce_wall", 0.0) for r in results)
        print(f"| {name} | {wall:.2f} | {args.lines / wall:,.0f} | {cpu:.2f} | {args.lines / net_cpu:,.0f} | "
              f"{produce:.2f} |")
    print(f"bus alone ({over['events']:,} events): publish (encode + XADD) {over['produce_us']:.1f} µs/event, "
          f"consume (XREADGROUP + decode + XACK) {over['consume_us']:.1f} µs/event (client CPU)")


if __name__ == "__main__":
    main()
