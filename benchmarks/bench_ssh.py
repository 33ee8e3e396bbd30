"""SSH logs against fail2ban: ``netwarden ingest`` (parse, detect, store in SQLite) and Debian's ``fail2ban-regex``
(the sshd filter; it only matches: it stores and detects nothing) on the same files, alternated in the same run.

Inputs (``inputs.ssh_log``): loghub's OpenSSH_2k.log repeated to 1,000,000 lines, once from its 30 client
addresses ("few") and once with every copy moved to other addresses (3,000 addresses, "many"). Each run is a fresh
process timed from start to exit (start-up included on both sides), and its CPU time (user + system of the process
and its children, e.g. NetWarden's writer) is read from ``getrusage``: on this shared machine the CPU seconds and
the same-run ratios are the figures to compare. fail2ban-regex runs as its daemon would read a log: ``--raw`` (no
DNS), ``--no-check-all`` (stop at the first matching rule), missed and ignored lines not kept for printing.

Run alone: ``python -m benchmarks.bench_ssh [--quick] [--reps N] [--lines N]``; part of ``benchmarks/run``.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.inputs import ssh_log

OUT = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parents[1]
TARGET = 2.0  # NetWarden at least twice as fast as fail2ban-regex
NETWARDEN = [sys.executable, "-c", "from netwarden.cli import main; main()"]
FAIL2BAN = ["fail2ban-regex", "--raw", "--no-check-all", "--print-no-missed", "--print-no-ignored"]
INPUTS = (("few", 1), ("many", 100))  # (name, address variants)


def _timed(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds and CPU seconds (this process's reaped children: the command and its own children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-4:])}: exit {done.returncode}: {done.stderr[-800:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu, done.stdout + done.stderr


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        lines: int | None = None, log: Callable[[str], None] = print) -> list[dict]:
    if shutil.which(FAIL2BAN[0]) is None:
        log("  fail2ban-regex not installed (Debian package fail2ban, scripts/system-packages): skipped")
        return []
    lines = lines or (100_000 if quick else 1_000_000)
    reps = 1 if quick else (reps or 2)
    rows = []
    for name, variants in INPUTS:
        if only and only not in f"ssh {name}":
            continue
        path = ssh_log(OUT / f"ssh-{lines // 1000}k-{name}.log", lines, variants)
        row: dict = {"name": name, "lines": lines, "addresses": 30 * variants, "netwarden": [], "fail2ban": []}
        with tempfile.TemporaryDirectory(prefix="nw-ssh-") as tmp:
            for rep in range(reps):
                db = Path(tmp) / f"{rep}.db"
                wall, cpu, out = _timed(NETWARDEN + ["ingest", "-f", "syslog", "--no-progress", "--db",
                                                     f"sqlite:///{db}", str(path)])
                stored = re.search(r"events stored\s+([\d,]+)", out)
                alerts = re.search(r"alerts\s+([\d,]+) new", out)
                row["netwarden"].append((wall, cpu))
                row["events"] = int(stored.group(1).replace(",", "")) if stored else None
                row["alerts"] = int(alerts.group(1).replace(",", "")) if alerts else 0
                db.unlink(missing_ok=True)
                wall_f, cpu_f, out = _timed(FAIL2BAN + [str(path), "sshd"])
                matched = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", out)
                row["fail2ban"].append((wall_f, cpu_f))
                row["matched"] = int(matched.group(1)) if matched else None
                log(f"  ssh {name} ({lines:,} lines), run {rep + 1}: netwarden {wall:.1f} s (CPU {cpu:.1f} s), "
                    f"fail2ban-regex {wall_f:.1f} s (CPU {cpu_f:.1f} s): {wall_f / wall:.2f}x wall, "
                    f"{cpu_f / cpu:.2f}x CPU; load {os.getloadavg()[0]:.1f}")
        row["load"] = os.getloadavg()
        rows.append(row)
    return rows


def markdown(rows: list[dict], *, quick: bool = False) -> str:
    out = ["## SSH logs against fail2ban", "",
           "`netwarden ingest -f syslog` (parse, all detectors, store in SQLite) and Debian's `fail2ban-regex` "
           "(fail2ban 1.0, the `sshd` filter, run as the daemon reads: `--raw --no-check-all`, missed lines not "
           "kept) on the same file, alternated in the same run; each a fresh process timed from start to exit. "
           "*CPU* is user + system time of the process and its children (NetWarden's writer process). The ratio "
           "is fail2ban-regex's time over NetWarden's (above 1: NetWarden is faster); target ≥ "
           f"{TARGET:.0f}×. Input: loghub's OpenSSH_2k.log repeated (few: its 30 client addresses; many: 100× "
           "more addresses). Reproduce: `python -m benchmarks.bench_ssh` (part of `benchmarks/run`).", ""]
    if not rows:
        return "\n".join(out + ["Not run: `fail2ban-regex` is not installed (`scripts/system-packages`)."]) + "\n"
    out += ["| input | lines | addresses | NetWarden wall s | CPU s | events per CPU s | fail2ban-regex wall s "
            "| CPU s | lines per CPU s | ratio (wall) | ratio (CPU) | target |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        nw_wall = statistics.median(w for w, _ in r["netwarden"])
        nw_cpu = statistics.median(c for _, c in r["netwarden"])
        f_wall = statistics.median(w for w, _ in r["fail2ban"])
        f_cpu = statistics.median(c for _, c in r["fail2ban"])
        pairs = [fw / nw for (nw, _), (fw, _) in zip(r["netwarden"], r["fail2ban"])]
        ratio = statistics.median(pairs)
        out.append(f"| {r['name']} | {r['lines']:,} | {r['addresses']:,} | {nw_wall:.1f} | {nw_cpu:.1f} | "
                   f"{r['lines'] / nw_cpu:,.0f} | {f_wall:.1f} | {f_cpu:.1f} | {r['lines'] / f_cpu:,.0f} | "
                   f"{ratio:.2f} | {f_cpu / nw_cpu:.2f} | {'met' if ratio >= TARGET else 'not met'} |")
    out.append("")
    for r in rows:
        runs = ", ".join(f"{fw / nw:.2f}" for (nw, _), (fw, _) in zip(r["netwarden"], r["fail2ban"]))
        cpu_runs = ", ".join(f"{fc / nc:.2f}" for (_, nc), (_, fc) in zip(r["netwarden"], r["fail2ban"]))
        out.append(f"- {r['name']}: {len(r['netwarden'])} alternated pairs, wall ratios {runs}, CPU ratios {cpu_runs} "
                   f"(the figure to compare under load); NetWarden stored "
                   f"{r.get('events') or 0:,} events and raised {r.get('alerts', 0):,} new alerts, fail2ban-regex "
                   f"matched {r.get('matched') or 0:,} lines; load average after: "
                   f"{' / '.join(f'{x:.1f}' for x in r['load'])}.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--lines", type=int, help="lines per input (default 1,000,000; --quick 100,000)")
    args = parser.parse_args()
    print(markdown(run(quick=args.quick, reps=args.reps, lines=args.lines, log=lambda m: print(m, file=sys.stderr)), quick=args.quick))
