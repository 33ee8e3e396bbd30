"""The threshold's false-positive rate holds on normal rows it never saw: chosen where the rate's 95 % upper
bound (Clopper-Pearson) stays within the target, so fewer calibration rows give a stricter threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netwarden.learn.calibration import above, max_flagged, threshold_for, upper_bound

FPR = 0.05


def test_upper_bound_matches_known_values_and_covers_the_rate() -> None:
    assert upper_bound(0, 100) == pytest.approx(1 - 0.05 ** (1 / 100))  # the "rule of three" case, exact
    assert upper_bound(0, 0) == 1.0 and upper_bound(10, 10) == 1.0
    assert 0.05 < upper_bound(50, 1000) < 0.065  # 5 % seen on 1,000 rows: about 6.2 % at 95 %
    assert upper_bound(500, 10_000) < upper_bound(50, 1000)  # more rows, tighter bound


def test_max_flagged_is_the_largest_count_whose_bound_is_within_the_target() -> None:
    for n in (100, 1000, 7000, 47_000):
        k = max_flagged(n, FPR)
        assert 0 <= k < FPR * n
        assert upper_bound(k, n) <= FPR < upper_bound(k + 1, n)
    assert max_flagged(30, FPR) == -1  # 30 rows cannot vouch for 5 % at 95 % (0 of 30: up to 9.5 %)
    assert max_flagged(1000, FPR, confidence=0) == 50  # no bound: the plain count


def test_threshold_holds_on_fresh_normal_rows_and_is_stricter_with_fewer_rows() -> None:
    rng = np.random.default_rng(11)
    fresh = rng.normal(size=200_000)  # the traffic the threshold will meet
    over, thresholds = [], {}
    for n in (500, 2000, 20_000):
        chosen = [threshold_for(rng.normal(size=n), FPR) for _ in range(40)]
        held = [float((fresh >= t).mean()) for t in chosen]
        over.append(sum(rate > FPR for rate in held) / len(held))
        thresholds[n] = float(np.mean(chosen))
        assert max_flagged(n, FPR) / n < FPR
    # with the bound at 95 %, at most about 1 in 20 thresholds lets more than 5 % through (40 draws: allow 4)
    assert all(share <= 0.1 for share in over)
    # the point estimate (int(fpr·n) rows flagged) overshoots about half the time on the same draws
    point = [float((fresh >= threshold_for(rng.normal(size=500), FPR, confidence=0)).mean()) for _ in range(40)]
    assert sum(rate > FPR for rate in point) >= 10
    # fewer calibration rows: a looser bound, so a higher (stricter) threshold on average; all above the 5 %
    # quantile of the normal scores, and the share of calibration rows allowed shrinks with them
    normal_q = 1.6448536
    assert thresholds[500] > thresholds[2000] > thresholds[20_000] > normal_q
    assert max_flagged(500, FPR) / 500 < max_flagged(2000, FPR) / 2000 < max_flagged(20_000, FPR) / 20_000


def test_above_never_lets_more_than_the_budget_through_ties_included() -> None:
    scores = np.array([0.1, 0.2, 0.2, 0.2, 0.9])
    assert (scores >= above(scores, 1)).sum() == 1
    assert (scores >= above(scores, 2)).sum() == 1  # the three tied at 0.2 stay below together
    assert (scores >= above(scores, 4)).sum() == 4
    assert (scores >= above(scores, 5)).sum() == 5
    assert (scores >= above(scores, 0)).sum() == 0
    assert math.isinf(above(scores, -1)) and math.isinf(above(np.empty(0), 3))
