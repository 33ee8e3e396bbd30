"""SSH logs against fail2ban: ``netwarden ingest`` (parse, detect, store in SQLite) and Debian's ``fail2ban-regex``
(the sshd filter; it only matches: it stores and detects nothing) on the same files, alternated in the same run.

Inputs (``inputs.ssh_log``): loghub's OpenSSH_2k.log repeated to 1,000,000 lines, once from its 30 client
addresses ("few") and once with every copy moved to other addresses (3,000 addresses, "many"). Each run is a fresh
process timed from start to exit (start-up included on both sides), and its CPU time (user + system of the process
and its children, e.g. NetWarden's writer) is read from ``getrusage``: on this shared machine the CPU seconds and
the same-run ratios are the figures to compare. fail2ban-regex runs as its daemon would read a log: ``--raw`` (no
DNS), ``--no-check-all`` (stop at the first matching rule), missed and ignored lines not kept for printing.

Run alone: ``python -m benchmarks.bench_ssh [--quick] [--reps N] [--lines N] [--against DIR]``; part of
``benchmarks/run``. ``--against DIR``: another checkout's NetWarden (old code) alternated in the same run, each
pair of runs then also compared old against new.
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
# the ingest, which also says its own process's CPU at exit (without its writer process's): on two idle cores
# the parsing process is the critical path, so its CPU against fail2ban-regex's is what bounds the wall ratio
NETWARDEN = [sys.executable, "-c", "import atexit, resource, sys\n"
             "def said(): u = resource.getrusage(resource.RUSAGE_SELF); "
             "print(f'main-process CPU s: {u.ru_utime + u.ru_stime:.3f}, max RSS MB: {u.ru_maxrss / 1024:.0f}', "
             "file=sys.stderr)\n"
             "atexit.register(said)\nfrom netwarden.cli import main; main()"]
FAIL2BAN = ["fail2ban-regex", "--raw", "--no-check-all", "--print-no-missed", "--print-no-ignored"]
INPUTS = (("few", 1), ("many", 100))  # (name, address variants)


def _timed(argv: list[str], tree: Path = REPO, cwd: Path = REPO) -> tuple[float, float, str]:
    """Wall seconds and CPU seconds (this process's reaped children: the command and its own children);
    ``tree``: the checkout whose code runs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(tree)})
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-4:])}: exit {done.returncode}: {done.stderr[-800:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu, done.stdout + done.stderr


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        lines: int | None = None, against: Path | None = None, log: Callable[[str], None] = print) -> list[dict]:
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
        row: dict = {"name": name, "lines": lines, "addresses": 30 * variants, "netwarden": [], "fail2ban": [],
                     "old": []}
        with tempfile.TemporaryDirectory(prefix="nw-ssh-") as tmp:
            for rep in range(reps):
                if against is not None:  # the old code first, then the new, then fail2ban-regex
                    old = _ingest(Path(tmp) / f"old{rep}.db", path, against.resolve())
                    row["old"].append(old[:2])
                    row["old_events"], row["old_alerts"] = old[2:4]
                    row.setdefault("old_main", []).append(old[4])
                    row.setdefault("old_rss", []).append(old[5])
                wall, cpu, row["events"], row["alerts"], main, rss = _ingest(Path(tmp) / f"{rep}.db", path, REPO)
                row["netwarden"].append((wall, cpu))
                row.setdefault("main", []).append(main)
                row.setdefault("rss", []).append(rss)
                wall_f, cpu_f, out = _timed(FAIL2BAN + [str(path), "sshd"])
                matched = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", out)
                row["fail2ban"].append((wall_f, cpu_f))
                row["matched"] = int(matched.group(1)) if matched else None
                log(f"  ssh {name} ({lines:,} lines), run {rep + 1}: netwarden {wall:.1f} s (CPU {cpu:.1f} s), "
                    f"fail2ban-regex {wall_f:.1f} s (CPU {cpu_f:.1f} s): {wall_f / wall:.2f}x wall, "
                    f"{cpu_f / cpu:.2f}x CPU; main process CPU {main} s, max RSS {rss} MB"
                    + (f"; old code {row['old'][-1][0]:.1f} s (CPU {row['old'][-1][1]:.1f} s, main process "
                       f"{row['old_main'][-1]} s)" if row["old"] else "") + f"; load {os.getloadavg()[0]:.1f}")
        row["load"] = os.getloadavg()
        rows.append(row)
    return rows


def _ingest(db: Path, path: Path, tree: Path) -> tuple[float, float, int | None, int, float | None, int | None]:
    """``netwarden ingest`` of ``path`` by the code of ``tree`` into a new SQLite file: wall s, CPU s, events stored,
    new alerts, the parsing process's own CPU s and its peak memory (MB: flat whatever the input's length). It runs in the database's folder, as in a fresh installation: a checkout's own folders (rule
    files its tests left in ./netwarden-rules) would be read as settings."""
    wall, cpu, out = _timed(NETWARDEN + ["ingest", "-f", "syslog", "--no-progress", "--db", f"sqlite:///{db}",
                                         str(path)], tree, db.parent)
    stored = re.search(r"events stored\s+([\d,]+)", out)
    alerts = re.search(r"alerts\s+([\d,]+) new", out)
    main = re.search(r"main-process CPU s: ([\d.]+)", out)
    rss = re.search(r"max RSS MB: (\d+)", out)
    db.unlink(missing_ok=True)
    return wall, cpu, int(stored.group(1).replace(",", "")) if stored else None, \
        int(alerts.group(1).replace(",", "")) if alerts else 0, float(main.group(1)) if main else None, \
        int(rss.group(1)) if rss else None


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
        mains = [m for m in r.get("main", []) if m]
        if mains:
            out.append(f"  - NetWarden's parsing process alone (without its writer): "
                       f"{', '.join(f'{m:.1f}' for m in mains)} CPU-s; fail2ban-regex's CPU over it, per pair: "
                       f"{', '.join(f'{fc / m:.2f}' for (_, fc), m in zip(r['fail2ban'], r['main']) if m)}; "
                       f"its peak memory {', '.join(f'{m} MB' for m in r.get('rss', []) if m)}"
                       + (f" (old code: {', '.join(f'{m} MB' for m in r.get('old_rss', []) if m)})"
                          if r.get("old_rss") else "") + ".")
        if r["old"]:
            f_wall = statistics.median(w for w, _ in r["fail2ban"])
            f_cpu = statistics.median(c for _, c in r["fail2ban"])
            old_wall = statistics.median(w for w, _ in r["old"])
            old_cpu = statistics.median(c for _, c in r["old"])
            out.append(f"  - old code (`--against`): wall {old_wall:.1f} s, CPU {old_cpu:.1f} s (medians; new/old "
                       f"CPU per pair: {', '.join(f'{n[1] / o[1]:.2f}' for n, o in zip(r['netwarden'], r['old']))}; "
                       f"old/fail2ban wall ratio {f_wall / old_wall:.2f}, CPU {f_cpu / old_cpu:.2f}); "
                       f"it stored {r.get('old_events') or 0:,} events and raised {r.get('old_alerts', 0):,} "
                       "new alerts.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--lines", type=int, help="lines per input (default 1,000,000; --quick 100,000)")
    parser.add_argument("--against", type=Path, help="another checkout (old code), alternated with this one")
    args = parser.parse_args()
    print(markdown(run(quick=args.quick, reps=args.reps, lines=args.lines, against=args.against, log=lambda m: print(m, file=sys.stderr)), quick=args.quick))
