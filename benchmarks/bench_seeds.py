"""How much a supervised model's figures move with its seed alone (issue 13: "stable across seeds, ± 1 point").

The data split is fixed (the one of ``bench_learn``, split seed 42); only the model's ``seed`` changes, which
moves its own calibration split (15 % of the training rows held back to set the threshold), the trees' bootstrap
samples and features, and KNN's class-balanced sample. Two splits of NSL-KDD ``KDDTrain+``:

- ``70/30``: random split stratified by attack category (every family seen in training);
- ``held-out families``: trained on normal, DoS and Probe only, tested on 30 % of those plus every R2L and U2R
  row (attacks of kinds absent from training: where a seed matters most).

Each (split, configuration, seed) is saved as it finishes in ``benchmarks/out/seeds/`` and not run again while
its file is there; ``--assemble`` writes the section from the saved runs, ``--only=NAME`` runs the configurations
whose name starts with NAME, ``--seeds=42,7`` only those seeds; ``--unseen`` runs instead R2L left out
(``bench_lofo``'s protocol at 5 % false positives) with its data split fixed, to tell the model seed's share of
the spread of R2L caught from the data split's.

Run alone: ``nice python -m benchmarks.bench_seeds [--only=random_forest] [--assemble] [--no-write]``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out" / "seeds"
SEEDS = (42, 7, 2026, 1, 99)
SPLITS = ("70/30", "held-out families")
UNSEEN = "R2L"
LOFO = "R2L left out"  # the unseen family whose share caught moved most across bench_lofo's seeds
#: configuration -> (algorithm, parameters): the shipped defaults first
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "random_forest (default)": ("random_forest", {}),
    "gradient_boosting (default)": ("gradient_boosting", {}),
    "knn (default)": ("knn", {}),
    "logistic_regression (default)": ("logistic_regression", {}),
    # the distance threshold from the held-back normal rows, or from every normal row's distance to the others
    "forest_novelty (calibration=held)": ("forest_novelty", {"calibration": "held"}),
    "forest_novelty (calibration=all)": ("forest_novelty", {"calibration": "all"}),
}
GOAL_SPREAD = 0.02  # ± 1 point


def _splits(events: list) -> dict[str, tuple[list, list]]:
    from benchmarks.bench_learn import SEEN, _category, _split

    seen = [e for e in events if _category(e) in SEEN]
    unseen = [e for e in events if _category(e) not in SEEN]
    seen_train, seen_test = _split(seen)
    return {"70/30": _split(events), "held-out families": (seen_train, seen_test + unseen)}


def _file(split: str, config: str, seed: int) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in f"{split}-{config}").strip("-")
    return OUT / f"{slug}-{seed}.json"


def one(split: str, train: list, test: list, config: str, seed: int) -> dict[str, Any]:
    from netwarden.learn import data
    from netwarden.learn.base import create
    from netwarden.learn.evaluation import evaluate

    algorithm, params = CONFIGS[config]
    model = create(algorithm, **{**params, "seed": seed})
    started, cpu = time.perf_counter(), time.process_time()
    model.fit(train, data.targets(train, "binary"))
    fit_seconds, fit_cpu = time.perf_counter() - started, time.process_time() - cpu
    scores = model.score(test)
    m = evaluate(data.targets(test, "binary"), scores, ["attack" if s >= model.threshold else "normal"
                                                        for s in scores], model.threshold)
    return {"split": split, "config": config, "seed": seed, "fit_seconds": fit_seconds, "fit_cpu": fit_cpu,
            "load": round(os.getloadavg()[0], 1), "train_rows": len(train), "test_rows": len(test),
            **{k: m[k] for k in ("accuracy", "precision", "recall", "f1", "fpr", "roc_auc", "threshold")}}


def one_unseen(events: list, config: str, seed: int) -> dict[str, Any]:
    """R2L left out (bench_lofo's protocol at 5 % false positives), the data split fixed, the model seed moved."""
    from netwarden.learn.evaluation import leave_family_out

    algorithm, params = CONFIGS[config]
    started = time.perf_counter()
    r = leave_family_out(events, UNSEEN, algorithm, params, fpr=0.05, seed=42, model_seed=seed)
    return {"split": LOFO, "config": config, "seed": seed, "fit_seconds": time.perf_counter() - started,
            "load": round(os.getloadavg()[0], 1), "accuracy": r["accuracy"], "caught": r["caught"], "fpr": r["fpr"],
            "recall": r["caught"], "train_rows": r["train_rows"], "test_rows": r["test_rows"]}


def run(only: str | None = None, seeds: tuple[int, ...] = SEEDS, unseen: bool = False,
        log: Callable[[str], None] = print, *, quick: bool = False, engines: list[str] | None = None,
        reps: int | None = None) -> list[dict[str, Any]]:
    """``quick``: two seeds (``engines``, ``reps``: unused, the interface of benchmarks/__main__)."""
    seeds = seeds[:2] if quick else seeds
    from benchmarks.bench_learn import _load
    from benchmarks.inputs import datasets

    OUT.mkdir(parents=True, exist_ok=True)
    events = _load(datasets() / "nsl-kdd" / "KDDTrain+.txt.gz", "nsl_kdd")
    splits = _splits(events)
    for config in CONFIGS:
        if only and not config.startswith(only):
            continue
        for split in (LOFO,) if unseen else SPLITS:
            for seed in seeds:
                saved = _file(split, config, seed)
                if saved.exists():
                    continue
                r = one_unseen(events, config, seed) if split == LOFO else one(split, *splits[split], config, seed)
                saved.write_text(json.dumps(r))
                log(f"seeds: {split} {config} seed {seed}: accuracy {r['accuracy']:.4f} FPR {r['fpr']:.4f} "
                    f"recall {r['recall']:.4f} ({r['fit_seconds']:.0f} s, load {r['load']})")
    return assemble()


def assemble() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(OUT.glob("*.json"))]


def _span(values: list[float], pct: bool = True) -> str:
    fmt = (lambda v: f"{100 * v:.2f}") if pct else (lambda v: f"{v:.4f}")
    return f"{fmt(min(values))}–{fmt(max(values))}"


def markdown(rows: list[dict[str, Any]], quick: bool = False) -> str:
    lines = [
        "## Supervised models: how much the seed alone moves them (NSL-KDD)",
        "",
        "`KDDTrain+.txt.gz`, the data split fixed (bench_learn's, split seed 42); only the model's `seed` changes "
        f"({', '.join(map(str, SEEDS))}): its calibration split, bootstrap samples, features tried, KNN's sample. "
        "*70/30*: random split stratified by category; *held-out families*: trained on normal, DoS and Probe, "
        "tested with every R2L and U2R row added. Figures in percent, min–max over the seeds; *spread* is the "
        "accuracy's max − min. Goal (issue 13): ± 1 point, i.e. a spread ≤ 2 points.",
        "",
        "| configuration | split | seeds | accuracy | spread (points) | recall | FPR | fit (median) | goal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for config in dict.fromkeys(r["config"] for r in rows):
        for split in SPLITS:
            got = [r for r in rows if r["config"] == config and r["split"] == split]
            if not got:
                continue
            acc = [r["accuracy"] for r in got]
            spread = max(acc) - min(acc)
            verdict = "met" if len(got) > 1 and spread <= GOAL_SPREAD + 1e-9 else "not met" if len(got) > 1 else "-"
            lines.append(f"| {config} | {split} | {len(got)} | {_span(acc)} | {100 * spread:.2f} | "
                         f"{_span([r['recall'] for r in got])} | {_span([r['fpr'] for r in got])} | "
                         f"{statistics.median(r['fit_seconds'] for r in got):.0f} s | {verdict} |")
    spreads = {(r["config"], r["split"]): [] for r in rows if r["split"] in SPLITS}
    for r in rows:
        if r["split"] in SPLITS:
            spreads[(r["config"], r["split"])].append(r["accuracy"])
    if spreads:
        worst = max(spreads, key=lambda k: max(spreads[k]) - min(spreads[k]))
        spread = max(spreads[worst]) - min(spreads[worst])
        lines += ["", f"Largest accuracy spread: {100 * spread:.2f} points ({worst[0]}, {worst[1]}): the shipped "
                      f"supervised defaults measured {'are' if spread <= GOAL_SPREAD else 'are NOT'} stable within ± 1 point "
                      "on these splits. The issue's 88.3–90.1 % (\"the best random forest, depending only on its "
                      "seed\") comes from a run whose test set is not recorded (the official KDDTest+ is not here): it "
                      "cannot be re-run; on this stand-in none measured unstable, so no default was changed."]
    missing = [c for c in CONFIGS if not any(r["config"] == c for r in rows)]
    if missing:
        lines += ["", f"Not measured (stopped for time on the shared machine): {', '.join(missing)}."]
    unseen = [r for r in rows if r["split"] == LOFO]
    if unseen:
        lines += ["", f"**{LOFO}**, bench_lofo's protocol at 5 % false positives but its data split fixed (seed 42): "
                      "what the model seed alone does to the share of the unseen family caught.", "",
                  "| configuration | seeds | R2L caught | spread (points) | FPR | accuracy |", "|---|---|---|---|---|---|"]
        for config in dict.fromkeys(r["config"] for r in unseen):
            got = [r for r in unseen if r["config"] == config]
            caught = [r["caught"] for r in got]
            lines.append(f"| {config} | {len(got)} | {_span(caught)} | {100 * (max(caught) - min(caught)):.2f} | "
                         f"{_span([r['fpr'] for r in got])} | {_span([r['accuracy'] for r in got])} |")
            if max(caught) - min(caught) > GOAL_SPREAD and config.startswith("random_forest"):
                lines += ["", f"NOT stable: with the same training and test rows, {config} catches "
                              f"{_span(caught)} % of the unseen family depending only on its seed, while accuracy "
                              "and FPR barely move. The model seed alone already spreads more than bench_lofo's R2L "
                              "row, where split and seed changed together. The cause, measured by "
                              "`benchmarks/bench_tail.py` (seeds 42, 7, 2026): the trees, not the threshold. All three "
                              "calibrate to the same threshold (flag at 2 or more of the 100 trees voting attack: "
                              "some 6 % of normal rows get one vote, 3.5 % two or more), and each forest gives the "
                              "same figures at the others' thresholds. The unseen R2L rows sit at one or two votes, "
                              "and which trees give them is the seed: R2L with ≥ 2 votes 20.7 / 35.7 / 37.8 %, with ≥ 5 "
                              "votes 16.5 / 17.0 / 18.5 % (steadier, but low). Calibrating on the out-of-bag scores of "
                              "every normal training row instead does not help: some 37 trees score each row out of "
                              "bag, so over 95 % of them score 0, the threshold drops to one vote and the "
                              "false-positive rate on test rows (scored by all 100 trees) overshoots: 5.7–6.0 %."
                              ' What came of it: `forest_novelty` (learn/forest_novelty.py), the forest only where it is '
                              'sure (score ≥ 0.5) and the distance to the nearest normal training rows '
                              '(all of them, not a 20,000-row sample) on the rest of the 5 % budget: '
                              'its rows above, every family left out in bench_lofo.']
    loads = sorted(r["load"] for r in rows)
    if loads:
        lines += ["", f"Load average during the runs {loads[0]}–{loads[-1]} on {os.cpu_count()} CPUs (shared "
                      "machine): fit times are wall time under that load."]
    lines += ["", "Reproduce: `nice python -m benchmarks.bench_seeds` (each run is saved in `benchmarks/out/seeds/`; "
                  "`--assemble` rewrites this section from them).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    from benchmarks.__main__ import DOC, write_section

    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), None)
    chosen = next((tuple(map(int, a.split("=", 1)[1].split(","))) for a in sys.argv if a.startswith("--seeds=")),
                  SEEDS)
    rows = assemble() if "--assemble" in sys.argv else run(only, chosen, "--unseen" in sys.argv)
    body = markdown(rows)
    print(body)
    if "--no-write" not in sys.argv:
        write_section(DOC, "seeds", body)
