"""The engine and the web attack detector made cheaper under a flood store what they stored before: on the seeded
hostile corpus and on the benchmarks' flood of new alerts, every alert row (ids, counts, first and last seen,
confidence, severity, factors, recommendation, evidence and its samples, incident), every incident row and every
listener call, batch by batch, is the reference output in tests/data/engine_reference
(see tests/detect/engine_reference.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.detect.engine_reference import REFERENCE, comparable


def test_same_alerts_incidents_and_notices_as_the_reference(datasets: Path) -> None:
    with gzip.open(REFERENCE, "rt", encoding="utf-8") as f:
        expected = json.load(f)
    got = comparable(datasets)
    for run in ("corpus", "flood"):
        want, have = expected[run], got[run]
        assert len(have["alerts"]) > 1_000 and len(have["incidents"]) > 100, "the input must raise many alerts"
        assert any(n > 1 for batch in have["told"] for _, is_new, n, *_ in batch if not is_new), "updates too"
        assert have["stats"] == want["stats"], f"{run}: findings / new / updated alerts differ"
        for i, (w, h) in enumerate(zip(want["alerts"], have["alerts"])):
            assert h == w, f"{run}: alert {i} ({w['kind']}/{w['subkind']} from {w['source']}) differs"
        assert len(have["alerts"]) == len(want["alerts"]), f"{run}: another number of alerts"
        assert have["incidents"] == want["incidents"], f"{run}: the incidents differ"
        assert have["told"] == want["told"], f"{run}: the listeners heard otherwise"
