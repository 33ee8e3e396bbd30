"""Thresholds whose false-positive rate holds on traffic the model has not seen (issue 13, "calibration that holds").

Why: a threshold set where exactly ``fpr`` of the calibration rows are flagged lands above ``fpr`` on fresh
rows about half the time (the calibration rows are a sample). Here the threshold is set where the one-sided
Clopper-Pearson upper bound of the rate, at ``confidence`` (95 %), stays within ``fpr``: the rate on new normal
traffic from the same source exceeds ``fpr`` with probability at most 5 %. Fewer calibration rows mean a looser
bound, so a stricter threshold; ``confidence=0`` falls back to the plain count (``int(fpr * n)``).
"""

from __future__ import annotations

import math

import numpy as np

CONFIDENCE = 0.95


def upper_bound(flagged: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound of a rate observed as ``flagged`` of ``n`` (1.0 when n is 0)."""
    if n <= 0:
        return 1.0
    if flagged >= n:
        return 1.0
    from scipy.stats import beta  # here: importing the learn package must not pay SciPy's start-up

    return float(beta.ppf(confidence, flagged + 1, n - flagged))


def max_flagged(n: int, fpr: float, confidence: float = CONFIDENCE) -> int:
    """The most of ``n`` calibration rows a threshold may flag so the rate's upper bound stays within ``fpr``;
    -1 when even none is not enough (too few rows to vouch for ``fpr`` at that confidence)."""
    if n <= 0 or fpr <= 0:
        return -1
    if fpr >= 1:
        return n
    if not confidence:
        return int(fpr * n)
    if upper_bound(0, n, confidence) > fpr:
        return -1
    lo, hi = 0, int(math.ceil(fpr * n))  # upper_bound(k) > k/n, so the answer is below fpr·n; it grows with k
    while lo < hi:  # the largest k with upper_bound(k) <= fpr
        mid = (lo + hi + 1) // 2
        if upper_bound(mid, n, confidence) <= fpr:
            lo = mid
        else:
            hi = mid - 1
    return lo


def above(scores: np.ndarray, budget: int) -> float:
    """The smallest threshold T such that at most ``budget`` of ``scores`` reach it (inf: none may)."""
    if budget < 0 or not len(scores):
        return math.inf
    if budget >= len(scores):
        return float(np.nextafter(min(0.0, float(np.min(scores))), -math.inf))
    q = float(np.sort(scores)[len(scores) - budget - 1])
    return float(np.nextafter(q, math.inf))  # rows tied at q stay below: never more than the budget


def threshold_for(scores: np.ndarray, fpr: float, confidence: float = CONFIDENCE) -> float:
    """The lowest threshold on calibration ``scores`` (normal rows) whose rate's upper bound is within ``fpr``."""
    return above(np.asarray(scores, dtype=float), max_flagged(len(scores), fpr, confidence))
