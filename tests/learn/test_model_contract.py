"""The model contract, checked for EVERY registered algorithm (parametrised over ``MODELS``).

A model family added later is covered without touching this file. On a tiny simulated office (a few
minutes of flows, web requests and logins, with attacks labelled by their attackers' addresses), each
algorithm, made small where its parameters allow:

1. fits and scores one finite value in [0, 1] per event;
2. is deterministic with a seed: fitted twice with the same seed, it scores the same;
3. saves and loads (the safe artefacts) to the same class, threshold and scores;
4. explains: per event a list of at most ``top`` contributions naming input features, some non-empty.

Families whose optional package is missing (PyTorch) skip with the reason the model gives. Each family's
own tests prove its quality on real data; this one proves the shape all of them promise.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from netwarden.learn.base import MODELS, Model
from netwarden.records import Event
from netwarden.simulate import Simulator
from netwarden.simulate.outputs import to_events

NAMES = sorted(MODELS.all())
# the parameters that cost time, made small wherever an algorithm has them
SMALL = {"n_estimators": 10, "max_iter": 30, "epochs": 1, "hidden_size": 8, "timesteps": 4, "batch_size": 64,
         "n_neighbors": 3, "patience": 1, "n_jobs": 1, "threads": 1}


@cache
def _office() -> tuple[tuple[Event, ...], tuple[str, ...]]:
    sim = Simulator(seed=5, rate=3.0, attack_every=20, first_attack=5)
    events = to_events(sim.generate(datetime(2026, 3, 2, 9, tzinfo=timezone.utc), 150))
    attackers = {attacker for _, _, attacker in sim.launched}
    labels = ["attack" if e.src_ip in attackers else "normal" for e in events]
    return tuple(events), tuple(labels)


_FITTED: dict[str, Model] = {}


def _fitted(name: str) -> Model:
    """One fitted model per algorithm for the tests that only read it (fitting is the costly part)."""
    if name not in _FITTED:
        _FITTED[name] = _fit(name)
    return _FITTED[name]


def _fit(name: str, seed: int = 7) -> Model:
    cls = MODELS.get(name)
    reason = cls.unavailable()
    if reason:
        pytest.skip(f"{name}: {reason}")
    params = {key: value for key, value in SMALL.items() if key in cls.default_params}
    model = cls(seed=seed, **params)
    events, labels = _office()
    if model.supervised:
        return model.fit(list(events), list(labels))
    normal = [e for e, label in zip(events, labels) if label == "normal"]
    return model.fit(normal)


@pytest.mark.parametrize("name", NAMES)
def test_fits_and_scores_in_the_unit_interval(name: str) -> None:
    model = _fitted(name)
    events, _ = _office()
    scores = model.score(list(events))
    assert scores.shape == (len(events),)
    assert np.isfinite(scores).all() and scores.min() >= 0.0 and scores.max() <= 1.0
    assert 0.0 <= model.threshold <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_scores(name: str) -> None:
    events, _ = _office()
    first, second = _fitted(name), _fit(name)
    assert np.array_equal(first.score(list(events)), second.score(list(events)))


@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_round_trip(name: str, tmp_path: Path) -> None:
    model = _fitted(name)
    events, _ = _office()
    loaded = Model.load(model.save(tmp_path / name))
    assert type(loaded) is type(model) and loaded.threshold == model.threshold and loaded.params == model.params
    assert np.allclose(loaded.score(list(events)), model.score(list(events)))


@pytest.mark.parametrize("name", NAMES)
def test_explanations_are_present(name: str) -> None:
    model = _fitted(name)
    events = list(_office()[0])
    scores, applicable = model.score(events), model.applicable(events)
    # the five most suspicious events the model reads (a web profile reads web requests only)
    ranked = sorted((i for i in range(len(events)) if applicable[i]), key=lambda i: -scores[i])[:5]
    assert ranked, f"{name}: reads none of the simulated events"
    explained = model.explain([events[i] for i in ranked], top=3)
    assert len(explained) == len(ranked)
    assert any(explained), f"{name}: no event got an explanation"
    for contributions in explained:
        assert len(contributions) <= 3
        assert all(c.feature for c in contributions)
