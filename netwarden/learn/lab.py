"""The model lab: train, evaluate and register a model in one call — what the CLI and the web page use.

>>> result = train(registry, data="KDDTrain+.txt", algorithm="random_forest", name="kdd-forest",
...                progress=lambda stage, fraction: print(stage, fraction))   # doctest: +SKIP
>>> result.metrics["f1"], result.record.ref                                   # doctest: +SKIP

Without a test file the data is split 70/30, stratified by the target, with a fixed seed: the same file
and parameters give the same model and the same figures. Unsupervised models learn from the normal rows of
the training part only (every row when the data carries no labels) and are evaluated on the whole test part.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from netwarden.learn import data as learn_data
from netwarden.learn.base import NORMAL, Contribution, Model, ModelError, Progress, create
from netwarden.learn.evaluation import detection_by_label, evaluate
from netwarden.learn.registry import ModelRecord, ModelRegistry, check_name
from netwarden.records import EVENT_FIELDS, Event

MAX_LABELS_REPORTED = 40


@dataclass
class TrainResult:
    model: Model
    metrics: dict[str, Any]
    data: dict[str, Any]
    record: ModelRecord | None = None
    problems: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)  # how many rows each step really used, in words


def _quiet(stage: str, fraction: float) -> None:
    pass


def train(registry: ModelRegistry | None, *, data: Path | str | None = None, algorithm: str, task: str = "binary",
          params: dict[str, Any] | None = None, test: Path | str | None = None, name: str | None = None,
          fmt: str | None = None, test_size: float = 0.3, seed: int = 42, limit: int | None = None,
          label_column: str | None = None, progress: Progress | None = None,
          events: Sequence[Event] | None = None, source: str = "stored events") -> TrainResult:
    """Read ``data`` (or take ``events``, e.g. stored ones, described as ``source``), split (or read ``test``),
    fit, evaluate, and add to ``registry`` when one is given."""
    progress = progress or _quiet
    if name is not None:
        check_name(name)
    model = create(algorithm, task, **(params or {}))
    if "seed" in model.params and "seed" not in (params or {}):
        model.params["seed"] = seed
    progress("reading data", 0.0)
    if events is None:
        if data is None:
            raise ModelError("give a data file or events to learn from")
        loaded = learn_data.load_file(data, fmt, limit=limit, label_column=label_column)
    else:
        if not events:
            raise ModelError(f"no events to learn from in {source}")
        loaded = learn_data.Labelled(list(events), source, "stored")
    events = loaded.events
    problems = list(loaded.problems)
    if test is not None:
        tested = learn_data.load_file(test, fmt, limit=limit, label_column=label_column)
        train_events, test_events = events, tested.events
        problems += tested.problems
        split = {"test_file": str(test), "test_format": tested.format, "test_skipped": tested.skipped}
    else:
        train_events, test_events = split_events(events, task, test_size, seed)
        split = {"test_size": test_size, "seed": seed, "stratified": True}
    result = fit_and_evaluate(model, train_events, test_events, progress)
    result.steps[:0] = [f"read {len(events):,} rows from {data if data is not None else source}"
                        + (f" ({loaded.skipped:,} skipped)" if loaded.skipped else ""),
                        f"split into {len(train_events):,} training and {len(test_events):,} test rows"
                        if test is None else f"test file: {len(test_events):,} rows"]
    description = {"file": str(data) if data is not None else source, "format": loaded.format, "rows": len(events), "skipped": loaded.skipped,
                   "train_rows": len(train_events), "test_rows": len(test_events), **split,
                   "classes": _counts(_labels_for(train_events, task)),
                   "steps": result.steps}
    result.data = description
    result.problems = problems
    if registry is not None:
        progress("saving", 0.99)
        result.record = registry.add(model, name=name or algorithm.replace("_", "-"), data=description,
                                     metrics=result.metrics)
    progress("done", 1.0)
    return result


def fit_and_evaluate(model: Model, train_events: Sequence[Event], test_events: Sequence[Event],
                     progress: Progress | None = None) -> TrainResult:
    """Fit on ``train_events`` and measure on ``test_events`` (labelled: full metrics)."""
    progress = progress or _quiet

    def fitting(stage: str, fraction: float) -> None:
        progress(stage, 0.05 + 0.8 * fraction)

    started = time.perf_counter()
    steps = []
    if model.supervised:
        model.fit(train_events, learn_data.targets(train_events, model.task), fitting)
        steps.append(f"{len(train_events):,} labelled training rows given to the model")
    else:
        normal = learn_data.normal_only(train_events)
        model.fit(normal, None, fitting)
        steps.append(f"learnt from the {len(normal):,} normal rows of {len(train_events):,} training rows")
    steps += model.steps_
    train_seconds = time.perf_counter() - started
    progress(f"evaluating on {len(test_events):,} rows", 0.86)
    metrics = measure(model, test_events)
    steps.append(f"evaluated on {len(test_events):,} test rows")
    metrics["train_rows"] = len(train_events)
    metrics["train_seconds"] = round(train_seconds, 3)
    if getattr(model, "calibration_info_", None):
        metrics["calibration"] = model.calibration_info_  # type: ignore[attr-defined]
    return TrainResult(model, metrics, {}, steps=steps)


def measure(model: Model, test_events: Sequence[Event]) -> dict[str, Any]:
    """Score ``test_events`` and report: full metrics and per-label detection when every event is labelled,
    else the share flagged; always the testing time."""
    return measure_scores(model, test_events)[0]


def measure_scores(model: Model, test_events: Sequence[Event]) -> tuple[dict[str, Any], np.ndarray]:
    """:func:`measure`, and the score of every event (for per-row results)."""
    started = time.perf_counter()
    scores = model.score(test_events)
    predict_seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {}
    if all(e.label is not None for e in test_events) and test_events:
        truth = _labels_for(test_events, model.task)
        predicted = model.predict(test_events) if model.task == "category" and model.supervised else \
            ["attack" if s >= model.threshold else NORMAL for s in scores]
        if model.task == "binary":
            truth = [NORMAL if t == NORMAL else "attack" for t in truth]
        metrics = evaluate(truth, scores, predicted, model.threshold)
        by_label = detection_by_label([e.label for e in test_events], scores, model.threshold)
        metrics["by_label"] = dict(sorted(by_label.items(), key=lambda kv: -kv[1]["rows"])[:MAX_LABELS_REPORTED])
    else:
        metrics["rows"] = len(test_events)
        metrics["flagged"] = round(float((scores >= model.threshold).mean()), 6) if len(scores) else 0.0
    metrics["predict_seconds"] = round(predict_seconds, 4)
    metrics["predictions_per_second"] = round(len(test_events) / predict_seconds) if predict_seconds > 0 else None
    return metrics, scores


def _labels_for(events: Sequence[Event], task: str) -> list[str]:
    if any(e.label is None for e in events):
        return []
    return learn_data.targets(events, task)


def _counts(labels: Sequence[str]) -> dict[str, int]:
    values, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True) if labels \
        else ([], [])
    return {str(v): int(c) for v, c in zip(values, counts)}


def split_events(events: Sequence[Event], task: str, test_size: float, seed: int) -> tuple[list[Event], list[Event]]:
    """A stratified random split (by category, else by normal/attack, else plain when too few rows)."""
    from sklearn.model_selection import train_test_split  # here: the web app imports the lab at start

    if not 0 < test_size < 1:
        raise ModelError("the test share must be between 0 and 1")
    if len(events) < 4:
        raise ModelError(f"{len(events)} rows are too few to split into training and test data")
    index = np.arange(len(events))
    labelled = all(e.label is not None for e in events)
    strata: list[Any] = []
    if labelled:
        strata = [learn_data.targets(events, "category"), learn_data.targets(events, "binary")]
    for stratify in [*strata, None]:
        try:
            train_idx, test_idx = train_test_split(index, test_size=test_size, random_state=seed, stratify=stratify)
            break
        except ValueError:  # a class with a single row cannot be stratified: fall back one level
            continue
    return [events[i] for i in train_idx], [events[i] for i in test_idx]


# -- using a model --------------------------------------------------------------------------------

def event_from_record(record: dict[str, Any]) -> Event:
    """An Event from a flat dict (a form, a JSON body): known event fields go to their place, the rest
    to ``extra`` (NSL-KDD, UNSW-NB15, CICFlowMeter feature names)."""
    known = {k: v for k, v in record.items() if k in EVENT_FIELDS and k not in ("extra", "timestamp")}
    extra = {k: v for k, v in record.items() if k not in EVENT_FIELDS}
    if isinstance(record.get("extra"), dict):
        extra.update(record["extra"])
    timestamp = record.get("timestamp")
    if isinstance(timestamp, str):
        try:
            timestamp = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            raise ModelError(f"bad timestamp {timestamp[:40]!r}; use ISO 8601") from None
    try:
        return Event(timestamp=timestamp if isinstance(timestamp, datetime) else None,
                     source_kind=str(known.pop("source_kind", "flow_csv")), extra=extra, **known)
    except TypeError as exc:
        raise ModelError(f"bad record: {exc}") from None


def predict(model: Model, events: Sequence[Event], top: int = 5, explain: bool = True) -> list[dict[str, Any]]:
    """Per event: score, predicted label, whether it crosses the threshold, and (if asked) the explanation."""
    if not events:
        return []
    scores = model.score(events)
    labels = model.predict(events)
    explanations: list[list[Contribution]] = model.explain(events, top) if explain else [[] for _ in events]
    return [{"score": round(float(s), 6), "label": label, "alert": bool(s >= model.threshold),
             "explanation": [c.to_dict() for c in ex]}
            for s, label, ex in zip(scores, labels, explanations)]


DRIFT_FACTOR = 2.0  # the live alert rate may reach twice the calibrated one before we warn
DRIFT_MIN_FLAGGED = 5  # fewer flagged rows than this is noise, not drift


def calibrated_rate(metrics: dict[str, Any], threshold: float, unsupervised: bool) -> float | None:
    """The share of normal traffic the model was calibrated to flag: the held-back calibration rows' rate (at
    the threshold they set), else the false-positive rate measured at training, else (unsupervised)
    ``1 - threshold``."""
    calibration = metrics.get("calibration") or {}
    moved = calibration.get("threshold") is not None and abs(calibration["threshold"] - threshold) > 1e-6
    if moved and unsupervised:
        return 1.0 - threshold  # calibrated scores: the share of held-back normal rows above the new threshold
    if calibration.get("calibrated_fpr") is not None and not moved:
        # none of the held-back rows flagged says "rare", not "never": use the interval's upper end then
        return float(calibration["calibrated_fpr"]) or float(calibration["fpr_95"][1])
    if metrics.get("fpr") is not None:
        return float(metrics["fpr"])
    return 1.0 - threshold if unsupervised else None


def expected_rate(model: Model, metrics: dict[str, Any]) -> float | None:
    """The share of normal traffic the model should flag at its current threshold."""
    share = getattr(model, "calibrated_share", None)  # at the current threshold, when the model can tell
    return share() if share is not None else calibrated_rate(metrics, model.threshold, not model.supervised)


def live_drift(model: Model, metrics: dict[str, Any], ref: str, counts: Any, since: datetime) -> dict[str, Any]:
    """What the ml detector counted live for model ``ref`` since ``since`` (hourly scored/flagged, see
    netwarden.learn.live), against the calibrated rate; ``warning`` past DRIFT_FACTOR times it."""
    from netwarden.learn import live

    return live.summary(counts.hours(ref, since), expected_rate(model, metrics), factor=DRIFT_FACTOR,
                        min_flagged=DRIFT_MIN_FLAGGED, since=since)


def _bound(model: Model, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """How sure the calibrated rate is: the false-positive rate new normal traffic stays within, at what
    confidence, on how many rows (as ``model show`` prints it); None once the threshold moved from the trained one,
    since the bound was computed for that one."""
    cal = metrics.get("calibration") or {}
    trained = cal.get("threshold")
    if cal.get("fpr_upper") is None or (trained is not None and abs(trained - model.threshold) > 1e-6):
        return None
    return {"rate": cal["fpr_upper"], "confidence": cal.get("confidence") or None, "rows": cal.get("bound_rows"),
            "target": cal.get("fpr_target")}


def drift(model: Model, metrics: dict[str, Any], events: Sequence[Event]) -> dict[str, Any]:
    """How often the model flags recent events, against the calibrated rate; ``warning`` when more than
    DRIFT_FACTOR times as often (with at least DRIFT_MIN_FLAGGED flagged rows, else it is noise)."""
    usable = [e for e, ok in zip(events, model.applicable(events)) if ok]
    scores = model.score(usable) if usable else np.empty(0)
    flagged = int((scores >= model.threshold).sum())
    rate = flagged / len(usable) if usable else None
    expected = expected_rate(model, metrics)
    out: dict[str, Any] = {"rows": len(usable), "flagged": flagged, "rate": rate, "calibrated": expected,
                           "ratio": None, "warning": None, "fpr_upper": _bound(model, metrics)}
    if rate is not None and expected:
        out["ratio"] = round(rate / expected, 3)
        if rate > DRIFT_FACTOR * expected and flagged >= DRIFT_MIN_FLAGGED:
            out["warning"] = (f"the model flags {rate:.2%} of recent events, {rate / expected:.1f}x its calibrated "
                              f"{expected:.2%}: the traffic changed (retrain on a recent normal period) or an "
                              "attack is under way")
    return out


def operating_point(scores: np.ndarray, truth: Sequence[bool], *, fpr: float | None = None,
                    precision: float | None = None) -> dict[str, Any]:
    """The lowest threshold that keeps the false-positive rate at most ``fpr``, or the precision at least
    ``precision``, on labelled scores; with the figures it gives and a 95 % interval for its FPR."""
    from netwarden.learn.evaluation import wilson

    y = np.asarray(truth, dtype=bool)
    s = np.asarray(scores, dtype=float)
    if (fpr is None) == (precision is None):
        raise ModelError("choose one operating point: a false-positive rate or a precision")
    if not (~y).any() or (precision is not None and not y.any()):
        raise ModelError("the labelled data needs normal rows (and attack rows for a precision target)")
    thresholds = np.unique(np.concatenate([s, [1.0]]))[::-1]  # from the strictest down
    normal, attack = np.sort(s[~y]), np.sort(s[y])
    fps = len(normal) - np.searchsorted(normal, thresholds, side="left")
    tps = len(attack) - np.searchsorted(attack, thresholds, side="left")
    rates = fps / len(normal)
    precs = np.divide(tps, tps + fps, out=np.ones(len(thresholds)), where=(tps + fps) > 0)
    bad = (rates > fpr) if fpr is not None else (precs < precision)
    last = (int(np.argmax(bad)) if bad.any() else len(thresholds)) - 1  # the last one before the first miss
    if last < 0 or thresholds[last] <= 0.0:
        raise ModelError("no threshold reaches that operating point on this data")
    best = (float(thresholds[last]), int(fps[last]), int(tps[last]), float(rates[last]), float(precs[last]))
    t, fp, tp, rate, prec = best
    lo, hi = wilson(fp, int((~y).sum()))
    return {"threshold": t, "fpr": rate, "fpr_95": [lo, hi], "precision": prec,
            "recall": tp / int(y.sum()) if y.any() else None, "normal_rows": int((~y).sum()),
            "attack_rows": int(y.sum())}


ROW_FIELDS = ("row", "label", "truth", "score", "alert", "explanation")


def rows_csv(model: Model, events: Sequence[Event], scores: np.ndarray, top: int = 3,
             explain_limit: int = 20_000) -> str:
    """Every row's verdict as CSV (row, predicted label, true label, score, alert, explanation); rows past
    ``explain_limit`` carry no explanation (explaining costs more than scoring)."""
    import csv
    import io

    predicted = ["attack" if s >= model.threshold else NORMAL for s in scores] \
        if not (model.task == "category" and model.supervised) else model.predict(events)
    chosen = [i for i, s in enumerate(scores) if s >= model.threshold][:explain_limit]
    context = model.params.get("view") == "host"  # window features need the other events of the window
    explained = model.explain(events if context else [events[i] for i in chosen], top) if chosen else []
    why = {i: explained[i if context else n] for n, i in enumerate(chosen)}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ROW_FIELDS)
    for i, (event, score) in enumerate(zip(events, scores)):
        text = "; ".join(f"{c.feature}: {c.to_dict()['value']}" for c in why.get(i, []))
        writer.writerow([i + 1, predicted[i], event.label or "", f"{float(score):.6f}",
                         "yes" if score >= model.threshold else "no", _csv_safe(text)])
    return buffer.getvalue()


def _csv_safe(text: str) -> str:
    """Log text opened in a spreadsheet must not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def predict_one(model: Model, record: dict[str, Any], top: int = 5) -> dict[str, Any]:
    """The web form's "check an event": one record in, its verdict and explanation out."""
    return predict(model, [event_from_record(record)], top)[0]
