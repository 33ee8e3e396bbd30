"""Same-run A/B of ``ingest``: this tree against another checkout (``git worktree add /tmp/old COMMIT``),
alternating old and new, each run in a fresh process on a fresh SQLite file. Reports events per second and
events per CPU-second (the ingesting process and its writer process): on a loaded machine the latter is the
figure to compare.

    python -m benchmarks.ab_ingest /tmp/old access.log [--detect] [--runs 3] [--format access_log] [--engine sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKER = r'''
import json, resource, sys, time
from netwarden.store.database import Database
from netwarden.pipeline import Pipeline
url, path, fmt, detect = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
db = Database.open(url)
if detect:
    from netwarden.config import load_settings
    pipeline = Pipeline.from_settings(db, load_settings(environ={}))
else:
    pipeline = Pipeline(db)
cpu = time.process_time()
result = pipeline.ingest_file(path, fmt)
pipeline.close()
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"events": result.events, "seconds": result.seconds, "cpu_main": time.process_time() - cpu,
                  "cpu_writer": children.ru_utime + children.ru_stime}))
'''


def run(tree: Path, path: str, fmt: str, detect: bool, engine: str = "sqlite") -> dict:
    from benchmarks.bench_ingest import fresh_database
    from benchmarks.bench_store_write import ServerCpu

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/ab.db" if engine == "sqlite" else fresh_database(engine)
        with contextlib.nullcontext() if engine == "sqlite" else ServerCpu(url) as server:
            proc = subprocess.run([sys.executable, "-c", WORKER, url, path, fmt,
                                   "1" if detect else "0"], cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)),
                                  capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{tree}: worker failed\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["per_second"] = r["events"] / r["seconds"]
    r["per_cpu_second"] = r["events"] / (r["cpu_main"] + r["cpu_writer"])
    r["cpu_server"] = server.seconds if server is not None else 0.0  # migrations included (not timed)
    r["per_cpu_second_all"] = r["events"] / (r["cpu_main"] + r["cpu_writer"] + r["cpu_server"])
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path, help="the other checkout")
    ap.add_argument("path", help="the input file")
    ap.add_argument("--format", default="access_log")
    ap.add_argument("--detect", action="store_true", help="with detection and response (Pipeline.from_settings)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engine", default="sqlite", choices=("sqlite", "mariadb", "postgresql"),
                    help="a server engine: a fresh netwarden_bench database each run (see bench_ingest); its server's "
                         "CPU is not in the events per CPU-second")
    args = ap.parse_args()
    trees = {"old": args.old.resolve(), "new": REPO}
    results: dict[str, list[dict]] = {"old": [], "new": []}
    for i in range(args.runs):
        for name in ("old", "new") if i % 2 == 0 else ("new", "old"):
            r = run(trees[name], args.path, args.format, args.detect, args.engine)
            results[name].append(r)
            print(f"{name}: {r['per_second']:,.0f} events/s, {r['per_cpu_second']:,.0f} events/CPU-s, "
                  f"{r['per_cpu_second_all']:,.0f} with the server's (main {r['cpu_main']:.1f} s, writer "
                  f"{r['cpu_writer']:.1f} s, server {r['cpu_server']:.1f} s), load {os.getloadavg()[0]:.1f}",
                  flush=True)
    for name, rs in results.items():
        print(f"{name} median: {statistics.median(r['per_second'] for r in rs):,.0f} events/s, "
              f"{statistics.median(r['per_cpu_second'] for r in rs):,.0f} events/CPU-s, "
              f"{statistics.median(r['per_cpu_second_all'] for r in rs):,.0f} with the server's")


if __name__ == "__main__":
    main()
