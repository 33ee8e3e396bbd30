"""Leave one attack family out (netwarden.learn.evaluation.leave_family_out) on a sample of NSL-KDD: the model
never sees the family, its threshold is its own 5 % calibration, and the figures are the honest ones (the
full-size runs over three seeds are benchmarks/bench_lofo.py)."""

from __future__ import annotations

import pytest

from netwarden.learn.evaluation import leave_family_out
from netwarden.records import Event

pytestmark = pytest.mark.datasets
SMALL = {"n_estimators": 20, "n_jobs": 1}


def test_an_unseen_family_is_caught_and_normal_traffic_stays_near_the_calibrated_rate(
        kdd_events: list[Event]) -> None:
    events = kdd_events[::2]  # 4,000 rows: fast, still some 350 Probe connections
    r = leave_family_out(events, "Probe", "random_forest", SMALL, fpr=0.05, seed=42)
    assert r["rows_left_out"] > 250 and r["train_rows"] < len(events) - r["rows_left_out"]
    assert r["caught"] >= 0.80  # Probe never seen: caught on what it shares with DoS and its oddity
    assert r["fpr"] <= 0.08  # the 5 % calibration holds on normal rows it never saw (a small sample: some slack)
    assert r["known_caught"] >= 0.95 and r["accuracy"] >= 0.90
    # the same seed gives the same figures; the calibrated operating point is the model's, not the test's
    assert leave_family_out(events, "Probe", "random_forest", SMALL, fpr=0.05, seed=42) == r
    assert leave_family_out(events, "Probe", "random_forest", SMALL, fpr=0.05, seed=42, model_seed=42) == r
    # the data split kept, only the model's seed moved (benchmarks/bench_seeds.py): same rows, another model
    other = leave_family_out(events, "Probe", "random_forest", SMALL, fpr=0.05, seed=42, model_seed=7)
    assert (other["train_rows"], other["test_rows"]) == (r["train_rows"], r["test_rows"])
    assert other["caught"] != r["caught"]
    stricter = leave_family_out(events, "Probe", "random_forest", SMALL, fpr=0.01, seed=42)
    assert stricter["threshold"] >= r["threshold"] and stricter["fpr"] <= r["fpr"]


def test_unsupervised_models_learn_from_normal_rows_only_and_a_missing_family_is_refused(
        kdd_events: list[Event]) -> None:
    r = leave_family_out(kdd_events, "DoS", "isolation_forest", {"n_estimators": 50}, fpr=0.05, seed=7)
    assert r["train_rows"] > 0 and 0.0 <= r["fpr"] <= 0.10 and r["caught"] >= 0.5
    with pytest.raises(ValueError, match="no events of the family"):
        leave_family_out(kdd_events, "Worms", "random_forest", SMALL)
