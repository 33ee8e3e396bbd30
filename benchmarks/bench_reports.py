"""Reports benchmark: exporting every stored event as CSV (rows per second, and peak memory for a tenth of
the rows and for all of them: equal peaks mean the export streams), and a 30-day report over all of them.

Uses the web benchmark's database (10 million events over 7 days from 5,000 sources, with rollups and
10,000 alerts; built once into benchmarks/out/). Each measurement runs in its own process, so its peak
resident memory (``ru_maxrss``) is its own.
``python -m benchmarks.bench_reports [--events N]`` runs it alone; ``benchmarks/run`` with the others.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_web import OUT, build_database

NETWARDEN = [sys.executable, "-c", "from netwarden.cli import main; main()"]
# the API's export generator (what GET /api/v1/events?format=csv streams), over every event, to nowhere
API_EXPORT = """
import sys
from netwarden.report.export import driver_stream
from netwarden.store.database import Database
from netwarden.store.event_search import LIST_PLAN, EventQuery, search_all
db = Database.open(sys.argv[1])
with db.engine.connect() as conn:
    for piece in driver_stream("csv", LIST_PLAN, search_all(conn, EventQuery())):
        pass
"""


def _measure(argv: list[str], *, stdout: int | None = subprocess.DEVNULL) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system: what the work costs when other processes share the cores)
    and peak resident memory (MB) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()})
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"{' '.join(argv[-6:])}: exit {status}: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        log: Callable[[str], None] = print, events: int | None = None) -> dict:
    n = events or (200_000 if quick else 10_000_000)
    OUT.mkdir(exist_ok=True)
    db_path = OUT / f"web-{n}.db"
    if not db_path.exists():
        log(f"building {n:,} events")
        build_database(db_path, n, 1_000 if quick else 10_000, log)
    url = f"sqlite:///{db_path}"
    results: dict = {"events": n, "exports": [], "reports": []}
    with tempfile.TemporaryDirectory(prefix="nw-bench-reports-") as tmp:
        for kind in ("daily", "weekly"):
            times, cpus = [], []
            for _ in range(reps or (1 if quick else 3)):
                seconds, cpu, peak = _measure([*NETWARDEN, "--db", url, "report", "generate", kind, "--since", "30d",
                                               "--no-archive", "-o", str(Path(tmp) / f"{kind}.pdf")])
                times.append(seconds)
                cpus.append(cpu)
            size = (Path(tmp) / f"{kind}.pdf").stat().st_size
            results["reports"].append({"kind": kind, "median_s": statistics.median(times), "runs": times,
                                       "median_cpu": statistics.median(cpus), "peak_mb": peak, "bytes": size})
            log(f"  {kind} report over 30 days: median {statistics.median(times):.1f} s of {len(times)} "
                f"(CPU {statistics.median(cpus):.1f} s), {size:,} bytes")
    for label, argv, rows in (
            ("CLI `events --csv`, a tenth", [*NETWARDEN, "--db", url, "events", "--csv", "-n", str(n // 10)], n // 10),
            ("CLI `events --csv`, all", [*NETWARDEN, "--db", url, "events", "--csv"], n),
            ("API `/events?format=csv` generator, all", [sys.executable, "-c", API_EXPORT, url], n)):
        seconds, cpu, peak = _measure(argv)
        results["exports"].append({"what": label, "rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
                                   "cpu": cpu, "rows_per_cpu_s": rows / cpu, "peak_mb": peak})
        log(f"  {label}: {rows:,} rows in {seconds:,.1f} s ({rows / seconds:,.0f} rows/s; CPU {cpu:,.1f} s, "
            f"{rows / cpu:,.0f} rows per CPU second), peak {peak} MB")
    results["load"] = os.getloadavg()
    return results


def markdown(results: dict, *, quick: bool = False) -> str:
    if not results:
        return "## Reports and exports\n\nNot measured.\n"
    n = results["events"]
    out = ["## Reports and exports\n",
           f"SQLite holding {n:,} events over 7 days (the web benchmark's database). Each line is one process, "
           "timed from start to exit (Python start-up and imports included); *peak* is its peak resident "
           "memory. Exports go to /dev/null. The same peak for a tenth of the rows and for all of them shows that "
           "the export streams (keyset pages of 5,000 rows read straight from the driver).\n",
           "*CPU* is the process's own user + system time: on a shared machine (load average "
           f"{results['load'][0]:.0f} on this run) wall time mostly measures waiting for a core.\n",
           "| export | rows | wall s | rows/s (wall) | CPU s | rows per CPU s | peak MB |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for e in results["exports"]:
        out.append(f"| {e['what']} | {e['rows']:,} | {e['seconds']:,.1f} | {e['rows_per_s']:,.0f} | {e['cpu']:,.1f} | "
                   f"{e['rows_per_cpu_s']:,.0f} | {e['peak_mb']} |")
    out += ["", "A report over the last 30 days (`netwarden report generate KIND --since 30d`, every event of the "
            "database inside the period), to PDF:", "",
            "| report | median wall s | runs (s) | median CPU s | peak MB | PDF bytes |", "|---|---:|---|---:|---:|---:|"]
    for r in results["reports"]:
        out.append(f"| {r['kind']} | {r['median_s']:.1f} | {', '.join(f'{t:.1f}' for t in r['runs'])} | "
                   f"{r['median_cpu']:.1f} | {r['peak_mb']} | {r['bytes']:,} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int)
    args = parser.parse_args()
    print(markdown(run(quick=args.quick, events=args.events, reps=args.reps), quick=args.quick))
