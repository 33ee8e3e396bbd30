"""What the scikit-learn families share: features from events, one estimator, skops persistence.

Subclasses set ``scaled`` (standardise numbers: linear, distance-based models) and implement
``_build`` (the estimator from ``self.params``), ``_fit_matrix`` and ``_score_matrix``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from netwarden.learn import artefacts
from netwarden.learn.base import Contribution, Model, ModelError, Progress
from netwarden.learn.features import FeatureSpec
from netwarden.records import Event

ESTIMATOR_FILE = "estimator.skops"
#: parameters every tabular model takes (feature view, and the seed for reproducibility)
COMMON_PARAMS: dict[str, Any] = {"view": "flow", "window": 60.0, "seed": 42}


class TabularModel(Model):
    scaled: ClassVar[bool] = False

    def __init__(self, task: str = "binary", **params: Any) -> None:
        super().__init__(task, **params)
        self.spec_: FeatureSpec | None = None
        self.estimator_: Any = None

    # -- the shared parts -----------------------------------------------------------------------

    def _fit(self, events: Sequence[Event], labels: Sequence[str] | None, progress: Progress) -> None:
        progress("features", 0.0)
        self.spec_ = FeatureSpec(self.params["view"], self.params["window"]).fit(events)
        self.features_ = self.spec_.names
        X = self.spec_.transform(events, scale=self.scaled)
        progress("fitting", 0.05)
        self._fit_matrix(X, labels, events, progress)
        progress("done", 1.0)

    def matrix(self, events: Sequence[Event]) -> np.ndarray:
        if self.spec_ is None or self.estimator_ is None:
            raise ModelError(f"{self.algorithm}: the model is not trained")
        return self.spec_.transform(events, scale=self.scaled)

    def score(self, events: Sequence[Event]) -> np.ndarray:
        """Events the model cannot judge (see :meth:`applicable`) score 0: a flow model has no opinion about
        an access-log line, and imputing every feature would make one up."""
        if not events:
            return np.empty(0)
        usable = self.applicable(events)
        if usable.all():
            return np.clip(self._score_matrix(self.matrix(events)), 0.0, 1.0)
        out = np.zeros(len(events))
        if usable.any():
            chosen = np.flatnonzero(usable)
            out[chosen] = np.clip(self._score_matrix(self.matrix([events[i] for i in chosen])), 0.0, 1.0)
        return out

    def applicable(self, events: Sequence[Event]) -> np.ndarray:
        """Flow-feature models judge only events that carry some of their numeric features in ``extra`` (three,
        or a quarter when they have fewer than twelve): records of the kind they learned from, or a partial
        record typed into a form; event-field and host models judge every event."""
        if self.spec_ is None or self.spec_.mode != "extra" or not self.spec_.numeric:
            return super().applicable(events)
        keys = frozenset(self.spec_.numeric)
        need = min(3, (len(keys) + 3) // 4)
        return np.fromiter((len(e.extra.keys() & keys) >= need for e in events), dtype=bool, count=len(events))

    def _fit_matrix(self, X: np.ndarray, labels: Sequence[str] | None, events: Sequence[Event],
                    progress: Progress) -> None:
        raise NotImplementedError

    def _score_matrix(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- explanations ---------------------------------------------------------------------------

    def _contributions(self, events: Sequence[Event], per_column: np.ndarray, top: int) -> list[list[Contribution]]:
        """Sum per-input-column contributions into the features they come from; keep the largest."""
        assert self.spec_ is not None
        owners = self.spec_.owners()
        n_features = len(self.spec_.names)
        per_feature = np.zeros((per_column.shape[0], n_features))
        np.add.at(per_feature.T, owners, per_column.T)
        return self._top(events, per_feature, top)

    def _top(self, events: Sequence[Event], per_feature: np.ndarray, top: int) -> list[list[Contribution]]:
        assert self.spec_ is not None
        names = self.spec_.names
        values = self.spec_.display_values(events)
        out = []
        for i in range(per_feature.shape[0]):
            order = np.argsort(-np.abs(per_feature[i]), kind="stable")[:top]
            out.append([Contribution(names[j], values[i][j], float(per_feature[i, j]))
                        for j in order if per_feature[i, j] != 0.0])
        return out

    def _occlusion(self, events: Sequence[Event], top: int) -> list[list[Contribution]]:
        """Model-agnostic: how much the score drops when one feature takes its typical normal value."""
        assert self.spec_ is not None
        num, cat = self.spec_.raw(events)
        base_num, base_cat = self.spec_.baseline()
        # compared in log-odds: probabilities saturate near 0 and 1, where every change looks tiny
        full = _logit(self._score_matrix(self.spec_.assemble(num, cat, self.scaled)))
        n_num = num.shape[1]
        per_feature = np.zeros((len(events), len(self.spec_.names)))
        for j in range(len(self.spec_.names)):
            n2, c2 = num.copy(), cat.copy()
            if j < n_num:
                n2[:, j] = base_num[0, j]
            else:
                c2[:, j - n_num] = base_cat[0, j - n_num]
            per_feature[:, j] = full - _logit(self._score_matrix(self.spec_.assemble(n2, c2, self.scaled)))
        return self._top(events, per_feature, top)

    # -- persistence ----------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {"spec": self.spec_.to_dict() if self.spec_ else None}

    def _restore(self, state: dict[str, Any]) -> None:
        self.spec_ = FeatureSpec.from_dict(state["spec"]) if state.get("spec") else None

    def _save_artefacts(self, directory: Path) -> None:
        artefacts.save_sklearn(self.estimator_, directory / ESTIMATOR_FILE)

    def _load_artefacts(self, directory: Path) -> None:
        self.estimator_ = artefacts.load_sklearn(directory / ESTIMATOR_FILE)
        expected = type(self._build()).__name__
        if type(self.estimator_).__name__ != expected:
            raise ModelError(f"{directory}: the estimator is a {type(self.estimator_).__name__}, "
                             f"{self.algorithm} needs a {expected}")

    def _build(self) -> Any:
        raise NotImplementedError


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def balanced_subsample(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Indices of at most ``limit`` rows with the classes as even as the data allows (for models whose
    cost grows with the training set: KNN, LOF)."""
    if len(y) <= limit:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    budget = limit
    chosen = []
    sizes = sorted((int((y == c).sum()), c) for c in classes)
    for i, (size, c) in enumerate(sizes):  # smallest class first: what it cannot use goes to the others
        take = min(size, budget // (len(classes) - i))
        budget -= take
        chosen.append(rng.choice(np.flatnonzero(y == c), take, replace=False))
    return np.sort(np.concatenate(chosen))
