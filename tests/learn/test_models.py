"""Every tabular algorithm on real NSL-KDD / UNSW-NB15 samples: it learns, scores in [0, 1], saves and
loads to identical scores, explains, and is reproducible. Plus the maths of the explanations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from netwarden.learn import data
from netwarden.learn.base import ALGORITHMS, Model, ModelError, algorithms, create
from netwarden.records import Event

SUPERVISED = ["random_forest", "gradient_boosting", "knn", "logistic_regression"]
UNSUPERVISED = ["isolation_forest", "lof", "knn_distance"]
FAST = {"random_forest": {"n_estimators": 30}, "gradient_boosting": {"max_iter": 60}}


def _truth(events: list[Event]) -> np.ndarray:
    return np.array([not data.is_normal(e.label) for e in events])


@pytest.fixture(scope="module")
def fitted(kdd_split) -> dict[str, Model]:
    train, _ = kdd_split
    labels = data.targets(train, "binary")
    out = {}
    for name in SUPERVISED:
        out[name] = create(name, **FAST.get(name, {})).fit(train, labels)
    for name in UNSUPERVISED:
        out[name] = create(name, fpr=0.05).fit(data.normal_only(train))
    return out


def test_every_family_is_registered() -> None:
    assert set(SUPERVISED + UNSUPERVISED) <= set(algorithms())
    for name, cls in ALGORITHMS.items():
        assert cls.algorithm == name and cls.description


@pytest.mark.parametrize("name", SUPERVISED + UNSUPERVISED)
def test_learns_scores_and_round_trips(name: str, fitted, kdd_split, tmp_path) -> None:
    model = fitted[name]
    _, test = kdd_split
    scores = model.score(test)
    assert scores.shape == (len(test),) and scores.min() >= 0.0 and scores.max() <= 1.0
    auc = roc_auc_score(_truth(test), scores)
    assert auc > (0.97 if model.supervised else 0.85), auc
    loaded = Model.load(model.save(tmp_path / name))
    assert type(loaded) is type(model) and loaded.threshold == model.threshold
    assert np.allclose(loaded.score(test[:500]), scores[:500])
    assert loaded.predict(test[:50]) == model.predict(test[:50])


@pytest.mark.parametrize("name", SUPERVISED + UNSUPERVISED)
def test_explanations_name_real_features_strongest_first(name: str, fitted, kdd_split) -> None:
    model = fitted[name]
    _, test = kdd_split
    attacks = [e for e in test if e.label != "normal"][:5]
    explained = model.explain(attacks, top=4)
    assert len(explained) == 5
    for contributions in explained:
        assert 1 <= len(contributions) <= 4
        assert all(c.feature in model.features_ for c in contributions)
        sizes = [abs(c.contribution) for c in contributions]
        assert sizes == sorted(sizes, reverse=True)


def test_forest_contributions_add_up_to_the_score(fitted, kdd_split) -> None:
    """Saabas: bias (the root's share of attacks) + every feature's contribution = the forest's score."""
    model = fitted["random_forest"]
    events = kdd_split[1][:40]
    every = model.explain(events, top=1000)
    normal_col = int(np.flatnonzero(model.estimator_.classes_ == 0)[0])
    roots = [t.tree_.value[0, 0] / t.tree_.value[0, 0].sum() for t in model.estimator_.estimators_]
    bias = 1.0 - np.mean([r[normal_col] for r in roots])
    sums = np.array([bias + sum(c.contribution for c in cs) for cs in every])
    assert np.allclose(sums, model.score(events), atol=1e-6)


def test_linear_contributions_add_up_to_the_log_odds(fitted, kdd_split) -> None:
    model = fitted["logistic_regression"]
    events = kdd_split[1][:40]
    every = model.explain(events, top=1000)
    logit = np.log(model.score(events) / (1 - model.score(events)))
    sums = np.array([model.estimator_.intercept_[0] + sum(c.contribution for c in cs) for cs in every])
    finite = np.isfinite(logit)
    assert finite.sum() > 10 and np.allclose(sums[finite], logit[finite], atol=1e-4)


def test_unsupervised_explanation_points_at_the_odd_feature(fitted, kdd_split) -> None:
    model = fitted["isolation_forest"]
    normal = next(e for e in kdd_split[1] if e.label == "normal" and e.extra["service"] == "http")
    odd = Event(timestamp=None, source_kind=normal.source_kind, extra={**normal.extra, "dst_bytes": 9_000_000_000})
    assert model.score([odd])[0] > model.score([normal])[0]
    assert model.explain([odd], top=1)[0][0].feature == "dst_bytes"


def test_unsupervised_threshold_keeps_the_chosen_false_positive_rate(kdd_split) -> None:
    """Calibrated on held-back normal rows: on unseen normal rows the flagged share is near the target."""
    train, test = kdd_split
    model = create("isolation_forest", fpr=0.05).fit(data.normal_only(train))
    assert model.threshold == pytest.approx(0.95)
    normal_test = data.normal_only(test)
    flagged = float((model.score(normal_test) >= model.threshold).mean())
    assert 0.01 <= flagged <= 0.12, flagged


def test_same_seed_same_model(kdd_split) -> None:
    train, test = kdd_split
    labels = data.targets(train, "binary")
    a = create("random_forest", n_estimators=20).fit(train, labels).score(test)
    b = create("random_forest", n_estimators=20).fit(train, labels).score(test)
    c = create("random_forest", n_estimators=20, seed=7).fit(train, labels).score(test)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_category_task_predicts_attack_categories(kdd_split) -> None:
    train, test = kdd_split
    model = create("random_forest", task="category", n_estimators=30).fit(train, data.targets(train, "category"))
    assert model.classes_[0] == "normal" and {"DoS", "Probe"} <= set(model.classes_)
    predicted = model.predict(test)
    truth = data.targets(test, "category")
    dos = [p for p, t in zip(predicted, truth) if t == "DoS"]
    assert dos.count("DoS") / len(dos) > 0.95


def test_unseen_categories_and_missing_values_do_not_break_scoring(fitted, kdd_split) -> None:
    base = kdd_split[1][0]
    strange = [
        Event(timestamp=None, source_kind="flow_csv", extra={**base.extra, "service": "never-seen", "flag": "??"}),
        Event(timestamp=None, source_kind="flow_csv", extra={**base.extra, "src_bytes": None, "count": "junk"}),
    ]
    for model in fitted.values():
        scores = model.score(strange)
        assert np.isfinite(scores).all() and len(model.explain(strange)) == 2


def test_unsw_nb15_flows(unsw_events) -> None:
    """The same code on another dataset's features (UNSW-NB15's 42 columns) and its category labels."""
    cut = len(unsw_events) * 7 // 10
    train, test = unsw_events[:cut], unsw_events[cut:]
    model = create("gradient_boosting", max_iter=60).fit(train, data.targets(train, "binary"))
    assert "sbytes" in model.features_ and "label" not in model.features_ and "attack_cat" not in model.features_
    assert roc_auc_score(_truth(test), model.score(test)) > 0.95


def test_parameters_are_checked_and_converted() -> None:
    model = create("random_forest", n_estimators="12", max_features="0.5")
    assert model.params["n_estimators"] == 12
    with pytest.raises(ModelError, match="unknown parameter"):
        create("knn", neighbours=3)
    with pytest.raises(ModelError, match="must be a int"):
        create("knn", n_neighbors="many")
    with pytest.raises(ModelError, match="unknown algorithm"):
        create("deep_magic")
    with pytest.raises(ModelError, match="task"):
        create("knn", task="regression")


def test_fitting_needs_labels_and_two_classes(kdd_split) -> None:
    train, _ = kdd_split
    with pytest.raises(ModelError, match="label"):
        create("knn").fit(train[:100])
    with pytest.raises(ModelError, match="two classes"):
        create("knn").fit(train[:100], ["normal"] * 100)
    with pytest.raises(ModelError, match="no events"):
        create("isolation_forest").fit([])


def test_supervised_threshold_is_calibrated_to_the_false_positive_rate(kdd_split) -> None:
    """Held-back normal rows set the threshold (never above 0.5): more of an unseen attack family is caught
    for at most the chosen share of normal rows flagged."""
    train, test = kdd_split
    seen = [e for e in train if data.category(e) != "DoS"]
    unseen_dos = [e for e in test if data.category(e) == "DoS"]
    normal_test = data.normal_only(test)
    plain = create("random_forest", n_estimators=30, fpr=0.0).fit(seen, data.targets(seen, "binary"))
    calibrated = create("random_forest", n_estimators=30, fpr=0.02).fit(seen, data.targets(seen, "binary"))
    assert plain.threshold == 0.5 and calibrated.threshold < 0.5
    caught = lambda m: float((m.score(unseen_dos) >= m.threshold).mean())  # noqa: E731
    assert caught(calibrated) > caught(plain)
    assert float((calibrated.score(normal_test) >= calibrated.threshold).mean()) <= 0.05


def test_events_a_flow_model_cannot_judge_score_zero(fitted, kdd_split) -> None:
    web = Event(timestamp=None, source_kind="access_log", src_ip="203.0.113.5", http_method="GET", url="/",
                http_status=200, bytes_out=512)
    flow = kdd_split[1][0]
    for model in fitted.values():
        assert list(model.applicable([web, flow])) == [False, True]
        scores = model.score([web, flow])
        assert scores[0] == 0.0 and scores[1] == pytest.approx(model.score([flow])[0])
