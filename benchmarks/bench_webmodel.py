"""The model of normal web requests (``http_profile``), judged honestly: trained on CSIC 2010 normal traffic,
tested on held-out normal requests and on attacks made with real tools against a shop we run.

1. CSIC 2010 ``normalTrafficTraining`` (36,000 requests) is split with a seed: 30,000 to train (the model
   keeps a fifth of them back to calibrate its threshold), 6,000 held out as normal test traffic.
2. ``netwarden.simulate.webshop.Shop`` (the CSIC shop's paths, on loopback) receives the held-out normal
   requests (replayed) and the attacks: sqlmap itself against pages with parameters (GET and POST), path
   probing, parameter tampering, oversized values, XSS and command injection (built with a seeded generator
   from the training requests' shapes). Its log, NetWarden JSON lines with the phase's label, is the test
   file; the model never sees any of it before scoring.
3. Figures at the model's own threshold (``fpr`` = 1 %, nothing tuned on the test file): precision,
   recall, F1, false-positive rate, recall per attack family; the same for the signature detector
   (``web_attack``) on the same requests, and for both together.
4. Stability: the whole protocol again with other seeds (split, calibration and generated attacks).
5. Speed: ``score`` over the test requests (parsing of the URL included), median of repetitions.

6. ``--tools``: the same split (seed 42), and attacks by real tools only (``netwarden.simulate.webtools``:
   dirb, wfuzz with its shipped lists, Debian packages), per-tool recall in its own section ``webmodel-tools``.

Run alone: ``python -m benchmarks.bench_webmodel [--quick] [--no-write] [--seeds=42,7,2026 | --seed=N ...]``
(rewrites its section of BENCHMARKS.md); the labelled test file and each seed's figures (``results-seedN.json``)
stay in ``benchmarks/out/webmodel/`` for ``netwarden model evaluate``; ``--assemble`` writes the section from the
saved figures of every seed (seeds run apart, e.g. in parallel, since sqlmap takes minutes per seed);
``--rescore`` measures the model again on the saved test files (after a change to the model, without sqlmap).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.inputs import datasets

OUT = Path(__file__).resolve().parent / "out" / "webmodel"
TRAIN_ROWS = 30_000
PER_FAMILY = 500
SQLMAP_PAGES = 6


def split(seed: int, quick: bool = False) -> tuple[list, list]:
    """CSIC 2010 normal training traffic cut with the seed: (requests to train on, held-out normal requests)."""
    from netwarden.learn.data import load_file

    events = load_file(datasets() / "csic-2010" / "normalTrafficTraining.txt.gz").events
    order = np.random.default_rng(seed).permutation(len(events))
    n_train = TRAIN_ROWS if not quick else 8_000
    train = [events[i] for i in order[:n_train]]
    return train, [events[i] for i in order[n_train:]][: (6_000 if not quick else 1_000)]


def saved(seed: int, quick: bool, log: Callable[[str], None]) -> tuple[list, Path, dict[str, Any]]:
    """Like :func:`build`, with the test file an earlier run wrote (``--rescore``: the model changed, the
    attacks did not; sqlmap is not run again)."""
    from netwarden.learn.data import load_file

    path = OUT / f"test-seed{seed}.jsonl"
    labels = [e.label for e in load_file(path, "netwarden").events]
    counts = {label: labels.count(label) for label in dict.fromkeys(labels)}
    log(f"webmodel: seed {seed}: saved test file {path.name}: {counts}")
    return split(seed, quick)[0], path, counts


def build(seed: int, quick: bool, log: Callable[[str], None]) -> tuple[list, Path, dict[str, Any]]:
    """Train events and the labelled test file (written through the shop) for one seed."""
    from netwarden.simulate import webshop

    train, held = split(seed, quick)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"test-seed{seed}.jsonl"
    path.unlink(missing_ok=True)
    shapes = webshop.shapes_of(train)
    per_family = PER_FAMILY if not quick else 60
    counts: dict[str, int] = {}
    started = time.perf_counter()
    with webshop.Shop(path) as shop:
        shop.label = "normal"
        counts["normal"] = webshop.send(shop.url, webshop.shapes_of(held))
        for family in webshop.FAMILIES:
            shop.label = family
            before = shop.requests
            if family == "sqli":
                rng = np.random.default_rng(seed)
                with_params = [s for s in shapes if s[2]]
                pages = SQLMAP_PAGES if not quick else 1
                # a directory per seed: seeds run in parallel must not flush each other's sqlmap session
                work = OUT / f"sqlmap-seed{seed}"
                work.mkdir(exist_ok=True)
                for k in rng.choice(len(with_params), pages, replace=False):
                    webshop.run_sqlmap(shop.url, with_params[int(k)], workdir=work)
            else:
                webshop.send(shop.url, webshop.attacks(family, shapes, per_family, seed))
            counts[family] = shop.requests - before
    log(f"webmodel: seed {seed}: test file {path.name}: {counts} in {time.perf_counter() - started:.0f} s")
    return train, path, counts


def measure(train: list, path: Path) -> dict[str, Any]:
    from netwarden.learn.base import create
    from netwarden.learn.data import load_file
    from netwarden.learn.request_profile import Profile

    test = load_file(path, "netwarden").events
    truth = np.array([e.label != "normal" for e in test])
    labels = np.array([e.label for e in test])
    model = create("http_profile")
    t = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - t
    times, cpu = [], []
    for _ in range(3):  # a fresh copy each time: no verdict cached from the previous pass
        fresh = type(model).__new__(type(model))
        fresh.__dict__.update(model.__dict__)
        fresh.profile_ = Profile(model.profile_.data)
        t, c = time.perf_counter(), time.process_time()
        scores = fresh.score(test)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    flagged = scores >= model.threshold
    out = {"model": _metrics(truth, flagged, labels), "fit_seconds": fit_seconds, "train_rows": len(train),
           "rate": len(test) / statistics.median(times), "cpu_rate": len(test) / statistics.median(cpu),
           "calibration": model.calibration_info_,
           # held-back normal requests without a single finding (the lowest score, all tied)
           "no_finding": float(np.mean(np.asarray(model.calibration_) == 0)), "fpr_param": model.params["fpr"],
           "rows": len(test)}
    signature = _signatures(test)
    out["signatures"] = _metrics(truth, signature, labels)
    out["either"] = _metrics(truth, signature | flagged, labels)
    return out


def _signatures(events: list) -> np.ndarray:
    """Per request, whether the web_attack detector names it in a finding (signatures alone)."""
    from netwarden.detect.web_attack import WebAttack

    detector = WebAttack(keep_events=True)
    hit = np.zeros(len(events), dtype=bool)
    index = {id(e): i for i, e in enumerate(events)}
    for start in range(0, len(events), 500):
        for finding in detector.process(events[start:start + 500]):
            for e in getattr(finding, "events", None) or []:
                if id(e) in index:
                    hit[index[id(e)]] = True
    return hit


def _metrics(truth: np.ndarray, flagged: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    tp = int((truth & flagged).sum())
    fp = int((~truth & flagged).sum())
    fn = int((truth & ~flagged).sum())
    tn = int((~truth & ~flagged).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": precision, "recall": recall, "fpr": fp / (fp + tn) if fp + tn else 0.0,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "confusion": [[tn, fp], [fn, tp]],
            "by_family": {str(f): float(flagged[labels == f].mean()) for f in sorted(set(labels.tolist()))}}


SEEDS = (42, 7, 2026)


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        log: Callable[[str], None] = print, seeds: Sequence[int] | None = None,
        rescore: bool = False) -> dict[str, Any]:
    seeds = seeds or ((42,) if quick else SEEDS)
    results: dict[str, Any] = {"seeds": []}
    for seed in seeds:
        train, path, counts = (saved if rescore else build)(seed, quick, log)
        r = measure(train, path)
        r.update(seed=seed, counts=counts, file=str(path.relative_to(OUT.parents[2])),
                 load=f"{os.getloadavg()[0]:.1f}", quick=quick)
        # each seed's figures are kept: seeds run apart (sqlmap takes minutes) are put together by --assemble
        (OUT / f"results-seed{seed}.json").write_text(json.dumps(r, indent=1))
        m = r["model"]
        log(f"webmodel: seed {seed}: precision {m['precision']:.4f} recall {m['recall']:.4f} F1 {m['f1']:.4f} "
            f"FPR {m['fpr']:.4f}; {r['rate']:,.0f} requests/s")
        results["seeds"].append(r)
    results["load"] = f"{os.getloadavg()[0]:.1f}"
    return results


def markdown(results: dict[str, Any], *, quick: bool = False) -> str:
    first = results["seeds"][0]
    fams = [f for f in first["model"]["by_family"] if f != "normal"]
    lines = [
        "## Model of normal web requests (http_profile) on CSIC 2010 and generated attacks",
        "",
        "Trained on CSIC 2010 normal training traffic (the model keeps a fifth back to calibrate its threshold at "
        "1 % false positives); tested on CSIC requests it never saw, replayed through a shop we run "
        "(`netwarden.simulate.webshop`), and attacks sent to the same shop: **sqlmap** (PyPI package, level 1, "
        f"{SQLMAP_PAGES} pages, GET and POST), path probing, parameter tampering, oversized values, XSS and "
        "command injection. The threshold is the model's own: nothing was tuned on a test file. "
        "`signatures` is the web_attack detector on the same requests; `either` alerts when one of them does.",
        "",
        "| seed | test requests (normal / attack) | who | precision | recall | F1 | FPR | "
        + " | ".join(f"{f} recall" for f in fams) + " |",
        "|" + "---|" * (7 + len(fams)),
    ]
    for r in results["seeds"]:
        normal = r["counts"]["normal"]
        for who in ("model", "signatures", "either"):
            m = r[who]
            lines.append(f"| {r['seed']} | {normal:,} / {r['rows'] - normal:,} | {who} | {m['precision']:.4f} | "
                         f"{m['recall']:.4f} | {m['f1']:.4f} | {m['fpr']:.4f} | "
                         + " | ".join(f"{m['by_family'].get(f, 0):.1%}" for f in fams) + " |")
    if results.get("note"):
        lines += ["", results["note"]]
    lines += ["", *verdict(results["seeds"]), "", *calibration_table(results["seeds"]), "",
        "Scoring speed on each seed's whole test file (one process, URL and body parsing included, fresh caches "
        "each pass, median of 3): "
        + "; ".join(f"seed {r['seed']}: {r['rate']:,.0f} requests/s of wall time, {r['cpu_rate']:,.0f} per "
                    f"CPU-second (load average {r.get('load', results.get('load', '?'))} on {os.cpu_count()} CPUs)"
                    for r in results["seeds"])
        + f". Training {first['fit_seconds']:.1f} s on {first['train_rows']:,} requests (seed {first['seed']}).",
        *([(OUT / "speed.md").read_text().strip()] if (OUT / "speed.md").exists() else []),
        "The signature detector reads what an access log holds (URL, user agent, referrer): attacks in POST "
        "form bodies reach only the model, which is most of the gap between the two rows.",
        "",
        "Reproduce: `pip install sqlmap` (or `.[bench]`), then `python -m benchmarks.bench_webmodel` (seeds 42, 7 "
        "and 2026; `--seed=N --no-write` runs one, e.g. in parallel, `--assemble` writes the section from their "
        "saved figures, `--rescore` re-measures a changed model on the saved test files); then, for one model "
        "in the registry, "
        "`netwarden model train -a http_profile --data ../shared/datasets/csic-2010/normalTrafficTraining.txt.gz "
        "--name shop` and `netwarden model evaluate shop --data benchmarks/out/webmodel/test-seed42.jsonl`.",
        "",
    ]
    return "\n".join(lines)


# issue 13: F1 >= 0.95 at <= 1 % false positives, and the seeds within 1 point of each other
GOAL_F1, GOAL_FPR, STABLE = 0.95, 0.01, 0.01


def verdict(seeds: list[dict[str, Any]]) -> list[str]:
    """The issue's goal per seed and the stability across seeds, computed from the figures (never assumed)."""
    m = [r["model"] for r in seeds]
    failed = [str(r["seed"]) for r in seeds if r["model"]["f1"] < GOAL_F1 or r["model"]["fpr"] > GOAL_FPR]
    goal = ("**holds on every seed**" if not failed else f"**is NOT met** on seed(s) {', '.join(failed)}")
    lines = [f"The issue's goal (F1 ≥ {GOAL_F1} at ≤ {GOAL_FPR:.0%} false positives) {goal}."]
    for what in ("f1", "recall", "precision", "fpr"):
        values = [x[what] for x in m]
        spread = max(values) - min(values)
        judged = "" if what == "fpr" else ": within ±1 point" if spread <= STABLE else ": NOT within ±1 point"
        name = {"f1": "F1", "fpr": "false-positive rate"}.get(what, what)
        lines.append(f"- {name} across {len(values)} seeds: "
                     f"{min(values):.4f}–{max(values):.4f}, mean {statistics.mean(values):.4f}, "
                     f"spread {spread * 100:.2f} points{judged}")
    fams = [f for f in m[0]["by_family"] if f != "normal"]
    worst = {f: min(x["by_family"].get(f, 0.0) for x in m) for f in fams}
    weakest = min(worst, key=worst.get)
    lines.append(f"- weakest family on any seed: {weakest}, recall "
                 + ", ".join(f"{x['by_family'].get(weakest, 0):.1%}" for x in m) + " (seeds "
                 + ", ".join(str(r["seed"]) for r in seeds) + ")")
    return lines


def calibration_table(seeds: list[dict[str, Any]]) -> list[str]:
    """How sure the false-positive figure is: the model's own calibration on its held-back normal requests
    (what ``netwarden model show`` prints) and the rate on the held-out normal test requests, each with its
    95 % Wilson interval from the number of rows behind it."""
    from netwarden.learn.evaluation import wilson

    lines = ["How sure the false-positive rate is (95 % Wilson intervals from the count of normal requests): "
             "`calibration` is what the model measured on the fifth of its training data it held back "
             "(`netwarden model show` prints it), `test` the held-out CSIC normal requests of the test file.",
             "",
             "| seed | calibration rows | of them with no finding | calibration FPR (95 % interval) "
             "| test normal rows | test FPR (95 % interval) |",
             "|---|---|---|---|---|---|"]
    for r in seeds:
        cal = r["calibration"]
        (tn, fp), _ = r["model"]["confusion"]
        lo, hi = wilson(fp, tn + fp)
        lines.append(f"| {r['seed']} | {cal['calibration_rows']:,} | {r.get('no_finding', float('nan')):.2%} | "
                     f"{cal['calibrated_fpr']:.2%} "
                     f"({cal['fpr_95'][0]:.2%}–{cal['fpr_95'][1]:.2%}) | {tn + fp:,} | {fp / (tn + fp):.2%} "
                     f"({lo:.2%}–{hi:.2%}) |")
    quiet = [r.get("no_finding", 0.0) for r in seeds]
    if all(q > 1 - r.get("fpr_param", 0.01) for q, r in zip(quiet, seeds, strict=True)):
        lines += ["", f"On every seed {min(quiet):.2%}–{max(quiet):.2%} of the held-back normal requests have no "
                  "finding at all (score 0, tied), more than the 99 % the `fpr` = 1 % threshold would let pass: "
                  "the threshold flags every request with any finding. The operating point is set by what the "
                  "profile calls new, not by the 1 % parameter, and the calibration measures what that costs "
                  "on normal traffic; the upper ends of the intervals are the figure to rely on."]
    return lines


def speed(reps: int = 5, log: Callable[[str], None] = print) -> str:
    """Scoring speed alone, on the saved test files of every seed: wall time and CPU time of ``score`` over a
    whole file, a fresh model copy (empty caches) each pass; medians, with the load average around it."""
    from netwarden.learn.base import create
    from netwarden.learn.data import load_file
    from netwarden.learn.request_profile import Profile

    model = create("http_profile").fit(split(42)[0])
    files = sorted(OUT.glob("test-seed*.jsonl"))
    tests = [e for f in files for e in load_file(f, "netwarden").events]
    what = f"the {len(tests):,} requests of the {len(files)} seeds' test files (normal and attack)"
    if not files:  # no test file yet (building one needs sqlmap): the held-out normal requests of seed 42
        tests = split(42)[1]
        what = f"the {len(tests):,} held-out CSIC normal requests of seed 42 (no saved test file: no attacks)"
    load_before = os.getloadavg()
    wall, cpu = [], []
    for _ in range(reps):
        fresh = type(model).__new__(type(model))
        fresh.__dict__.update(model.__dict__)
        fresh.profile_ = Profile(model.profile_.data)
        t, c = time.perf_counter(), time.process_time()
        fresh.score(tests)
        wall.append(len(tests) / (time.perf_counter() - t))
        cpu.append(len(tests) / (time.process_time() - c))
        log(f"webmodel speed: {wall[-1]:,.0f}/s wall, {cpu[-1]:,.0f}/CPU-s")
    load_after = os.getloadavg()
    return (f"Scoring speed alone ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC): {what} in one `score` call, "
            f"{reps} passes with empty "
            f"caches: median **{statistics.median(wall):,.0f} requests/s of wall time** (range {min(wall):,.0f}–"
            f"{max(wall):,.0f}), **{statistics.median(cpu):,.0f} per CPU-second** (range {min(cpu):,.0f}–"
            f"{max(cpu):,.0f}); load average {load_before[0]:.1f} before and {load_after[0]:.1f} after, on "
            f"{os.cpu_count()} CPUs shared with other work. Reproduce: `python -m benchmarks.bench_webmodel --speed`.")


TOOL_WORDS = 1_000  # dirb's common.txt and wfuzz's general/common.txt cut to this many words (picked with the seed)
TOOL_PAGES = 3


def tools(seed: int = 42, log: Callable[[str], None] = print) -> dict[str, Any]:
    """http_profile trained as in ``build`` (same split), tested on held-out normal requests and on the
    requests of real tools (dirb, wfuzz) sent to the shop; figures per tool family."""
    from netwarden.learn.base import create
    from netwarden.learn.data import load_file
    from netwarden.simulate import webshop, webtools

    train, held = split(seed)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"tools-seed{seed}.jsonl"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    with webshop.Shop(path) as shop:
        counts = {"normal": webshop.send(shop.url, webshop.shapes_of(held))}
        shapes = webshop.shapes_of(train)
        for family in webtools.TOOL_FAMILIES:  # the small shipped lists whole, the two long ones cut
            shop.label = family
            before = shop.requests
            words = TOOL_WORDS if family in ("dirb", "wfuzz-names") else None
            webtools.run_family(family, shop.url, shapes, OUT, seed=seed, pages=TOOL_PAGES, words=words,
                                timeout=240)
            counts[family] = shop.requests - before
            log(f"webmodel tools: {family}: {counts[family]} requests")
    tool_seconds = time.perf_counter() - started
    test = load_file(path, "netwarden").events
    labels = np.array([e.label for e in test])
    model = create("http_profile").fit(train)
    flagged = model.score(test) >= model.threshold
    return {"seed": seed, "counts": counts, "model": _metrics(labels != "normal", flagged, labels),
            "tool_seconds": tool_seconds, "load": f"{os.getloadavg()[0]:.1f}", "file": path.name,
            "at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"}


def tools_markdown(r: dict[str, Any]) -> str:
    from netwarden.simulate.webtools import TOOL_FAMILIES

    m = r["model"]
    lines = [
        "### The same model against real attack tools (dirb, wfuzz)",
        "",
        f"Same training split (seed {r['seed']}: 30,000 CSIC normal requests, threshold calibrated by the model at "
        f"1 % false positives), tested on {r['counts']['normal']:,} held-out CSIC normal requests and on what "
        "real tools sent to the shop (`netwarden.simulate.webtools`, Debian's `dirb` and `wfuzz`; each tool ran "
        "alone, so its phase's requests are its own; wfuzz's carry its `Wfuzz/3.1.0` user agent). "
        f"wfuzz fuzzed one parameter of {TOOL_PAGES} pages per list; dirb's common.txt and wfuzz's "
        f"general/common.txt were cut to {TOOL_WORDS:,} words. The generated families above stay for comparison.",
        "",
        f"Over all tool requests: precision {m['precision']:.4f}, recall {m['recall']:.4f}, F1 {m['f1']:.4f}, "
        f"FPR {m['fpr']:.4f} (confusion {m['confusion']}).",
        "",
        "| tool family | what | requests | recall (share flagged) |",
        "|---|---|---|---|",
        f"| normal | held-out CSIC normal | {r['counts']['normal']:,} | {m['by_family'].get('normal', 0):.2%} "
        "(false positives) |",
    ]
    for family, (tool, what) in TOOL_FAMILIES.items():
        lines.append(f"| {family} | {tool}: {what} | {r['counts'].get(family, 0):,} | "
                     f"{m['by_family'].get(family, 0):.1%} |")
    lines += ["", f"Run {r.get('at', '(time not kept)')}, load average {r['load']} on {os.cpu_count()} CPUs; "
              f"the tools took {r['tool_seconds']:.0f} s. "
              "Reproduce: `apt-get install dirb wfuzz` (scripts/system-packages), then "
              "`python -m benchmarks.bench_webmodel --tools`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    from benchmarks.__main__ import DOC, write_section

    if "--tools" in sys.argv:
        found = tools()
        (OUT / "results-tools.json").write_text(json.dumps(found, indent=1))
        text = tools_markdown(found)
        print(text)
        if "--no-write" not in sys.argv:
            write_section(DOC, "webmodel-tools", text)
        sys.exit(0)

    if "--speed" in sys.argv:  # kept for the section (--assemble puts it in)
        text = speed()
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "speed.md").write_text(text)
        print(text)
        sys.exit(0)
    quick = "--quick" in sys.argv
    chosen = [int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--seed=")]
    chosen += [int(v) for a in sys.argv if a.startswith("--seeds=") for v in a.split("=", 1)[1].split(",")]
    chosen = chosen or None
    if "--assemble" in sys.argv:  # the saved figures of every seed, no new run
        saved = [json.loads((OUT / f"results-seed{s}.json").read_text()) for s in (chosen or SEEDS)]
        results = {"seeds": saved, "load": ", ".join(r.get("load", "?") for r in saved)}
    else:
        results = run(quick=quick, seeds=chosen, rescore="--rescore" in sys.argv)
    body = markdown(results, quick=quick)
    print(body)
    if "--no-write" not in sys.argv:
        write_section(DOC, "webmodel", body)
