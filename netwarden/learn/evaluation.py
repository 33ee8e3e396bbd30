"""How good a model is, in the numbers administrators and papers use.

Always reported as attack detection (binary: anything not normal is an attack), whatever the task:
accuracy, precision, recall, F1, false-positive rate, ROC AUC, the confusion matrix and a ROC curve
(at most ``ROC_POINTS`` points, for charts). Category models add the per-category confusion matrix,
per-class precision/recall/F1 and macro F1. Everything is JSON-ready: it is stored with the model.
"""

from __future__ import annotations

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


def _ratio(a: int, b: int) -> float:
    return round(a / b, 6) if b else 0.0
