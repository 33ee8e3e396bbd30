"""Machine-learning models on NSL-KDD and UNSW-NB15: quality on a random split AND on attack families the
model never saw, training time on the full KDDTrain+, and scoring speed.

1. NSL-KDD ``KDDTrain+``, 70/30 split stratified by attack category: every registered tabular family
   (supervised models trained on all training rows, unsupervised ones on its normal rows only).
2. Held-out attack families: trained on normal, DoS and Probe rows only (70% of them), tested on the other
   30% plus every R2L and U2R row (the protocol of the sequence benchmark, so the rows compare), with the
   sequence models of the registry included when they exist.
3. Leave one family out (cross-check): for each of DoS, Probe, R2L, U2R, train without it and report how
   much of it is still caught, at the model's own threshold, with the false-positive rate on normal rows.
4. Speed: training on the full KDDTrain+ (the issue's bound: under 2 minutes for the tree models) and
   ``score`` over all its rows in one batch, feature extraction from events included (bound: 50,000/s).
5. UNSW-NB15 part A, 70/30 stratified by category: the same code on another dataset's features.

Run alone: ``python -m benchmarks.bench_learn [--quick]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.inputs import datasets

TABULAR = ("random_forest", "gradient_boosting", "knn", "logistic_regression", "isolation_forest", "lof",
           "knn_distance")
CROSS_CHECK = ("random_forest", "logistic_regression", "isolation_forest")
FAMILIES = ("DoS", "Probe", "R2L", "U2R")
SEEN = ("normal", "DoS", "Probe")
TREES = ("random_forest", "gradient_boosting")
ANCHOR = ("Yin et al. 2017 (RNN, IEEE Access 5): 83.3% accuracy on the official KDDTest+ (binary), trained on "
          "KDDTrain+ only")


def _load(path, fmt: str, limit: int | None = None) -> list:
    from netwarden.learn.data import load_file

    return load_file(path, fmt, limit=limit).events


def _category(e) -> str:  # type: ignore[no-untyped-def]
    from netwarden.learn.data import category

    return category(e)


def _split(events: Sequence, test_size: float = 0.3) -> tuple[list, list]:
    from sklearn.model_selection import train_test_split

    strata = [_category(e) for e in events]
    train, test = train_test_split(np.arange(len(events)), test_size=test_size, random_state=42, stratify=strata)
    return [events[i] for i in sorted(train)], [events[i] for i in sorted(test)]


def _sequence_params(quick: bool) -> dict[str, Any]:
    try:
        from benchmarks.bench_sequence import PARAMS
    except ImportError:
        PARAMS = {}
    return {**PARAMS, "epochs": 3} if quick and PARAMS else dict(PARAMS)


def _measure(algorithm: str, params: dict[str, Any], train: list, test: list, log: Callable[[str], None],
             label: str | None = None) -> dict[str, Any]:
    from netwarden.learn import data
    from netwarden.learn.base import create
    from netwarden.learn.evaluation import detection_by_label, evaluate

    model = create(algorithm, **params)
    started = time.perf_counter()
    if model.supervised:
        model.fit(train, data.targets(train, "binary"))
    else:
        model.fit(data.normal_only(train))
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scores = model.score(test)
    predict_seconds = time.perf_counter() - started
    truth = data.targets(test, "binary")
    metrics = evaluate(truth, scores, ["attack" if s >= model.threshold else "normal" for s in scores],
                       model.threshold)
    result = {"name": label or algorithm, "algorithm": algorithm, "family": model.family,
              "train_rows": len(train), "test_rows": len(test), "train_seconds": train_seconds,
              "predictions_per_second": len(test) / predict_seconds,
              "by_family": detection_by_label([_category(e) for e in test], scores, model.threshold),
              **{k: metrics[k] for k in ("accuracy", "precision", "recall", "f1", "fpr", "roc_auc")}}
    log(f"  {result['name']}: accuracy {result['accuracy']:.4f} F1 {result['f1']:.4f} FPR {result['fpr']:.4f} "
        f"AUC {result['roc_auc']} train {train_seconds:.1f} s, {result['predictions_per_second']:,.0f}/s")
    return result


def run(quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    from netwarden.learn.base import algorithms

    d = datasets()
    kdd_file = "KDDTrain+_20Percent.txt.gz" if quick else "KDDTrain+.txt.gz"
    started = time.perf_counter()
    kdd = _load(d / "nsl-kdd" / kdd_file, "nsl_kdd")
    log(f"learn: NSL-KDD {kdd_file}, {len(kdd):,} rows parsed in {time.perf_counter() - started:.1f} s")
    registered = algorithms()
    sequence = [name for name, cls in registered.items() if cls.family == "sequence"]
    tabular = [name for name in TABULAR if name in registered]
    results: dict[str, Any] = {"kdd_file": kdd_file, "kdd_rows": len(kdd), "split": [], "held_out": [],
                               "cross": [], "speed": [], "unsw": [], "sequence_params": _sequence_params(quick)}

    train, test = _split(kdd)
    log("learn: random 70/30 split")
    for algorithm in tabular:
        results["split"].append(_measure(algorithm, {}, train, test, log))

    seen = [e for e in kdd if _category(e) in SEEN]
    unseen = [e for e in kdd if _category(e) not in SEEN]
    seen_train, seen_test = _split(seen)
    held_test = seen_test + unseen
    log(f"learn: held-out families, train {len(seen_train):,} (normal, DoS, Probe), test {len(held_test):,}")
    for algorithm in tabular:
        results["held_out"].append(_measure(algorithm, {}, seen_train, held_test, log))
    for algorithm in sequence:
        results["held_out"].append(_measure(algorithm, results["sequence_params"], seen_train, held_test, log))

    log("learn: leave one family out")
    for family in FAMILIES:
        kept = [e for e in kdd if _category(e) != family]
        dropped = [e for e in kdd if _category(e) == family]
        k_train, k_test = _split(kept)
        for algorithm in CROSS_CHECK:
            r = _measure(algorithm, {}, k_train, k_test + dropped, log, f"{algorithm} without {family}")
            results["cross"].append({"family": family, "algorithm": algorithm,
                                     "caught": r["by_family"][family]["flagged"], "rows": len(dropped),
                                     "fpr": r["fpr"], "roc_auc": r["roc_auc"]})

    log("learn: speed on the whole file")
    from netwarden.learn import data
    from netwarden.learn.base import create

    labels = data.targets(kdd, "binary")
    for algorithm in tabular:
        model = create(algorithm)
        t = time.perf_counter()
        model.fit(kdd, labels) if model.supervised else model.fit(data.normal_only(kdd))
        fit_seconds = time.perf_counter() - t
        t = time.perf_counter()
        model.score(kdd)
        score_seconds = time.perf_counter() - t
        results["speed"].append({"algorithm": algorithm, "train_rows": len(kdd) if model.supervised
                                 else len(data.normal_only(kdd)), "train_seconds": fit_seconds,
                                 "predictions_per_second": len(kdd) / score_seconds})
        log(f"  {algorithm}: fit {fit_seconds:.1f} s, score {len(kdd) / score_seconds:,.0f}/s")

    unsw = _load(d / "unsw-nb15" / "UNSW_NB15_part-A.csv.gz", "unsw_nb15")
    unsw = unsw[::4] if quick else unsw  # the file is grouped by category: a stride keeps the mix
    results["unsw_rows"] = len(unsw)
    u_train, u_test = _split(unsw)
    log(f"learn: UNSW-NB15 part A, {len(unsw):,} rows")
    for algorithm in tabular:
        results["unsw"].append(_measure(algorithm, {}, u_train, u_test, log))
    return results


def _table(rows: list[dict[str, Any]], families: Sequence[str] = ()) -> list[str]:
    head = ("| model | family | accuracy | precision | recall | F1 | FPR | ROC AUC | "
            + "".join(f"{f} caught | " for f in families) + "train | predictions/s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        found = "".join(f"{r['by_family'].get(f, {}).get('flagged', 0):.1%} | " for f in families)
        lines.append(f"| {r['name']} | {r['family']} | {r['accuracy']:.4f} | {r['precision']:.4f} | "
                     f"{r['recall']:.4f} | {r['f1']:.4f} | {r['fpr']:.4f} | {r['roc_auc']:.4f} | {found}"
                     f"{r['train_seconds']:.1f} s | {r['predictions_per_second']:,.0f} |")
    return lines


def _cross(rows: list[dict[str, Any]]) -> list[str]:
    algorithms = list(dict.fromkeys(r["algorithm"] for r in rows))
    head = "| family left out (rows) | " + " | ".join(algorithms) + " |"
    lines = [head, "|" + "---|" * (len(algorithms) + 1)]
    for family in FAMILIES:
        cells = {r["algorithm"]: r for r in rows if r["family"] == family}
        if not cells:
            continue
        n = next(iter(cells.values()))["rows"]
        lines.append(f"| {family} ({n:,}) | " + " | ".join(
            f"{cells[a]['caught']:.1%} (FPR {cells[a]['fpr']:.3f})" for a in algorithms if a in cells) + " |")
    return lines


def markdown(results: dict[str, Any], quick: bool = False) -> str:
    split = results["split"][0]
    held = results["held_out"][0]
    speed = {r["algorithm"]: r for r in results["speed"]}
    tree_times = ", ".join(f"{a} {speed[a]['train_seconds']:.0f} s" for a in TREES if a in speed)
    lines = [
        "## Machine-learning models (supervised and unsupervised)",
        "",
        "Every model with its defaults (`netwarden model algorithms`), features from the parsed events "
        "(signed log1p of counts, one-hot categories with an `other` column), fixed seeds. Supervised models "
        "use balanced class weights (KNN a class-balanced sample of 20,000 rows); every model's threshold is "
        "calibrated on held-back normal training rows to a 1% false-positive rate (supervised: lowered from 0.5 "
        "at most; unsupervised models learn from normal rows only). Predictions/s is `score` on a whole test "
        "part in one batch, features included. "
        "Reproduce: `python -m benchmarks.bench_learn`" + (" (quick run: 20% file)" if quick else "") + ".",
        "",
        f"**NSL-KDD `{results['kdd_file']}`**, random 70/30 split stratified by attack category "
        f"({split['train_rows']:,} training rows, {split['test_rows']:,} test rows) — the flattering figure:",
        "",
        *_table(results["split"]),
        "",
        f"**Held-out attack families** (the honest figure): trained on normal, DoS and Probe only "
        f"({held['train_rows']:,} rows), tested on {held['test_rows']:,} rows: 30% of those plus every R2L and "
        "U2R row, attacks of kinds absent from training. Sequence models come from the registry with the "
        "sequence benchmark's parameters:",
        "",
        *_table(results["held_out"], FAMILIES),
        "",
        f"Published anchor: {ANCHOR}. That test set is not here; the held-out rows are the closest stand-in. "
        "What it shows: DoS and Probe are caught whatever the model; R2L (password guessing, malicious "
        "transfers that look like ordinary logins) mostly is not by models that never saw it, and the "
        "distance-based unsupervised models catch the unusual U2R sessions best. Rules (brute_force, web_attack) "
        "and an unsupervised model next to a supervised one are the answer for those, not a bigger network.",
        "",
        "**Leave one family out** (cross-check): share of the left-out family caught, and the false-positive "
        "rate on the normal test rows:",
        "",
        *_cross(results["cross"]),
        "",
        f"**Speed on the whole file** ({results['kdd_rows']:,} rows; bounds: tree models train in under 2 "
        f"minutes — here {tree_times} — and scoring ≥ 50,000 records/s):",
        "",
        "| model | training rows | train | predictions/s |",
        "|---|---|---|---|",
        *[f"| {r['algorithm']} | {r['train_rows']:,} | {r['train_seconds']:.1f} s | "
          f"{r['predictions_per_second']:,.0f} |" for r in results["speed"]],
        "",
        f"**UNSW-NB15** part A ({results['unsw_rows']:,} rows), 70/30 stratified by category:",
        "",
        *_table(results["unsw"]),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    out = run(quick=args.quick, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(markdown(out, quick=args.quick))
