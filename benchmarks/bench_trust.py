"""Trust: each detector's false-positive rate on the ordinary-traffic corpus next to its recall on the attacks.

The corpus is ``netwarden.corpus`` (all 36,000 CSIC normal requests here; the test suite reads a subset).
Every detector runs with its default settings over each part, in time order, without a database.

- false-positive rate: ordinary sources (addresses that are neither a labelled attacker nor hostile) with
  an alert of the detector, out of all ordinary sources; also those alerted at medium or above, or at or
  above the block threshold (0.80);
- recall: labelled attackers of the detector's kind that it raised an alert about, out of all of them;
- precision: alerts about attackers (labelled or hostile) out of all its alerts — the figure the
  detectors' confidence is held to (``netwarden/detect/precision.json``, see the README).

Run alone: ``python -m benchmarks.bench_trust [--quick] [--write-precision]``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.inputs import datasets

OFFICES = 8  # simulated offices (seeds): each adds a few attackers of every kind to measure precision on
DETECTORS = ("brute_force", "dos", "exfiltration", "ids", "intel", "port_scan", "unusual_service", "web_attack")


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        log: Callable[[str], None] = print) -> dict:
    from netwarden import corpus
    from netwarden.records import Severity

    started = time.perf_counter()
    parts = corpus.parts(datasets(), csic_limit=3000 if quick else None, offices=2 if quick else OFFICES)
    per_part = []
    stats = {d: {"alerted": set(), "serious": set(), "attackers": 0, "caught": 0, "tp": 0, "fp": 0} for d in DETECTORS}
    ordinary_total = 0
    for part in parts:
        if only and only not in part.name:
            continue
        verdict = corpus.detect(part)
        ordinary = part.ordinary_sources()
        ordinary_total += len(ordinary)
        for alert in verdict.alerts:
            s = stats.setdefault(alert.detector, {"alerted": set(), "serious": set(), "attackers": 0, "caught": 0,
                                                  "tp": 0, "fp": 0})
            if verdict.is_attack(alert):
                s["tp"] += 1
            else:
                s["fp"] += 1
                who = (part.name, alert.source or alert.target)
                s["alerted"].add(who)
                if alert.severity.rank >= Severity.MEDIUM.rank or alert.confidence >= corpus.BLOCK_THRESHOLD:
                    s["serious"].add(who)
        for address, kind in part.attackers.items():
            s = stats.setdefault(kind, {"alerted": set(), "serious": set(), "attackers": 0, "caught": 0, "tp": 0,
                                        "fp": 0})
            s["attackers"] += 1
            s["caught"] += verdict.caught(address, kind)
        per_part.append({"part": part.name, "events": len(part.events), "ordinary": len(ordinary),
                         "attackers": len(part.attackers), "hostile": len(part.hostile),
                         "false_alarms": len(verdict.false_alarms), "serious": len(verdict.serious_false_alarms),
                         "missed": len(verdict.missed)})
        log(f"  {part.name}: {len(part.events):,} events, {len(verdict.false_alarms)} false alarms, "
            f"{len(verdict.missed)} missed")
    rows = []
    for name, s in sorted(stats.items()):
        rows.append({"detector": name, "ordinary": ordinary_total, "alerted": len(s["alerted"]),
                     "serious": len(s["serious"]), "attackers": s["attackers"], "caught": s["caught"],
                     "tp_alerts": s["tp"], "fp_alerts": s["fp"]})
    return {"rows": rows, "parts": per_part, "seconds": time.perf_counter() - started}


def precision(row: dict) -> float | None:
    """Alert precision with Laplace's rule of succession: (TP + 1) / (TP + FP + 2). Few alerts, little trust."""
    n = row["tp_alerts"] + row["fp_alerts"]
    return None if n == 0 else (row["tp_alerts"] + 1) / (n + 2)


def _pct(num: int, den: int, digits: int = 2) -> str:
    return "-" if den == 0 else f"{100 * num / den:.{digits}f}%"


def markdown(results: dict, *, quick: bool = False) -> str:
    rows, parts = results["rows"], results["parts"]
    events = sum(p["events"] for p in parts)
    ordinary = rows[0]["ordinary"] if rows else 0
    lines = [
        "## Trust: false positives on ordinary traffic, recall on attacks",
        "",
        f"Every detector (default settings) over the trust corpus (`netwarden.corpus`: {len(parts)} parts, "
        f"{events:,} events, {ordinary:,} ordinary sources{'; quick run: 3,000 CSIC requests' if quick else ''}). "
        "A false positive is an ordinary source (neither a labelled attacker nor a hostile address) that got an "
        "alert; recall counts the labelled attackers of the detector's kind that it named. Precision is over "
        "alerts, smoothed as (TP + 1) / (TP + FP + 2): it caps the detector's confidence (README, \"Severity "
        f"and confidence\"). {results['seconds']:.0f} s in all.",
        "",
        "| detector | false-positive rate (any alert) | ordinary sources alerted (medium+ or ≥ 0.80) | recall on attacks "
        "| alerts (attack / ordinary) | precision (smoothed) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        p = precision(r)
        lines.append(f"| {r['detector']} | {_pct(r['alerted'], r['ordinary'], 3)} ({r['alerted']} of {r['ordinary']:,}) "
                     f"| {r['serious']} | {_pct(r['caught'], r['attackers'], 0)} ({r['caught']} of {r['attackers']}) "
                     f"| {r['tp_alerts']} / {r['fp_alerts']} | {'-' if p is None else f'{p:.3f}'} |")
    lines += ["", "Per part:", "", "| part | events | ordinary sources | labelled attackers | hostile | false alarms "
              "| of them medium+ or ≥ 0.80 | attackers missed |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in parts:
        lines.append(f"| {p['part']} | {p['events']:,} | {p['ordinary']:,} | {p['attackers']} | {p['hostile']} "
                     f"| {p['false_alarms']} | {p['serious']} | {p['missed']} |")
    lines += ["", "Reproduce: `python -m benchmarks.bench_trust` (the test suite's version, on a subset: "
              "`tests/detect/test_benign_corpus.py`)."]
    return "\n".join(lines) + "\n"


def write_precision(results: dict, path: Path) -> None:
    table = {r["detector"]: round(p, 4) for r in results["rows"] if (p := precision(r)) is not None}
    path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    out = run(quick=quick, log=lambda m: print(m, file=sys.stderr))
    print(markdown(out, quick=quick))
    if "--write-precision" in sys.argv:
        write_precision(out, Path(__file__).resolve().parents[1] / "netwarden" / "detect" / "precision.json")
