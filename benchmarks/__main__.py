"""Run every benchmark and rewrite its section of BENCHMARKS.md: ``benchmarks/run`` (or ``python -m benchmarks``).

Each benchmark owns the part of BENCHMARKS.md between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``;
everything else in the file is left as it is, so benchmarks added later keep their own sections.
A benchmark module provides ``run(quick=, engines=, only=, reps=, log=)`` returning results and
``markdown(results, quick=)`` rendering them; add it to BENCHMARKS below.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import bench_detect, bench_ingest, bench_netflow, bench_pcap, bench_syslog
from benchmarks import bench_respond
from benchmarks import bench_sequence
from benchmarks import bench_learn
from benchmarks import bench_lofo
from benchmarks import bench_seeds
from benchmarks import bench_analysis
from benchmarks import bench_web
from benchmarks import bench_attack
from benchmarks import bench_backtest
from benchmarks import bench_webmodel
from benchmarks import bench_trust
from benchmarks import bench_reports
from benchmarks import bench_ssh
from benchmarks import bench_uncached

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "BENCHMARKS.md"
BENCHMARKS = {"ingest": bench_ingest, "syslog": bench_syslog, "netflow": bench_netflow, "pcap": bench_pcap,
              "detect": bench_detect}
BENCHMARKS["respond"] = bench_respond
BENCHMARKS["sequence"] = bench_sequence
BENCHMARKS["learn"] = bench_learn
BENCHMARKS["lofo"] = bench_lofo
BENCHMARKS["seeds"] = bench_seeds
BENCHMARKS["analysis"] = bench_analysis
BENCHMARKS["web"] = bench_web
BENCHMARKS["attack"] = bench_attack
BENCHMARKS["backtest"] = bench_backtest
BENCHMARKS["webmodel"] = bench_webmodel
BENCHMARKS["trust"] = bench_trust
BENCHMARKS["reports"] = bench_reports
BENCHMARKS["ssh"] = bench_ssh
BENCHMARKS["uncached"] = bench_uncached
COMMAND = "benchmarks/run"


def machine(engines: list[str], load_before: tuple[float, float, float], load_after: tuple[float, float, float],
            minutes: float, quick: bool) -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        kib = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        ram = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown"
    versions = bench_ingest.server_versions(engines)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "netwarden"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
        code = f"commit {commit}" + (" with uncommitted changes under netwarden/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        code = "not a git checkout"

    import sqlalchemy

    lines = [
        f"- Date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}{' (quick run: small sizes)' if quick else ''}",
        f"- Code: {code}",
        f"- Machine: {os.cpu_count()} CPUs (`nproc`), {cpu}, {ram} RAM, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}; "
        + ", ".join(f"{name} {version}" for name, version in versions.items() if name != "error")
        + f" (all on this machine, loopback){'; ' + versions['error'] if 'error' in versions else ''}",
        f"- Load average (1/5/15 min) before the run: {_load(load_before)}; after: {_load(load_after)} "
        f"({minutes:.0f} minutes in all). Other work on the machine makes the figures noisier.",
        f"- Reproduce: `{COMMAND}` from the repository root, in the project's virtualenv "
        "(datasets from `../shared/datasets` or `$NETWARDEN_DATASETS`).",
    ]
    return "\n".join(lines) + "\n"


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def publish(name: str, body: str, *, write: bool = True) -> None:
    """A benchmark run alone (``python -m benchmarks.bench_X``): print its section, and write it unless told not."""
    print(body)
    if write:
        write_section(DOC, name, body)


def write_section(path: Path, name: str, body: str) -> None:
    """Replace the text between the markers of ``name`` (appending the section if it is missing)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Run the benchmarks and update BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true", help="small inputs, one run each (for development)")
    parser.add_argument("--engines", default=",".join(bench_ingest.ENGINES),
                        help="comma-separated: sqlite,mariadb,postgresql")
    parser.add_argument("--only", help="only inputs whose name contains this text")
    parser.add_argument("--reps", type=int, help="runs per configuration (default: 3 for headlines, 1 else)")
    parser.add_argument("--no-write", action="store_true", help="print the tables, leave BENCHMARKS.md alone")
    parser.add_argument("--doc", type=Path, default=DOC, help="the file to update (default BENCHMARKS.md)")
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    load_before = os.getloadavg()
    started = time.time()
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    sections: dict[str, str] = {}
    for name, module in BENCHMARKS.items():
        log(f"{name}:")
        results = module.run(quick=args.quick, engines=engines, only=args.only, reps=args.reps, log=log)
        sections[name] = module.markdown(results, quick=args.quick)
    sections = {"machine": machine(engines, load_before, os.getloadavg(), (time.time() - started) / 60,
                                   args.quick), **sections}
    for name, body in sections.items():
        print(f"<!-- {name} -->\n{body}")
        if not args.no_write:
            write_section(args.doc, name, body)
    if not args.no_write:
        log(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
