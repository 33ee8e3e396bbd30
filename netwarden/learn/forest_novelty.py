"""Random forest + novelty distance (``forest_novelty``): a supervised model that also flags traffic unlike any
normal row it learned, for attack kinds nobody labelled (issue 13).

Why: a forest calibrated to a false-positive rate spends its budget on one or two tree votes, and which trees
vote for an attack it never saw is its seed (NSL-KDD with R2L left out: 21-38 % caught, the seed alone moving
it). Here the forest decides only where it is sure (score >= 0.5); the rest of the budget goes to the mean
distance to the ``n_neighbors`` nearest normal training rows (standardised features), which has no seed.

Fitting: a stratified 15 % of the rows is held back, as for the other classifiers; the forest learns from the
rest and flags some share of the held-back normal rows at 0.5. ``calibration="held"``: the distance model
learns every normal row the forest learns from, and its threshold D is where the held-back normal rows fill
the rest of ``fpr``. ``"all"``: it learns every normal row, held back or not, and D comes from each normal
row's mean distance to its k nearest normal rows outside its tenth (10 folds, no split: six times the
calibration rows). The budget is not ``fpr`` itself but what its 95 % upper bound allows (``confidence``,
learn/calibration.py): ``"held"`` bounds the held-back rows' rate; ``"all"`` bounds the forest's rate on the
held-back rows and the distance's on every normal row, each at 97.5 %, their sum bounding the union.
``confidence=0``: the plain count.
``max_normal`` > 0 keeps that many normal rows, evenly spaced (a smaller model, and still no draw). Score: max(forest, novelty), novelty reaching 0.5 exactly
at D (0.5·d/D below it, 1 − 0.5·D/d above), so the threshold is 0.5 and moving it moves both parts alike.
Explanations: the forest's decision-path contributions where the forest's score is the higher, else each
feature's squared standardised difference from the nearest normal row. Category task: a row only the distance
flags is labelled ``novel`` (the forest knows no class for it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from netwarden.learn import artefacts, calibration
from netwarden.learn.base import NORMAL, Contribution, ModelError, Progress, register_algorithm
from netwarden.learn.evaluation import calibration_summary
from netwarden.learn.supervised import MIN_CALIBRATION_NORMAL, RandomForest, calibration_split
from netwarden.records import Event

NOVELTY_FILE = "novelty.skops"
NOVEL = "novel"
THRESHOLD = 0.5
CALIBRATIONS = ("all", "held")
FOLDS = 10  # calibration="all": each normal row's distance is to the 90 % of normal rows outside its fold


@register_algorithm
class ForestNovelty(RandomForest):
    algorithm = "forest_novelty"
    description = ("Random forest + novelty distance: the forest where it is sure, distance to the nearest normal "
                   "rows for the rest of the false-positive budget (attack kinds absent from training)")
    default_params: ClassVar[dict[str, Any]] = {**RandomForest.default_params, "n_neighbors": 5, "max_normal": 0,
                                                "calibration": "all", "confidence": calibration.CONFIDENCE}
    # the score is the forest's probability OR the scaled distance from normal rows, whichever is higher
    score_name: ClassVar[str | None] = "score (attack probability or distance from normal traffic)"

    def __init__(self, task: str = "binary", **params: Any) -> None:
        super().__init__(task, **params)
        self.novelty_: Any = None
        self.distance_threshold_ = math.inf  # D: inf when no budget is left for the distance

    def _fit_matrix(self, X: np.ndarray, labels: Sequence[str] | None, events: Sequence[Event],
                    progress: Progress) -> None:
        y = self._targets(labels)
        normal = int((y == 0).sum())
        if normal < 2 + self.params["n_neighbors"]:
            raise ModelError(f"{self.algorithm}: needs normal rows to learn what normal looks like (got {normal})")
        if not 0 <= self.params["confidence"] < 1:
            raise ModelError(f"{self.algorithm}: confidence is a share below 1 (0.95), or 0 for a point estimate")
        if self.params["calibration"] not in CALIBRATIONS:
            raise ModelError(f"{self.algorithm}: calibration is one of {', '.join(CALIBRATIONS)}")
        self.estimator_ = self._build()
        fpr = self.params["fpr"]
        calibrate = fpr > 0 and normal >= MIN_CALIBRATION_NORMAL
        fit_idx, held_idx = calibration_split(y, self.params["seed"]) if calibrate else (np.arange(len(y)), None)
        self._train(X[fit_idx], y[fit_idx], progress)
        progress("novelty distances", 0.95)
        self.threshold = THRESHOLD
        held = np.zeros(len(y), dtype=bool)
        held[held_idx if held_idx is not None else []] = True
        # "all": every normal row, each calibrated by its distance to the others; "held": the forest's rows only
        chosen = np.flatnonzero((y == 0) & (~held if self.params["calibration"] == "held" else True))
        if 0 < self.params["max_normal"] < len(chosen):  # evenly spaced: a smaller model, and still no draw
            chosen = chosen[np.linspace(0, len(chosen) - 1, self.params["max_normal"]).astype(np.int64)]
        from sklearn.neighbors import NearestNeighbors

        self.novelty_ = NearestNeighbors(n_neighbors=min(self.params["n_neighbors"], len(chosen) - 1),
                                         n_jobs=self.params["n_jobs"]).fit(self._scaled(X[chosen]))
        self.steps_.append(f"fitted on {len(fit_idx):,} rows (the forest), the distance on {len(chosen):,} normal rows")
        if held_idx is None:
            self.distance_threshold_ = math.inf
            why = "fpr 0" if fpr <= 0 else f"fewer than {MIN_CALIBRATION_NORMAL} normal rows"
            self.steps_.append(f"threshold: the forest alone at 0.5 ({why}), no budget for the distance")
            return
        held_normal = np.flatnonzero(held & (y == 0))
        forest = self._forest_score(X[held_normal])
        sure = forest >= THRESHOLD
        confidence = self.params["confidence"]
        if self.params["calibration"] == "held":
            distance = self._distance(X[held_normal])
            # the held-back rows vouch for the sum: at most max_flagged of them, the forest's included
            budget = calibration.max_flagged(len(held_normal), fpr, confidence) - int(sure.sum())
            self.distance_threshold_ = _distance_above(distance[~sure], budget)
            upper, rows = None, len(held_normal)  # calibration_summary bounds the held-back rows' rate
        else:  # each normal row's distance to the normal rows outside its fold: a new row's, without a split
            others = self._fold_distances(self._scaled(X[chosen]))
            # two rates, each bounded at half the risk (their sum bounds the union): the forest's on the
            # held-back rows, the distance's on every normal row
            half = 1.0 - (1.0 - confidence) / 2 if confidence else 0.0
            forest_upper = calibration.upper_bound(int(sure.sum()), len(held_normal), half) if confidence \
                else float(sure.mean())
            budget = calibration.max_flagged(len(chosen), fpr - forest_upper, half)
            self.distance_threshold_ = _distance_above(others, budget)
            far = int((others >= self.distance_threshold_).sum())
            rows = len(chosen)
            upper = forest_upper + (calibration.upper_bound(far, len(chosen), half) if confidence
                                    else far / len(chosen))
            distance = self._distance(X[held_normal])
            in_chosen = np.isin(held_normal, chosen)
            distance[in_chosen] = others[np.searchsorted(chosen, held_normal[in_chosen])]
        held_scores = np.maximum(forest, self._novelty(distance))
        self.calibration_info_ = calibration_summary(held_scores, THRESHOLD, len(fit_idx), fpr=fpr,
                                                     confidence=confidence, upper=upper, bound_rows=rows)
        bound = self.calibration_info_["fpr_upper"]
        self.steps_.append(f"{len(held_idx):,} rows held back to calibrate the threshold ({len(held_normal):,} normal): "
                           f"the forest flags {int(sure.sum()):,} of them at 0.5, the distance "
                           f"{int((self._novelty(distance[~sure]) >= THRESHOLD).sum()):,} more")
        self.steps_.append(f"false positives on new normal traffic: at most {bound:.2%} "
                           + (f"with {confidence:.0%} confidence" if confidence else "(point estimate)")
                           + f" on {rows:,} normal rows (target {fpr:.2%}"
                           + (": too few normal rows to vouch for it, the distance flags nothing)"
                              if bound > fpr else ")"))

    def _fold_distances(self, scaled: np.ndarray) -> np.ndarray:
        """Each row's mean distance to its k nearest rows outside its fold (FOLDS folds, every FOLDS-th row: no
        draw). Why not each row's k nearest *other* rows: those leave-one-out distances are not independent
        draws, and a bound that took them as such let the rate on new rows overshoot 5 % (5.1 %, NSL-KDD with
        DoS left out). A row's distance to a fold model is that of a new row to a model of 90 % of the rows;
        the model keeps them all, so a new row's distance can only be smaller: the bound errs safe."""
        from sklearn.neighbors import NearestNeighbors

        out = np.empty(len(scaled))
        fold = np.arange(len(scaled)) % FOLDS
        for j in range(FOLDS):
            inside = fold == j
            nn = NearestNeighbors(n_neighbors=min(self.params["n_neighbors"], int((~inside).sum())),
                                  n_jobs=self.params["n_jobs"]).fit(scaled[~inside])
            out[inside] = nn.kneighbors(scaled[inside])[0].mean(axis=1)
        return out

    # -- scoring --------------------------------------------------------------------------------

    def _forest_score(self, X: np.ndarray) -> np.ndarray:
        return super()._score_matrix(X)

    def _score_matrix(self, X: np.ndarray) -> np.ndarray:
        return np.maximum(self._forest_score(X), self._novelty(self._distance(X)))

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        """The forest's (unscaled) matrix standardised as FeatureSpec.assemble(scale=True) would."""
        assert self.spec_ is not None
        width = len(self.spec_.numeric)
        out = X.copy()
        out[:, :width] -= np.asarray(self.spec_.mean)
        out[:, :width] /= np.asarray(self.spec_.std)
        return out

    def _distance(self, X: np.ndarray) -> np.ndarray:
        if not len(X):
            return np.empty(0)
        return self.novelty_.kneighbors(self._scaled(X))[0].mean(axis=1)

    def _novelty(self, distance: np.ndarray) -> np.ndarray:
        d = self.distance_threshold_
        if math.isinf(d):
            return np.zeros(len(distance))
        return np.where(distance < d, 0.5 * distance / d, 1.0 - 0.5 * d / np.maximum(distance, d))

    def predict(self, events: Sequence[Event]) -> list[str]:
        if self.task == "binary" or not events:
            return super().predict(events)
        X = self.matrix(events)
        p = self.proba(X)
        labels = self._labels(p, 1.0 - p[:, 0])
        novel = self._novelty(self._distance(X)) >= self.threshold
        return [NOVEL if label == NORMAL and far else label for label, far in zip(labels, novel)]

    def explain(self, events: Sequence[Event], top: int = 5) -> list[list[Contribution]]:
        if not events:
            return []
        out = super().explain(events, top)
        X = self.matrix(events)
        far = np.flatnonzero(self._novelty(self._distance(X)) > self._forest_score(X))
        if len(far):
            scaled = self._scaled(X[far])
            nearest = self.novelty_.kneighbors(scaled, n_neighbors=1, return_distance=False)[:, 0]
            per_column = (scaled - self.novelty_._fit_X[nearest]) ** 2  # the normal rows it keeps
            for i, contributions in zip(far, self._contributions([events[i] for i in far], per_column, top)):
                out[i] = contributions
        return out

    # -- persistence ----------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        d = self.distance_threshold_
        return {**super()._state(), "distance_threshold": None if math.isinf(d) else d}

    def _restore(self, state: dict[str, Any]) -> None:
        super()._restore(state)
        d = state["distance_threshold"]
        self.distance_threshold_ = math.inf if d is None else float(d)

    def _save_artefacts(self, directory: Path) -> None:
        super()._save_artefacts(directory)
        artefacts.save_sklearn(self.novelty_, directory / NOVELTY_FILE)

    def _load_artefacts(self, directory: Path) -> None:
        super()._load_artefacts(directory)
        self.novelty_ = artefacts.load_sklearn(directory / NOVELTY_FILE)
        if type(self.novelty_).__name__ != "NearestNeighbors":
            raise ModelError(f"{directory}: the novelty model is a {type(self.novelty_).__name__}, "
                             f"{self.algorithm} needs a NearestNeighbors")


def _distance_above(distance: np.ndarray, budget: int) -> float:
    """The distance threshold D: at most ``budget`` of ``distance`` reach it; inf (the distance off) when the
    budget allows none, and always above 0 (the novelty score divides by it)."""
    if budget <= 0 or not len(distance):
        return math.inf
    return max(calibration.above(distance, budget), float(np.nextafter(0.0, 1.0)))
