"""forest_novelty on a small synthetic site: normal flows, one labelled attack kind, and a novel kind the
labels never showed. The forest alone learns "attack = f1 is high" and misses the novel kind (f2 high, f1
normal); the distance to normal rows catches it, within the false-positive budget on fresh normal rows."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np

from netwarden.learn import data
from netwarden.learn.base import Model, create
from netwarden.learn.forest_novelty import NOVEL
from netwarden.records import Event, SourceKind

FPR = 0.05
PARAMS = {"n_estimators": 20, "n_jobs": 1, "fpr": FPR}
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _events(rng: np.random.Generator, n: int, label: str, centre: tuple[float, float, float]) -> list[Event]:
    rows = rng.normal(centre, 1.0, size=(n, 3))
    return [Event(timestamp=NOW, source_kind=SourceKind.NETFLOW, src_ip="192.0.2.1", transport="tcp", label=label,
                  extra={"f1": float(a), "f2": float(b), "f3": float(c)}) for a, b, c in rows]


@cache
def _site() -> tuple[list[Event], list[Event], list[Event]]:
    """(training rows: normal + the known attack, fresh normal rows, the novel attack)"""
    rng = np.random.default_rng(3)
    train = _events(rng, 2500, "normal", (0, 0, 0)) + _events(rng, 400, "neptune", (8, 0, 0))
    return train, _events(rng, 2000, "normal", (0, 0, 0)), _events(rng, 200, "guess_passwd", (0, 8, 0))


@cache
def _fitted(algorithm: str = "forest_novelty", seed: int = 7) -> Model:
    train = _site()[0]
    return create(algorithm, seed=seed, **PARAMS).fit(train, data.targets(train, "binary"))


def _caught(model: Model, events: list[Event]) -> float:
    return float((model.score(events) >= model.threshold).mean())


def test_catches_a_novel_kind_the_forest_alone_misses_within_the_budget() -> None:
    _, fresh, novel = _site()
    hybrid, forest = _fitted(), _fitted("random_forest")
    assert _caught(forest, novel) < 0.2  # the premise: the forest, calibrated to the same budget, misses it
    assert _caught(hybrid, novel) > 0.9
    assert _caught(hybrid, fresh) <= FPR + 0.015  # 2,000 fresh normal rows: ±1 point of sampling
    assert hybrid.calibration_info_["calibrated_fpr"] <= FPR
    assert _caught(hybrid, _site()[0][-400:]) > 0.99  # the known kind still caught, by the forest


def test_saves_loads_and_scores_identically_same_seed_same_scores(tmp_path: Path) -> None:
    train, fresh, novel = _site()
    model = _fitted()
    events = fresh[:300] + novel + train[-100:]
    loaded = Model.load(model.save(tmp_path / "m"))
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["estimator.skops", "model.json", "novelty.skops"]
    assert np.array_equal(loaded.score(events), model.score(events))
    assert loaded.threshold == model.threshold == 0.5
    again = create("forest_novelty", seed=7, **PARAMS).fit(train, data.targets(train, "binary"))
    assert np.array_equal(again.score(events), model.score(events))


def test_explains_a_novel_row_by_its_distance_and_labels_it_novel_in_category_task() -> None:
    train, _, novel = _site()
    explained = _fitted().explain(novel[:3], top=2)
    assert [c[0].feature for c in explained] == ["f2"] * 3  # the feature that is far from every normal row
    model = create("forest_novelty", task="category", seed=7, **PARAMS).fit(train, data.targets(train, "category"))
    labels = model.predict(novel[:50] + train[-50:])
    assert labels[:50].count(NOVEL) > 45 and set(labels[50:]) == {"neptune"}


def test_alerts_do_not_call_a_distance_a_probability() -> None:
    from netwarden.detect.ml import score_words

    words = score_words(_fitted())
    assert "distance" in words and words != score_words(_fitted("random_forest"))
    assert score_words(_fitted("random_forest")) == "probability of an attack"


def test_the_threshold_is_set_on_the_false_positive_rates_upper_bound_not_its_estimate() -> None:
    import pytest

    from netwarden.learn.base import ModelError

    train, fresh, novel = _site()
    bounded, point = _fitted(), create("forest_novelty", seed=7, confidence=0, **PARAMS).fit(
        train, data.targets(train, "binary"))
    info = bounded.calibration_info_
    assert info["fpr_target"] == FPR and info["confidence"] == 0.95
    assert info["calibrated_fpr"] <= info["fpr_upper"] <= FPR  # how sure: new normal traffic stays within 5 %
    assert point.calibration_info_["confidence"] == 0
    # the bound leaves a margin: a farther distance threshold, fewer fresh normal rows flagged, the novel kind kept
    assert bounded.distance_threshold_ > point.distance_threshold_
    assert _caught(bounded, fresh) < _caught(point, fresh)
    assert _caught(bounded, novel) > 0.9
    # fewer normal rows to vouch for the rate: a looser bound, a stricter threshold
    small = train[:900] + train[-400:]
    fewer = create("forest_novelty", seed=7, **PARAMS).fit(small, data.targets(small, "binary"))
    assert fewer.distance_threshold_ > bounded.distance_threshold_
    assert fewer.calibration_info_["fpr_upper"] <= FPR
    with pytest.raises(ModelError, match="confidence"):
        create("forest_novelty", confidence=1.0, **PARAMS).fit(train, data.targets(train, "binary"))


def test_max_normal_caps_the_rows_the_distance_keeps_and_says_so() -> None:
    train, fresh, novel = _site()
    capped = create("forest_novelty", seed=7, max_normal=800, **PARAMS).fit(train, data.targets(train, "binary"))
    assert capped.novelty_.n_samples_fit_ == 800  # of some 2,500 normal rows: a smaller model
    assert any("the distance on 800 normal rows" in step for step in capped.steps_)
    assert capped.calibration_info_["fpr_upper"] <= FPR  # the bound comes from the rows it keeps
    assert _caught(capped, novel) > 0.9 and _caught(capped, fresh) <= FPR + 0.015
