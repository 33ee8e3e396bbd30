"""Sequence models (RNN, LSTM, GRU) on NSL-KDD and UNSW-NB15: held-out quality, training time, predictions/s.

1. NSL-KDD ``KDDTrain+``: a 70/30 split stratified by attack category (rows kept in file order, windows
   built inside each part), each cell trained on the 70% and measured on the 30%; an LSTM with
   ``timesteps=1`` is the control that shows what the window adds.
2. Held-out attack families: trained on normal, DoS and Probe rows only (70% of them), tested on the other
   30% plus every R2L and U2R row — attacks of kinds the model never saw, as the official test set has.
3. UNSW-NB15 (the partition half that is here), 70/30, with the same timesteps=1 control: that file lists
   flows in bursts of one category, so a window over file order sees the burst.

Training time is wall time of ``fit`` (features, training with early stopping on a 10% validation split);
predictions/s is ``score`` over the whole test part, features included. One thread (the model default).
Run alone: ``python -m benchmarks.bench_sequence [--quick]``.
"""

from __future__ import annotations

import gzip
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.inputs import datasets

PARAMS: dict[str, Any] = {"timesteps": 8, "epochs": 12, "hidden_size": 32, "batch_size": 256, "patience": 2,
                          "dropout": 0.3, "learning_rate": 0.002}
SEEN = ("normal", "DoS", "Probe")
CALIBRATED_FPR = 0.01
ANCHOR = ("Yin et al. 2017 (RNN, IEEE Access 5): 83.3% accuracy on the official KDDTest+ (binary), "
          "trained on KDDTrain+ only")
KDD_NOTE = " ".join((
    "NSL-KDD rows carry no addresses or times and the file is in random order (62,663 runs of",
    "normal/attack in 125,973 rows, as many as chance gives), so the window holds no context here: the",
    "timesteps=1 control shows the models work as per-record classifiers. A random split of this file",
    "flatters every model."))
HELD_OUT_NOTE = " ".join((
    "That test set is not here; the held-out-family rows are the closest stand-in (its errors are mostly",
    "R2L/U2R attacks unseen in training). R2L and U2R connections look like ordinary logins and file",
    "transfers, so a model that never saw them finds few: rules (brute_force, web_attack) and the",
    "unsupervised models are the answer for those, not a bigger network."))
UNSW_NOTE = " ".join((
    "The UNSW-NB15 partition lists flows in bursts of one category (11,715 runs in 41,164 rows), and the",
    "split keeps file order, so a window over file order sees the burst: the gap between the file-order",
    "rows and the timesteps=1 control measures that ordering, not attack behaviour a deployment would",
    "see. The rows-shuffled models (order destroyed before the split) are the figures to quote for single",
    "flows. With flows from a sensor, windows group flows per source address in time order instead."))


def _read(path, fmt: str, limit: int | None) -> list:
    from netwarden.parse import ParseContext, ParseError, get_parser

    parser = get_parser(fmt)(ParseContext())
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            try:
                event = parser.parse_line(line.rstrip("\r\n"))
            except ParseError:
                continue
            if event is not None:
                out.append(event)
            if limit and len(out) >= limit:
                break
    return out


def _split(events: Sequence, strata: Sequence[str], test_size: float = 0.3) -> tuple[list, list]:
    """Stratified split; each part keeps the file's order (the windows follow it)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(len(events)), test_size=test_size, random_state=42,
                                   stratify=list(strata))
    return [events[i] for i in sorted(train)], [events[i] for i in sorted(test)]


def _binary(events: Sequence) -> list[str]:
    from netwarden.learn.data import targets

    return targets(events, "binary")


def _measure(name: str, algorithm: str, params: dict[str, Any], train: list, test: list,
             log: Callable[[str], None], calibrated: bool = False) -> list[dict[str, Any]]:
    """Train once, score the test part (best of 3 timings), one row per threshold: 0.5, and with
    ``calibrated`` also the threshold the model set for ``CALIBRATED_FPR`` on its validation split."""
    from netwarden.learn.base import create
    from netwarden.learn.evaluation import detection_by_label, evaluate

    model = create(algorithm, **params, target_fpr=CALIBRATED_FPR if calibrated else 0.0)
    started = time.perf_counter()
    model.fit(train, _binary(train))
    train_seconds = time.perf_counter() - started
    timings = []
    for _ in range(3):  # the best of three: other work on the machine only ever slows a run down
        started = time.perf_counter()
        scores = model.score(test)
        timings.append(time.perf_counter() - started)
    truth = _binary(test)
    families = [e.extra.get("attack_category") or e.label for e in test]
    rows = []
    thresholds = [(name, 0.5)] + ([(f"{name}, threshold for {CALIBRATED_FPR:.0%} FPR", model.threshold)]
                                  if calibrated else [])
    for label, threshold in thresholds:
        predicted = ["attack" if s >= threshold else "normal" for s in scores]
        metrics = evaluate(truth, scores, predicted, threshold)
        rows.append({"name": label, "algorithm": algorithm, "timesteps": params["timesteps"],
                     "threshold": threshold, "train_rows": len(train), "test_rows": len(test),
                     "train_seconds": train_seconds, "predictions_per_second": len(test) / min(timings),
                     "epochs_run": len(model.history_), "best_epoch": model.best_epoch_,
                     "by_family": detection_by_label(families, scores, threshold),
                     **{k: metrics[k] for k in ("accuracy", "precision", "recall", "f1", "fpr", "roc_auc")}})
        r = rows[-1]
        log(f"  {label}: accuracy {r['accuracy']:.4f} F1 {r['f1']:.4f} FPR {r['fpr']:.4f} AUC {r['roc_auc']} "
            f"train {train_seconds:.1f} s ({r['epochs_run']} epochs), {r['predictions_per_second']:,.0f}/s")
    return rows


def run(quick: bool = False, engines: list[str] | None = None, only: str | None = None,
        reps: int | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    d = datasets()
    params = {**PARAMS, "epochs": 3} if quick else PARAMS
    kdd_file = "KDDTrain+_20Percent.txt.gz" if quick else "KDDTrain+.txt.gz"
    kdd = _read(d / "nsl-kdd" / kdd_file, "nsl_kdd", None)
    log(f"sequence: NSL-KDD {kdd_file}, {len(kdd):,} rows")
    categories = [e.extra["attack_category"] for e in kdd]
    results: dict[str, Any] = {"params": params, "kdd_file": kdd_file, "kdd_rows": len(kdd), "split": [],
                               "held_out": [], "unsw": []}
    train, test = _split(kdd, categories)
    for algorithm in ("rnn", "lstm", "gru"):
        results["split"] += _measure(algorithm, algorithm, params, train, test, log)
    one_step = {**params, "timesteps": 1}
    results["split"] += _measure("lstm, timesteps=1", "lstm", one_step, train, test, log)

    seen = [e for e in kdd if e.extra["attack_category"] in SEEN]
    unseen = [e for e in kdd if e.extra["attack_category"] not in SEEN]
    seen_train, seen_test = _split(seen, [e.extra["attack_category"] for e in seen])
    held_test = seen_test + unseen
    log(f"sequence: held-out families, train {len(seen_train):,} (normal, DoS, Probe), "
        f"test {len(held_test):,} ({len(unseen):,} R2L/U2R)")
    for algorithm in ("rnn", "lstm", "gru"):
        results["held_out"] += _measure(algorithm, algorithm, params, seen_train, held_test, log,
                                        calibrated=True)

    unsw = _read(d / "unsw-nb15" / "UNSW_NB15_part-A.csv.gz", "unsw_nb15", 10_000 if quick else None)
    results["unsw_rows"] = len(unsw)
    log(f"sequence: UNSW-NB15 part A, {len(unsw):,} rows")
    u_train, u_test = _split(unsw, [str(e.label) for e in unsw])
    for name, algorithm, extra in (("gru, file order", "gru", {}), ("lstm, file order", "lstm", {}),
                                   ("lstm, timesteps=1", "lstm", {"timesteps": 1})):
        results["unsw"] += _measure(name, algorithm, {**params, **extra}, u_train, u_test, log)
    shuffled = [unsw[i] for i in np.random.default_rng(42).permutation(len(unsw))]
    s_train, s_test = _split(shuffled, [str(e.label) for e in shuffled])
    for algorithm in ("gru", "lstm"):
        name = f"{algorithm}, rows shuffled"
        results["unsw"] += _measure(name, algorithm, params, s_train, s_test, log)
    return results


def _table(rows: list[dict[str, Any]], families: Sequence[str] = ()) -> list[str]:
    head = ("| model | accuracy | precision | recall | F1 | FPR | ROC AUC | "
            + "".join(f"{f} detected | " for f in families) + "epochs (best) | train | predictions/s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        found = "".join(f"{r['by_family'].get(f, {}).get('flagged', 0):.1%} | " for f in families)
        lines.append(f"| {r['name']} | {r['accuracy']:.4f} | {r['precision']:.4f} | {r['recall']:.4f} | "
                     f"{r['f1']:.4f} | {r['fpr']:.4f} | {r['roc_auc']:.4f} | {found}{r['epochs_run']} "
                     f"({r['best_epoch']}) | {r['train_seconds']:.1f} s | "
                     f"{r['predictions_per_second']:,.0f} |")
    return lines


def markdown(results: dict[str, Any], quick: bool = False) -> str:
    p = results["params"]
    split = results["split"][0]
    held = results["held_out"][0]
    quick_note = " (quick run: 20% file, 3 epochs)" if quick else ""
    lines = [
        "## Sequence models (RNN, LSTM, GRU)",
        "",
        f"PyTorch on the CPU, one thread. Parameters: timesteps {p['timesteps']}, hidden size "
        f"{p['hidden_size']}, batch {p['batch_size']}, at most {p['epochs']} epochs with early stopping "
        f"(patience {p['patience']}) on a 10% validation split, dropout {p['dropout']}, learning rate "
        f"{p['learning_rate']}, weight decay and balanced class weights (model defaults otherwise). "
        f"Threshold 0.5 unless stated. Reproduce: `python -m benchmarks.bench_sequence`{quick_note}. "
        "Predictions/s is the best of three runs; other work on the machine during the run makes times "
        "noisy (see the machine section).",
        "",
        f"**NSL-KDD `{results['kdd_file']}`**, 70/30 split stratified by attack category "
        f"({split['train_rows']:,} training rows, {split['test_rows']:,} test rows):",
        "",
        *_table(results["split"]),
        "",
        KDD_NOTE,
        "",
        "**Held-out attack families** (the honest figure): trained on normal, DoS and Probe only "
        f"({held['train_rows']:,} rows), tested on {held['test_rows']:,} rows: 30% of those plus every "
        "R2L and U2R row, attacks of kinds absent from training:",
        "",
        *_table(results["held_out"], ("DoS", "Probe", "R2L", "U2R")),
        "",
        f"The calibrated rows keep the same model and move its threshold to where {CALIBRATED_FPR:.0%} of "
        "the validation split's normal traffic (held out from training, not the test part) would alert, the "
        "`target_fpr` parameter: the trade an administrator makes to catch more of the unknown.",
        "",
        f"Published anchor: {ANCHOR}. {HELD_OUT_NOTE}",
        "",
        f"**UNSW-NB15** part A ({results['unsw_rows']:,} rows), 70/30 stratified by label:",
        "",
        *_table(results["unsw"]),
        "",
        UNSW_NOTE,
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    out = run(quick=args.quick, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(markdown(out, quick=args.quick))
