"""Unsupervised detectors trained on a period the administrator calls normal: Isolation Forest, Local
Outlier Factor and KNN distance.

They learn what normal looks like, per flow (``view="flow"``) or per source and time window
(``view="host"``), and score how unusual new events are — so they can catch attack types nobody labelled.
Calibration: a fifth of the normal data is held back; the model's score of an event is the share of those
held-back normal rows that looked *less* unusual. A threshold of ``1 - fpr`` then flags about ``fpr`` of
normal traffic: the administrator picks the false-positive rate, not an opaque anomaly score.
Explanations: the features furthest from normal in robust z-scores (median / MAD of the normal data),
and categorical values that were rare or never seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from netwarden.learn._tabular import COMMON_PARAMS, TabularModel
from netwarden.learn.base import Contribution, ModelError, Progress, register_algorithm
from netwarden.learn.evaluation import calibration_summary
from netwarden.learn.features import text_value
from netwarden.records import Event

CALIBRATION_SHARE = 0.2
QUANTILES = 1001
UNSEEN_Z = 6.0  # how unusual a categorical value never seen in normal traffic counts as


class AnomalyModel(TabularModel):
    family = "unsupervised"
    supervised = False
    scaled = True

    def __init__(self, task: str = "binary", **params: Any) -> None:
        super().__init__(task, **params)
        self.calibration_: list[float] = []

    def _fit_matrix(self, X: np.ndarray, labels: Sequence[str] | None, events: Sequence[Event],
                    progress: Progress) -> None:
        if not 0.0 < self.params["fpr"] < 0.5:
            raise ModelError(f"{self.algorithm}: fpr must be between 0 and 0.5 (a share, e.g. 0.01)")
        if self.params["view"] == "host":
            rows = len(X)
            X = np.unique(X, axis=0)  # every event of a window has its window's row: learn each once
            self.steps_.append(f"{len(X):,} distinct host-window rows from {rows:,} events")
        if len(X) < 20:
            raise ModelError(f"{self.algorithm}: at least 20 normal rows are needed, got {len(X)}")
        rng = np.random.default_rng(self.params["seed"])
        order = rng.permutation(len(X))
        cut = max(10, int(len(X) * CALIBRATION_SHARE))
        held, train = X[order[:cut]], X[order[cut:]]
        self.steps_.append(f"{len(held):,} rows held back to calibrate the threshold")
        if len(train) > self.params["max_train"]:
            self.steps_.append(f"fitted on {self.params['max_train']:,} of {len(train):,} rows (max_train)")
            train = train[rng.choice(len(train), self.params["max_train"], replace=False)]
        else:
            self.steps_.append(f"fitted on {len(train):,} rows")
        self.estimator_ = self._build()
        if "max_samples" in self.params and self.params["max_samples"] > len(train):
            self.estimator_.set_params(max_samples=len(train))  # small normal periods: use every row
        self.estimator_.fit(train)
        progress("calibrating", 0.9)
        raw = self._raw(held)
        self.calibration_ = np.quantile(raw, np.linspace(0, 1, QUANTILES)).tolist()
        self.threshold = 1.0 - self.params["fpr"]
        self.calibration_info_ = calibration_summary(self._calibrated(raw), self.threshold, len(train))

    def _raw(self, X: np.ndarray) -> np.ndarray:
        """Higher = more unusual, in the estimator's own units."""
        return -self.estimator_.score_samples(X)

    def _score_matrix(self, X: np.ndarray) -> np.ndarray:
        return self._calibrated(self._raw(X))

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        # share of held-back normal rows scoring lower
        cal = np.asarray(self.calibration_)
        return np.interp(raw, cal, np.linspace(0, 1, len(cal)))

    def explain(self, events: Sequence[Event], top: int = 5) -> list[list[Contribution]]:
        """Robust z-scores against the normal data; categories by how rare they were (unseen: UNSEEN_Z)."""
        if not events:
            return []
        assert self.spec_ is not None
        num, cat = self.spec_.raw(events)
        med = np.asarray(self.spec_.median)
        z = np.abs(np.where(np.isnan(num), med, num) - med) / np.asarray(self.spec_.mad) if num.size else num
        rare = np.zeros(cat.shape)
        for j, name in enumerate(self.spec_.categorical):
            share = self.spec_.level_share.get(name, {})
            texts = [text_value(v) for v in cat[:, j]]
            rare[:, j] = [min(UNSEEN_Z, -np.log10(share[v])) if v in share else UNSEEN_Z for v in texts]
        return self._top(events, np.hstack([z, rare]), top)

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "calibration": self.calibration_}

    def _restore(self, state: dict[str, Any]) -> None:
        super()._restore(state)
        self.calibration_ = [float(v) for v in state["calibration"]]
        if len(self.calibration_) < 2:
            raise ValueError("calibration missing")


UNSUPERVISED_PARAMS = {**COMMON_PARAMS, "fpr": 0.01, "max_train": 20_000}


@register_algorithm
class IsolationForestModel(AnomalyModel):
    algorithm = "isolation_forest"
    description = "Isolation Forest on normal traffic, threshold calibrated to a false-positive rate"
    default_params: ClassVar[dict[str, Any]] = {**UNSUPERVISED_PARAMS, "n_estimators": 100, "max_samples": 256,
                                                "max_train": 100_000}

    def _build(self) -> Any:
        from sklearn.ensemble import IsolationForest  # here, not at import: listing algorithms stays light

        return IsolationForest(n_estimators=self.params["n_estimators"], max_samples=self.params["max_samples"],
                               random_state=self.params["seed"], n_jobs=2)


@register_algorithm
class LocalOutlierFactorModel(AnomalyModel):
    algorithm = "lof"
    description = "Local Outlier Factor (novelty mode) on normal traffic, calibrated threshold"
    default_params: ClassVar[dict[str, Any]] = {**UNSUPERVISED_PARAMS, "n_neighbors": 20}

    def _build(self) -> Any:
        from sklearn.neighbors import LocalOutlierFactor

        return LocalOutlierFactor(n_neighbors=self.params["n_neighbors"], novelty=True, n_jobs=2)


@register_algorithm
class KnnDistance(AnomalyModel):
    algorithm = "knn_distance"
    description = "Mean distance to the k nearest normal rows, calibrated threshold"
    default_params: ClassVar[dict[str, Any]] = {**UNSUPERVISED_PARAMS, "n_neighbors": 5}

    def _build(self) -> Any:
        from sklearn.neighbors import NearestNeighbors

        return NearestNeighbors(n_neighbors=self.params["n_neighbors"], n_jobs=2)

    def _raw(self, X: np.ndarray) -> np.ndarray:
        distances, _ = self.estimator_.kneighbors(X)
        return distances.mean(axis=1)
