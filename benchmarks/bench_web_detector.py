"""The web attack detector alone under a flood of new alerts: CPU microseconds per line.

The input is ``bench_attack``'s flood from all the real log's ~1,750 client addresses (``inputs.attack_access_log``),
parsed once; ``WebAttack.process`` then runs over it in batches of 20,000 (the pipeline's), where nearly every line
is a finding of its own. CPU time of this process (``time.process_time``), so a loaded machine slows it less than
the wall clock; with ``--against`` (another checkout, e.g. ``git worktree add /tmp/old COMMIT``) that code runs in
its own processes, alternated with this one's.

``python -m benchmarks.bench_web_detector [--lines 20000] [--reps 3] [--against /tmp/old]``
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.inputs import attack_access_log

OUT = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parents[1]
BATCH = 20_000


def measure(path: Path) -> tuple[float, int]:
    """(CPU microseconds per line, findings) of one detector over the flood at ``path``."""
    from netwarden.detect.web_attack import WebAttack
    from netwarden.parse import get_parser
    from netwarden.parse.base import ParseContext

    parser = get_parser("access_log")(ParseContext())
    with path.open(encoding="utf-8") as f:
        events = [e for line in f if (e := parser.parse_line(line.rstrip("\n"))) is not None]
    detector = WebAttack()
    found = 0
    start = time.process_time()
    for i in range(0, len(events), BATCH):
        found += len(detector.process(events[i:i + BATCH]))
    return (time.process_time() - start) / len(events) * 1e6, found


def run(lines: int, reps: int, against: Path | None) -> dict[str, list[float]]:
    path = attack_access_log(OUT / f"attack-flood-{lines // 1000}k-all.log", lines, None)
    trees = {"new": REPO, **({"old": against.resolve()} if against is not None else {})}
    got: dict[str, list[float]] = {}
    for rep in range(reps):
        for name, code in sorted(trees.items(), key=lambda t: (t[0] == "old") == (rep % 2 == 1)):
            us, found = _measure_in(code, path)
            got.setdefault(name, []).append(us)
            print(f"  {name}: {us:.1f} CPU-µs/line, {found:,} findings", file=sys.stderr)
    return got


def _measure_in(code: Path, path: Path) -> tuple[float, int]:
    """``measure`` in a fresh process on the code of ``code`` (an older checkout need not have this file)."""
    script = Path(__file__).resolve()
    done = subprocess.run([sys.executable, str(script), "--measure", str(path)], capture_output=True, text=True,
                          check=True, cwd=code, env={**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{REPO}"})
    us, found = done.stdout.split()
    return float(us), int(found)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout, alternated with this one")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(*measure(args.measure))
        sys.exit()
    rows = run(args.lines, args.reps, args.against)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    for name, values in rows.items():
        print(f"{name}: median {statistics.median(values):.1f} CPU-µs/line of the web attack detector "
              f"(runs {', '.join(f'{v:.1f}' for v in values)}); {args.lines:,} lines from all addresses; load {load}")
