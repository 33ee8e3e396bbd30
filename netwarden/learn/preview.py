"""What a model really sees: the preprocessed features of sample rows, and the windows a sequence model reads.

The model lab's Data view shows this so an administrator can check the input before trusting the output:
a tabular model's numbers after signed ``log1p`` (and standardisation when the model scales them) and its
categories; the request model's path template, method and parameters as character classes; a sequence
model's encoded steps and, per event, which earlier events of its source form its window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from netwarden.learn.base import Model
from netwarden.records import Event

MAX_ROWS = 50


def preview(model: Model, events: Sequence[Event], rows: int = 10) -> dict[str, Any]:
    """``{"kind", "note", "columns", "rows", "windows"}`` for the last ``rows`` events the model can judge
    (``events`` oldest first; earlier ones give a sequence model's windows their context)."""
    usable = [e for e, ok in zip(events, model.applicable(events)) if ok]
    rows = max(1, min(rows, MAX_ROWS))
    if hasattr(model, "profile_"):
        return _requests(model, usable[-rows:])
    if getattr(model, "encoder_", None) is not None:
        return _sequence(model, usable, rows)
    if getattr(model, "spec_", None) is not None:
        return _tabular(model, usable[-rows:])
    return {"kind": "none", "note": "this model shows no preprocessed features", "columns": [], "rows": [],
            "windows": []}


def _cell(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    return None if value is None else str(value)[:200]


def _tabular(model: Model, events: list[Event]) -> dict[str, Any]:
    spec = model.spec_  # type: ignore[attr-defined]
    num, cat = spec.raw(events) if events else (np.empty((0, len(spec.numeric))), np.empty((0, 0)))
    if getattr(model, "scaled", False) and num.size:
        num = (np.where(np.isnan(num), np.asarray(spec.median), num) - np.asarray(spec.mean)) / np.asarray(spec.std)
    note = ("numbers after signed log1p" + (", standardised with the training mean and spread" if
                                           getattr(model, "scaled", False) else "") +
            f"; categories as the model keeps them (levels never seen in training count as {'(other)'})")
    return {"kind": "tabular", "note": note, "columns": spec.names,
            "rows": [[_cell(v) for v in num[i]] + [_cell(v) for v in cat[i]] for i in range(len(events))],
            "windows": []}


def _requests(model: Model, events: list[Event]) -> dict[str, Any]:
    from netwarden.learn.request_profile import char_classes, split_request

    profile = model.profile_  # type: ignore[attr-defined]
    rows = []
    for e in events:
        method, path, params = split_request(e)
        findings = "; ".join(f[2] for f in sorted(profile.judge(e), key=lambda f: -f[1])[:3])
        rows.append([method, profile.template(path),
                     " ".join(f"{name}={char_classes(value[:40])}" for name, value in params)[:400], findings or "—"])
    return {"kind": "requests", "note": "each request as the model reads it: its path template, method, and "
                                        "parameters as character classes (a lower case, A upper case, 0 digit)",
            "columns": ["method", "path template", "parameters", "findings"], "rows": rows, "windows": []}


def _sequence(model: Model, events: list[Event], rows: int) -> dict[str, Any]:
    from netwarden.learn.sequence_features import window_index

    encoder = model.encoder_  # type: ignore[attr-defined]
    numeric, categorical = encoder.transform(events) if events else (np.empty((0, 0)), np.empty((0, 0)))
    windows = window_index(events, model.params["timesteps"], encoder.by_source) if events else np.empty((0, 0))
    first = max(0, len(events) - rows)
    out_rows = [[_cell(v) for v in numeric[i]] + [int(v) for v in categorical[i]] for i in range(first, len(events))]
    shown = [{"row": i - first + 1, "source": events[i].src_ip,
              "steps": [None if j < 0 else int(j) - first + 1 for j in windows[i]]} for i in range(first, len(events))]
    return {"kind": "sequence", "note": f"encoded steps (numbers standardised, categories as vocabulary codes: "
                                        f"0 padding, 1 unseen); each event is judged with the window of its "
                                        f"source's last {model.params['timesteps']} events (a step before the "
                                        "rows shown is given as 0 or less; none: padding)",
            "columns": encoder.numeric_names + encoder.categorical_names, "rows": out_rows, "windows": shown}
