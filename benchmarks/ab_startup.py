"""Same-run A/B of the ``netwarden`` command's start-up: this tree against another checkout (``git worktree add
/tmp/old COMMIT``), old and new alternated, each run a fresh process. Prints, per command, the median wall
time and the median CPU time (user + system) of the process: on a loaded machine CPU is the figure to compare.

    python -m benchmarks.ab_startup /tmp/old [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CASES = {"--version": ["--version"], "--help": ["--help"], "events --help": ["events", "--help"],
         "events --csv (empty store)": ["--db", "sqlite:///{db}", "events", "--csv"]}


def _run(tree: Path, args: list[str], db: Path) -> tuple[float, float]:
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, "-c", "from netwarden.cli import main; main()",
                    *(a.format(db=db) for a in args)], env={**os.environ, "PYTHONPATH": str(tree)},
                   stdout=subprocess.DEVNULL, check=True, cwd=db.parent)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the other checkout")
    parser.add_argument("--runs", type=int, default=10)
    opts = parser.parse_args()
    trees = {"old": opts.old.resolve(), "new": REPO}
    times: dict[tuple[str, str], list[tuple[float, float]]] = {(t, c): [] for t in trees for c in CASES}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(opts.runs):
            for case, args in CASES.items():
                for tree in (("old", "new") if i % 2 else ("new", "old")):
                    # one store per tree: each migrates it to its own schema
                    times[(tree, case)].append(_run(trees[tree], args, Path(tmp) / f"{tree}.db"))
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print("| command | old wall s | new wall s | old CPU s | new CPU s | new/old CPU |\n|---|---:|---:|---:|---:|---:|")
    for case in CASES:
        (ow, oc), (nw, nc) = ([statistics.median(x) for x in zip(*times[(t, case)])] for t in trees)
        print(f"| `netwarden {case}` | {ow:.3f} | {nw:.3f} | {oc:.3f} | {nc:.3f} | {nc / oc:.2f} |")


if __name__ == "__main__":
    main()
