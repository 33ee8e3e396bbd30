"""The SSH hot path made faster gives what it gave before: on loghub's OpenSSH_2k.log repeated (from its 30
addresses, and from ten times as many), the same events are stored and the same alerts and incidents raised,
field for field, as the reference output kept in tests/data/ssh_reference (see tests/detect/ssh_reference.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.detect.ssh_reference import INPUTS, REFERENCE, generate, outcome


@pytest.mark.parametrize(("name", "lines", "variants"), INPUTS, ids=[i[0] for i in INPUTS])
def test_same_events_alerts_and_incidents(datasets: Path, tmp_path: Path, name: str, lines: int,
                                          variants: int) -> None:
    expected = json.loads((REFERENCE / f"{name}.json").read_text())
    got = json.loads(json.dumps(outcome(generate(tmp_path, name, lines, variants), tmp_path / "nw.db"),
                                sort_keys=True, default=str))
    assert got["alerts"], "the input must raise alerts for the comparison to mean something"
    assert (got["lines"], got["events"], got["quarantined"]) == (expected["lines"], expected["events"],
                                                                  expected["quarantined"])
    for i, (want, have) in enumerate(zip(expected["alerts"], got["alerts"])):
        assert have == want, f"alert {i} ({want['kind']}/{want['subkind']} from {want['source']}) differs"
    assert len(got["alerts"]) == len(expected["alerts"])
    assert got["incidents"] == expected["incidents"]
    assert got["events_sha256"] == expected["events_sha256"], "the stored events differ"
