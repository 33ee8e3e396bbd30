"""The web attack detector made faster finds what it found before: on a seeded hostile corpus (encoded payloads
of every kind, tool user agents, Log4Shell headers, ordinary requests, few and many addresses, several batches)
every finding of every batch is the same field for field, and so is the state it keeps, as the reference output
in tests/data/web_reference (see tests/detect/web_reference.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.detect.web_reference import REFERENCE, comparable


def test_same_findings_and_state_as_the_reference(datasets: Path) -> None:
    with gzip.open(REFERENCE, "rt", encoding="utf-8") as f:
        expected = json.load(f)
    got = comparable(datasets)
    for run in ("default", "keep_events"):
        want, have = expected[run], got[run]
        assert sum(map(len, have["batches"])) > 1_000, "the corpus must raise findings for the comparison to mean something"
        assert len(have["batches"]) == len(want["batches"])
        for b, (want_batch, have_batch) in enumerate(zip(want["batches"], have["batches"])):
            for i, (w, h) in enumerate(zip(want_batch, have_batch)):
                assert h == w, f"{run}: batch {b}, finding {i} ({w['signature']} from {w['source']}) differs"
            assert len(have_batch) == len(want_batch), f"{run}: batch {b} has another number of findings"
        assert have["state"] == want["state"], f"{run}: the detector's state differs"
