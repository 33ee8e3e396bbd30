"""Same-run A/B of ``ingest``: this tree against another checkout (``git worktree add /tmp/old COMMIT``),
alternating old and new, each run in a fresh process on a fresh SQLite file. Reports events per second and
events per CPU-second (the ingesting process and its writer process): on a loaded machine the latter is the
figure to compare.

    python -m benchmarks.ab_ingest /tmp/old access.log [--detect] [--runs 3] [--format access_log]
"""

from __future__ import annotations

import argparse
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


def run(tree: Path, path: str, fmt: str, detect: bool) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        proc = subprocess.run([sys.executable, "-c", WORKER, f"sqlite:///{scratch}/ab.db", path, fmt,
                               "1" if detect else "0"], cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)),
                              capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{tree}: worker failed\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["per_second"] = r["events"] / r["seconds"]
    r["per_cpu_second"] = r["events"] / (r["cpu_main"] + r["cpu_writer"])
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path, help="the other checkout")
    ap.add_argument("path", help="the input file")
    ap.add_argument("--format", default="access_log")
    ap.add_argument("--detect", action="store_true", help="with detection and response (Pipeline.from_settings)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    trees = {"old": args.old.resolve(), "new": REPO}
    results: dict[str, list[dict]] = {"old": [], "new": []}
    for i in range(args.runs):
        for name in ("old", "new") if i % 2 == 0 else ("new", "old"):
            r = run(trees[name], args.path, args.format, args.detect)
            results[name].append(r)
            print(f"{name}: {r['per_second']:,.0f} events/s, {r['per_cpu_second']:,.0f} events/CPU-s, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    for name, rs in results.items():
        print(f"{name} median: {statistics.median(r['per_second'] for r in rs):,.0f} events/s, "
              f"{statistics.median(r['per_cpu_second'] for r in rs):,.0f} events/CPU-s")


if __name__ == "__main__":
    main()
