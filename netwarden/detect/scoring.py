"""Confidence from named factors.

Factors are combined as independent pieces of evidence (a noisy-OR): ``1 - Π(1 - weight)``. One strong
reason gives a confident alert; several weak ones add up but never reach certainty on their own. Every
factor stays on the alert, so an administrator sees *why* it is 0.93 and not 0.6.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

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
