"""Confidence from named factors, held to each detector's measured precision.

Factors are combined as independent pieces of evidence (a noisy-OR): ``1 - Π(1 - weight)``. One strong
reason gives a confident alert; several weak ones add up but never reach certainty on their own. Every
factor stays on the alert, so an administrator sees *why* it is 0.93 and not 0.6.

The result is then capped at the detector's measured precision (``precision.json``, written by
``python -m benchmarks.bench_trust --write-precision`` from the trust corpus: the share of its alerts that
were about real attackers, smoothed as (TP + 1) / (TP + FP + 2)). A detector that has raised false alarms on
ordinary traffic, or has been measured on only a few attacks, cannot claim more than that: a confidence of
0.9 means that about 9 of 10 such alerts were right. Detectors without a measurement (learned models, whose
score is calibrated on their own data) are not capped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from netwarden.records import Factor


def confidence(factors: Iterable[Factor]) -> float:
    remaining = 1.0
    for f in factors:
        remaining *= 1.0 - min(max(f.weight, 0.0), 0.999)
    return round(1.0 - remaining, 4)


def saturating(value: float, half: float, top: float = 0.95) -> float:
    """A weight that grows with ``value``: ``top/2`` at ``half``, approaching ``top`` (never 1)."""
    if value <= 0:
        return 0.0
    return top * (1.0 - math.exp(-math.log(2) * value / half))


def merge(old: Iterable[Factor], new: Iterable[Factor]) -> list[Factor]:
    """Keep the strongest factor of each name (a repeat updates, it does not double-count)."""
    best: dict[str, Factor] = {}
    for f in (*old, *new):
        if f.name not in best or f.weight >= best[f.name].weight:
            best[f.name] = f
    return sorted(best.values(), key=lambda f: -f.weight)


@lru_cache(maxsize=1)
def measured_precision() -> dict[str, float]:
    """Detector name -> its measured precision (empty when the file is missing or unreadable)."""
    try:
        table = json.loads((Path(__file__).with_name("precision.json")).read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in table.items() if 0.0 < float(v) <= 1.0}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def calibrated(factors: Iterable[Factor], detector: str | None) -> float:
    """The factors' confidence, no higher than what ``detector`` has been measured to deserve."""
    weights = tuple([f.weight for f in factors])
    key = (detector, weights)
    value = _CALIBRATED.get(key)
    if value is None:  # the same few weights come back in every alert of a flood: remembered (bounded)
        value = confidence(Factor("", w, "") for w in weights)
        cap = measured_precision().get(detector or "")
        if cap is not None:
            value = min(value, round(cap, 4))
        if len(_CALIBRATED) >= 4096:
            _CALIBRATED.clear()
        _CALIBRATED[key] = value
    return value


_CALIBRATED: dict[tuple[str | None, tuple[float, ...]], float] = {}
