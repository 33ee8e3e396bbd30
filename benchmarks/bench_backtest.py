"""Backtest benchmark: replaying stored events through every detector (``netwarden backtest``) on SQLite.

The database is bench_web's (events over 7 days from 5,000 sources, access-log and flow records, with
alerts; built once and kept in benchmarks/out/). Each replay runs in a child process of its own, so its
peak resident memory (``VmHWM``) is its own: replays of 1/8, 1/4, 1/2 and all of the range show
whether memory grows with the number of events (it must not: events are read in keyset pages of 20,000).

``python -m benchmarks.bench_backtest [--events N] [--no-write]`` runs it alone; ``benchmarks/run`` with
the others.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.bench_web import OUT, REPO, build_database

FRACTIONS = (0.125, 0.25, 0.5, 1.0)


def _child(db_path: str, fraction: float) -> None:
    """One replay of the oldest ``fraction`` of the 7 days; prints its figures as JSON."""
    from netwarden.backtest import Backtest
    from netwarden.config import load_settings
    from netwarden.store.database import Database

    db = Database.open(f"sqlite:///{db_path}", migrate=False)
    with db.engine.connect() as conn:
        first, last = conn.exec_driver_sql("SELECT min(timestamp), max(timestamp) FROM events").one()
    first = datetime.fromisoformat(first).replace(tzinfo=timezone.utc)
    last = datetime.fromisoformat(last).replace(tzinfo=timezone.utc)
    until = first + (last - first) * fraction + timedelta(microseconds=1)
    settings = load_settings(environ={})
    runner = Backtest(db, settings, since=first, until=until)
    cpu = time.process_time()
    result = runner.run()
    cpu = time.process_time() - cpu
    db.close()
    print(json.dumps({"events": result.events, "seconds": result.seconds, "load": os.getloadavg()[0],
                      "replay_cpu_seconds": cpu, "peak_rss_mib": _high_water_mib(),
                      "alerts": result.alerts.candidate, "stored_alerts": result.alerts.stored}))


def _high_water_mib() -> float:
    """This process's peak resident memory since it started (VmHWM). Not the ``ru_maxrss`` a parent gets
    from wait4: on Linux that starts from the parent's size at fork, which the builder of the database
    (a 1 GiB SQLite cache) is."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _replay(db_path: Path, fraction: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_backtest", "--child", str(db_path),
                             "--fraction", str(fraction)], stdout=subprocess.PIPE, cwd=REPO, env=env)
    stdout = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"replay of {fraction} failed (exit {proc.returncode})")
    figures = json.loads(stdout.decode().strip().splitlines()[-1])
    figures["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # the whole child: start-up included
    figures["fraction"] = fraction
    return figures


def _rows_unchanged(db_path: Path) -> bool:
    """The replays stored nothing: every table has the rows it had (checked before and after)."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # type: ignore[return-value]
    finally:
        conn.close()


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        log: Callable[[str], None] = print, events: int | None = None,
        fractions: tuple[float, ...] = FRACTIONS) -> dict:
    n_events = events or (200_000 if quick else 10_000_000)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"web-{n_events}.db"  # the same database as the web benchmark
    if not path.exists():
        log(f"building {path.name} ...")
        build_database(path, n_events, 10_000, log)
    before = _rows_unchanged(path)
    replays = []
    for fraction in fractions:
        for _ in range(reps or 1):
            started = time.perf_counter()
            figures = _replay(path, fraction)
            log(f"  {fraction:>5}: {figures['events']:,} events, {figures['events'] / figures['seconds']:,.0f}/s, "
                f"{figures['events'] / figures['replay_cpu_seconds']:,.0f}/CPU-s, peak RSS {figures['peak_rss_mib']:,.0f} MiB "
                f"({time.perf_counter() - started:,.0f} s, load {figures['load']:.1f})")
            replays.append(figures)
    return {"events": n_events, "replays": replays, "unchanged": _rows_unchanged(path) == before}


def markdown(results: dict, *, quick: bool = False) -> str:
    lines = [
        "### Backtest: replay of stored events (SQLite)",
        "",
        f"`netwarden backtest` over a database of {results['events']:,} events (bench_web's: access-log and flow "
        "records of 5,000 sources over 7 days), every detector with the default settings. Each replay runs in a "
        "process of its own; peak RSS is that process's high-water mark (`VmHWM`). The replay reads keyset pages of 20,000 "
        "events in time order and stores nothing"
        + (" (row counts of every table identical before and after: checked)." if results["unchanged"]
           else " — **row counts changed: a bug**."),
        "",
        "",
        "*events/s* is wall time of the replay; *per CPU-second* divides by the CPU time of the replay itself",
        "(`time.process_time` around `Backtest.run`, single-threaded), which is what it runs at when it has a core",
        "to itself; *whole process* also counts start-up and imports. The load average (2 cores) at the end of",
        "each replay says how shared the machine was.",
        "",
        "| events replayed | seconds | events/s (wall) | events per CPU-second | same, whole process | load | "
        "candidate alerts | peak RSS (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["replays"]:
        replay_cpu = r.get("replay_cpu_seconds") or r["cpu_seconds"]
        lines.append(f"| {r['events']:,} | {r['seconds']:,.1f} | {r['events'] / r['seconds']:,.0f} | "
                     f"{r['events'] / replay_cpu:,.0f} | {r['events'] / r['cpu_seconds']:,.0f} | {r['load']:.1f} | "
                     f"{r['alerts']:,} | {r['peak_rss_mib']:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--fractions", default=",".join(map(str, FRACTIONS)),
                        help="parts of the stored range to replay, e.g. 0.1,1")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--fraction", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.fraction)
        return 0
    results = run(events=args.events, reps=args.reps, log=lambda m: print(m, file=sys.stderr, flush=True),
                  fractions=tuple(float(f) for f in args.fractions.split(",")))
    body = markdown(results)
    print(body)
    if not args.no_write:
        from benchmarks.__main__ import DOC, write_section

        write_section(DOC, "backtest", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
