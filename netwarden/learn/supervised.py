"""Supervised classifiers on labelled flow records: Random Forest, gradient boosting, KNN, logistic regression.

All of them learn ``normal`` against the rest (``task="binary"``) or every attack category
(``task="category"``), score "not normal" as a probability, and handle class imbalance: class weights
(forest, boosting, logistic regression) or a class-balanced sample (KNN, whose cost grows with the data).
Explanations: decision-path contributions (Saabas) for the forest, coefficient × standardised value for
logistic regression, occlusion (score drop when a feature takes its typical normal value) for boosting and
KNN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from netwarden.learn._tabular import COMMON_PARAMS, TabularModel, balanced_subsample
from netwarden.learn.base import NORMAL, Contribution, Progress, register_algorithm
from netwarden.learn.evaluation import calibration_summary
from netwarden.records import Event

MIN_CALIBRATION_NORMAL = 200
PREDICT_BLOCK = 32_768
CALIBRATION_SHARE = 0.15
#: every classifier's threshold calibration: the largest share of normal traffic it may flag (0: keep 0.5)
CLASSIFIER_PARAMS: dict[str, Any] = {**COMMON_PARAMS, "fpr": 0.01}


# scikit-learn (and SciPy) are imported where an estimator is built or used, not with this module: listing the
# algorithms (`netwarden model algorithms`, the web Models page) must not pay their start-up


def calibration_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    try:
        return train_test_split(index, test_size=CALIBRATION_SHARE, random_state=seed, stratify=y)
    except ValueError:  # a class too small to stratify
        return train_test_split(index, test_size=CALIBRATION_SHARE, random_state=seed)


class Classifier(TabularModel):
    family = "supervised"
    supervised = True

    def _fit_matrix(self, X: np.ndarray, labels: Sequence[str] | None, events: Sequence[Event],
                    progress: Progress) -> None:
        y = self._targets(labels)
        self.estimator_ = self._build()
        fpr = self.params["fpr"]
        if fpr <= 0 or (y == 0).sum() < MIN_CALIBRATION_NORMAL:
            self.steps_.append(f"fitted on all {len(y):,} rows; threshold kept at 0.5 "
                               f"({'fpr 0' if fpr <= 0 else f'fewer than {MIN_CALIBRATION_NORMAL} normal rows'})")
            self._train(X, y, progress)
            return
        fit_idx, held_idx = calibration_split(y, self.params["seed"])
        self._train(X[fit_idx], y[fit_idx], progress)
        held_normal = X[held_idx][y[held_idx] == 0]
        # lower the threshold from 0.5 while held-back normal rows stay within the target false-positive rate:
        # attacks of a kind never seen in training rank high but often below 0.5
        held_scores = self._score_matrix(held_normal)
        q = float(np.quantile(held_scores, 1.0 - fpr, method="higher"))
        self.threshold = min(0.5, q + 1e-9)
        self.calibration_info_ = calibration_summary(held_scores, self.threshold, len(fit_idx))
        self.steps_ += [f"fitted on {len(fit_idx):,} rows",
                        f"{len(held_idx):,} rows held back to calibrate the threshold ({len(held_normal):,} normal)"]

    def _targets(self, labels: Sequence[str] | None) -> np.ndarray:
        """The labels as class numbers; sets ``classes_`` (normal is class 0, whatever the texts sort as)."""
        assert labels is not None
        self.classes_ = [NORMAL, *sorted(set(labels) - {NORMAL})]
        index = {c: i for i, c in enumerate(self.classes_)}
        return np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels))

    def _train(self, X: np.ndarray, y: np.ndarray, progress: Progress) -> None:
        self.estimator_.fit(X, y)

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities in the order of ``classes_`` (a class absent from training gets 0)."""
        raw = self.estimator_.predict_proba(X)
        out = np.zeros((X.shape[0], len(self.classes_)))
        out[:, self.estimator_.classes_] = raw
        return out

    def _score_matrix(self, X: np.ndarray) -> np.ndarray:
        return 1.0 - self.proba(X)[:, 0]

    def predict(self, events: Sequence[Event]) -> list[str]:
        if self.task == "binary" or not events:
            return super().predict(events)
        p = self.proba(self.matrix(events))
        return self._labels(p, 1.0 - p[:, 0])

    def _labels(self, p: np.ndarray, score: np.ndarray) -> list[str]:
        """Per row: the likeliest attack class where ``score`` reaches the threshold, else normal."""
        best_attack = 1 + np.argmax(p[:, 1:], axis=1) if p.shape[1] > 1 else np.zeros(len(p), dtype=int)
        return [self.classes_[int(b)] if s >= self.threshold else NORMAL for s, b in zip(score, best_attack)]

    def explain(self, events: Sequence[Event], top: int = 5) -> list[list[Contribution]]:
        return self._occlusion(events, top) if events else []


@register_algorithm
class RandomForest(Classifier):
    algorithm = "random_forest"
    description = "Random Forest (bagged decision trees, balanced class weights)"
    default_params: ClassVar[dict[str, Any]] = {**CLASSIFIER_PARAMS, "n_estimators": 100, "max_depth": 0,
                                                "min_samples_leaf": 1, "max_features": "sqrt", "n_jobs": 2}

    def _build(self) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        p = self.params
        return RandomForestClassifier(n_estimators=p["n_estimators"], max_depth=p["max_depth"] or None,
                                      min_samples_leaf=p["min_samples_leaf"], max_features=_max_features(p),
                                      n_jobs=p["n_jobs"],
                                      random_state=p["seed"])

    def _train(self, X: np.ndarray, y: np.ndarray, progress: Progress) -> None:
        # grown in ten steps (warm start) so a progress bar moves; the result equals one fit
        total = self.params["n_estimators"]
        step = max(1, total // 10)
        est = self.estimator_
        # "balanced" weights computed once on all rows (the presets would be recomputed per warm-start step)
        classes, counts = np.unique(y, return_counts=True)
        est.set_params(warm_start=True, class_weight={int(c): len(y) / (len(classes) * n)
                                                      for c, n in zip(classes, counts)})
        grown = 0
        while grown < total:
            grown = min(total, grown + step)
            est.set_params(n_estimators=grown)
            est.fit(X, y)
            progress(f"trees {grown}/{total}", 0.05 + 0.95 * grown / total)
        est.set_params(warm_start=False)

    def explain(self, events: Sequence[Event], top: int = 5) -> list[list[Contribution]]:
        """Saabas decision-path contributions: along each tree's path, every split's change in the
        probability of "not normal" is credited to the feature it split on; averaged over the trees."""
        if not events:
            return []
        from scipy import sparse

        X = self.matrix(events)
        normal_col = np.flatnonzero(self.estimator_.classes_ == 0)
        per_column = np.zeros(X.shape)
        for tree in self.estimator_.estimators_:
            t = tree.tree_
            value = t.value[:, 0, :]
            value = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-12)
            not_normal = 1.0 - value[:, normal_col[0]] if normal_col.size else np.ones(t.node_count)
            parents = np.flatnonzero(t.children_left >= 0)
            children = np.concatenate([t.children_left[parents], t.children_right[parents]])
            split_of = np.concatenate([t.feature[parents], t.feature[parents]])
            delta = not_normal[children] - np.concatenate([not_normal[parents], not_normal[parents]])
            credit = sparse.csr_matrix((delta, (children, split_of)), shape=(t.node_count, X.shape[1]))
            per_column += np.asarray((tree.decision_path(X) @ credit).todense())
        per_column /= len(self.estimator_.estimators_)
        return self._contributions(events, per_column, top)


def _max_features(p: dict[str, Any]) -> Any:
    value = p["max_features"]
    if isinstance(value, str) and value not in ("sqrt", "log2"):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return "sqrt"
    return value


@register_algorithm
class GradientBoosting(Classifier):
    algorithm = "gradient_boosting"
    description = "Histogram gradient boosting (regularised, early stopping, balanced class weights)"
    default_params: ClassVar[dict[str, Any]] = {**CLASSIFIER_PARAMS, "max_iter": 200, "learning_rate": 0.1,
                                                "max_leaf_nodes": 31, "l2_regularization": 1.0,
                                                "min_samples_leaf": 20}

    def _build(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        p = self.params
        return HistGradientBoostingClassifier(max_iter=p["max_iter"], learning_rate=p["learning_rate"],
                                              max_leaf_nodes=p["max_leaf_nodes"],
                                              l2_regularization=p["l2_regularization"],
                                              min_samples_leaf=p["min_samples_leaf"], class_weight="balanced",
                                              early_stopping="auto", random_state=p["seed"])

    def proba(self, X: np.ndarray) -> np.ndarray:
        # scikit-learn walks one tree over all rows at a time, in a parallel region per tree: small blocks pay
        # that start-up per tree, one huge block loses the cache (measured on the 125,973 KDDTrain+ rows, 200
        # trees, 2 cores: 13.6 µs/row in blocks of 2,048, 5.9 µs in blocks of 32,768, 13.3 µs in one block)
        if len(X) <= PREDICT_BLOCK:
            return super().proba(X)
        return np.vstack([super(GradientBoosting, self).proba(X[i:i + PREDICT_BLOCK])
                          for i in range(0, len(X), PREDICT_BLOCK)])


@register_algorithm
class Knn(Classifier):
    algorithm = "knn"
    description = "k nearest neighbours (standardised features, class-balanced sample)"
    scaled = True
    default_params: ClassVar[dict[str, Any]] = {**CLASSIFIER_PARAMS, "n_neighbors": 5, "max_train": 20_000}

    def _build(self) -> Any:
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=self.params["n_neighbors"], weights="distance", n_jobs=2)

    def _train(self, X: np.ndarray, y: np.ndarray, progress: Progress) -> None:
        keep = balanced_subsample(y, self.params["max_train"], self.params["seed"])
        if len(keep) < len(y):
            self.steps_.append(f"kept {len(keep):,} of {len(y):,} rows, classes balanced (max_train)")
        self.estimator_.fit(X[keep], y[keep])

    def explain(self, events: Sequence[Event], top: int = 5) -> list[list[Contribution]]:
        """Per feature, how much closer the event is to its nearest attack neighbour than to its nearest
        normal one (squared standardised distance): the features that make it look like an attack."""
        if not events:
            return []
        X = self.matrix(events)
        est = self.estimator_
        train_X, train_y = est._fit_X, est._y  # the (sampled) training rows the classifier keeps
        per_column = np.zeros(X.shape)
        for side, sign in ((train_y == 0, 1.0), (train_y != 0, -1.0)):
            rows = train_X[side]
            if len(rows) == 0:
                continue
            nearest = rows[np.argmin(((X[:, None, :] - rows[None, :, :]) ** 2).sum(axis=2), axis=1)] \
                if len(X) * len(rows) <= 2_000_000 else rows[_nearest_chunked(X, rows)]
            per_column += sign * (X - nearest) ** 2
        return self._contributions(events, per_column, top)


def _nearest_chunked(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = np.empty(len(X), dtype=np.int64)
    for i in range(len(X)):
        out[i] = np.argmin(((rows - X[i]) ** 2).sum(axis=1))
    return out


@register_algorithm
class LogisticRegressionModel(Classifier):
    algorithm = "logistic_regression"
    description = "Logistic regression (standardised features, L2, balanced class weights)"
    scaled = True
    default_params: ClassVar[dict[str, Any]] = {**CLASSIFIER_PARAMS, "C": 1.0, "max_iter": 1000}

    def _build(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.params["C"], max_iter=self.params["max_iter"], class_weight="balanced",
                                  random_state=self.params["seed"])

    def explain(self, events: Sequence[Event], top: int = 5) -> list[list[Contribution]]:
        """Coefficient × standardised value: each feature's push on the log-odds of "not normal"."""
        if not events:
            return []
        X = self.matrix(events)
        coef = self.estimator_.coef_
        if coef.shape[0] == 1:  # binary: the row is the log-odds of class 1 (attack)
            weights = coef[0]
        else:  # several classes: the pull away from "normal" towards the attack classes
            rows = list(self.estimator_.classes_)
            normal = rows.index(0) if 0 in rows else None
            attack = [i for i, c in enumerate(rows) if c != 0]
            weights = coef[attack].mean(axis=0) - (coef[normal] if normal is not None else 0.0)
        return self._contributions(events, X * weights, top)
