"""How good a model is, in the numbers administrators and papers use.

Always reported as attack detection (binary: anything not normal is an attack), whatever the task:
accuracy, precision, recall, F1, false-positive rate, ROC AUC, the confusion matrix and a ROC curve
(at most ``ROC_POINTS`` points, for charts). Category models add the per-category confusion matrix,
per-class precision/recall/F1 and macro F1. Everything is JSON-ready: it is stored with the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from netwarden.learn.base import NORMAL

ROC_POINTS = 100


def evaluate(truth: Sequence[str], scores: np.ndarray, predicted: Sequence[str], threshold: float) -> dict[str, Any]:
    """Metrics for one test set. ``truth``/``predicted`` are per-task labels, ``scores`` in [0, 1]."""
    from sklearn.metrics import roc_auc_score, roc_curve  # here: the web app imports this module at start

    y = np.asarray([t != NORMAL for t in truth])
    hit = np.asarray(scores) >= threshold
    tp = int((y & hit).sum())
    fp = int((~y & hit).sum())
    fn = int((y & ~hit).sum())
    tn = int((~y & ~hit).sum())
    out: dict[str, Any] = {
        "rows": len(y), "attacks": int(y.sum()), "threshold": round(float(threshold), 6),
        "accuracy": _ratio(tp + tn, len(y)), "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn),
        "fpr": _ratio(fp, fp + tn),
        "confusion": {"labels": [NORMAL, "attack"], "matrix": [[tn, fp], [fn, tp]]},
    }
    p, r = out["precision"], out["recall"]
    out["f1"] = round(2 * p * r / (p + r), 6) if p + r else 0.0
    if 0 < y.sum() < len(y):
        out["roc_auc"] = round(float(roc_auc_score(y, scores)), 6)
        fpr, tpr, _ = roc_curve(y, scores)
        keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), ROC_POINTS)).astype(int))
        out["roc"] = {"fpr": [round(float(v), 5) for v in fpr[keep]], "tpr": [round(float(v), 5) for v in tpr[keep]]}
    else:
        out["roc_auc"] = None  # undefined with one class only: say so instead of inventing a number
    if len(set(truth) | set(predicted)) > 2:
        out["category"] = _categories(truth, predicted)
    return out


def _categories(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = [NORMAL, *sorted((set(truth) | set(predicted)) - {NORMAL})]
    matrix = confusion_matrix(list(truth), list(predicted), labels=labels)
    p, r, f, support = precision_recall_fscore_support(list(truth), list(predicted), labels=labels,
                                                       zero_division=0)
    per_class = {label: {"precision": round(float(p[i]), 6), "recall": round(float(r[i]), 6),
                         "f1": round(float(f[i]), 6), "support": int(support[i])} for i, label in enumerate(labels)}
    present = [i for i, s in enumerate(support) if s > 0]
    return {"labels": labels, "matrix": matrix.tolist(),
            "accuracy": _ratio(int(np.trace(matrix)), int(matrix.sum())),
            "macro_f1": round(float(np.mean(f[present])), 6) if present else 0.0, "per_class": per_class}


def detection_by_label(labels: Sequence[str | None], scores: np.ndarray, threshold: float) -> dict[str, dict[str, Any]]:
    """Per original label (attack name), how many rows there were and the share flagged: what a held-out
    attack family evaluation reports."""
    out: dict[str, dict[str, Any]] = {}
    hit = np.asarray(scores) >= threshold
    arr = np.asarray([str(label) for label in labels])
    for label in sorted(set(arr.tolist())):
        mask = arr == label
        out[label] = {"rows": int(mask.sum()), "flagged": _ratio(int(hit[mask].sum()), int(mask.sum()))}
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % interval of a rate observed as k of n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def calibration_summary(held_scores: np.ndarray, threshold: float, train_rows: int, *, fpr: float | None = None,
                        confidence: float = 0.95, upper: float | None = None,
                        bound_rows: int | None = None) -> dict[str, Any]:
    """How a threshold set on held-back normal rows did on them, and how sure that rate is (95 % interval):
    ``model show`` prints it and the drift warning compares live traffic with it. ``fpr_upper``: the rate new
    normal traffic stays within at ``confidence`` (``upper`` when the model bounded it itself, else the
    one-sided Clopper-Pearson bound of the held-back rows' rate) and ``bound_rows`` the normal rows it rests on;
    ``fpr_target``: the rate asked for."""
    from netwarden.learn.calibration import upper_bound

    n = len(held_scores)
    flagged = int((np.asarray(held_scores) >= threshold).sum())
    lo, hi = wilson(flagged, n)
    bound = upper if upper is not None else upper_bound(flagged, n, confidence or 0.95)
    out = {"train_rows": train_rows, "calibration_rows": n, "calibrated_fpr": round(flagged / n, 6) if n else None,
           "fpr_95": [round(lo, 6), round(hi, 6)], "threshold": round(float(threshold), 9),
           "fpr_upper": round(min(1.0, bound), 6), "bound_rows": n if bound_rows is None else bound_rows,
           "confidence": confidence if upper is not None else (confidence or 0.95)}
    if fpr is not None:
        out["fpr_target"] = fpr
    return out


def _ratio(a: int, b: int) -> float:
    return round(a / b, 6) if b else 0.0


def leave_family_out(events: Sequence[Any], family: str, algorithm: str, params: dict[str, Any] | None = None, *,
                     fpr: float = 0.05, seed: int = 42, test_size: float = 0.3,
                     model_seed: int | None = None) -> dict[str, Any]:
    """The stand-in for attacks nobody labelled: train ``algorithm`` on the events of every category but
    ``family`` (a ``test_size`` part of them held out, stratified by category), with its threshold calibrated by
    the model itself to ``fpr`` on held-back normal training rows; test on the held-out part plus every event of
    ``family``. Returns the share of ``family`` caught, the false-positive rate on the normal test rows, the
    share of the known families caught, accuracy on the whole test set and on the normal rows and ``family``
    alone. ``seed`` splits the data and, unless ``model_seed`` is given, seeds the model."""
    from sklearn.model_selection import train_test_split

    from netwarden.learn import data
    from netwarden.learn.base import create

    cats = np.array([data.category(e) for e in events])
    kept = np.flatnonzero(cats != family)
    left_out = np.flatnonzero(cats == family)
    if not len(left_out):
        raise ValueError(f"no events of the family {family!r}")
    train_idx, test_idx = train_test_split(kept, test_size=test_size, random_state=seed, stratify=cats[kept])
    train = [events[i] for i in train_idx]
    test_idx = np.concatenate([test_idx, left_out])
    model = create(algorithm, fpr=fpr, seed=seed if model_seed is None else model_seed, **(params or {}))
    if model.supervised:
        model.fit(train, data.targets(train, "binary"))
    else:
        model.fit(data.normal_only(train))
    hit = model.score([events[i] for i in test_idx]) >= model.threshold
    tc = cats[test_idx]
    normal, unseen = tc == NORMAL, tc == family
    known = ~normal & ~unseen
    only = normal | unseen
    return {"family": family, "algorithm": algorithm, "seed": seed, "rows_left_out": int(unseen.sum()),
            "train_rows": len(train), "test_rows": len(test_idx), "caught": float(hit[unseen].mean()),
            "fpr": float(hit[normal].mean()), "known_caught": float(hit[known].mean()) if known.any() else None,
            "accuracy": float((hit == ~normal).mean()), "accuracy_unseen": float((hit[only] == unseen[only]).mean()),
            "threshold": float(model.threshold), "calibration": getattr(model, "calibration_info_", None)}
