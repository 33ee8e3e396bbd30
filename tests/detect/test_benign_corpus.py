"""Trust (issue 12): ordinary traffic raises nothing of medium severity or above and nothing that would be
blocked, while the real attacks inside the same corpus are still caught with the right kind.

The corpus is ``netwarden.corpus``: CSIC 2010 normal requests as access-log lines (a bounded subset here;
the benchmark reads them all), the real access log, the loghub SSH and Linux auth logs (their guessers
labelled), the benign and attack captures, the simulator's office and a scripted ordinary day with
real-tool-like attacks. BENCHMARKS.md ("Trust") has the per-detector false-positive rates on all of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden import corpus
from netwarden.records import Severity

CSIC_LIMIT = 6000  # of 36,000 requests: the suite stays fast; benchmarks/bench_trust.py reads them all


@pytest.fixture(scope="module")
def verdicts(datasets: Path) -> dict[str, corpus.Verdict]:
    return {part.name: corpus.detect(part) for part in corpus.parts(datasets, csic_limit=CSIC_LIMIT)}


def _describe(alerts) -> str:  # type: ignore[no-untyped-def]
    return "; ".join(f"{a.kind}/{a.subkind} {a.severity} {a.confidence:.2f} from {a.source} to {a.target}"
                     for a in alerts[:5])


def test_no_ordinary_source_gets_a_medium_alert_or_a_block(verdicts: dict[str, corpus.Verdict]) -> None:
    serious = {name: v.serious_false_alarms for name, v in verdicts.items() if v.serious_false_alarms}
    assert not serious, {name: _describe(alerts) for name, alerts in serious.items()}
    # and the corpus is not trivially quiet: thousands of ordinary sources were judged
    assert sum(len(v.part.ordinary_sources()) for v in verdicts.values()) > 5000


def test_the_attacks_inside_the_corpus_are_still_caught(verdicts: dict[str, corpus.Verdict]) -> None:
    missed = {name: v.missed for name, v in verdicts.items() if v.missed}
    assert not missed, missed
    labelled = sum(len(v.part.attackers) for v in verdicts.values())
    assert labelled > 200  # loghub's guessers, the captures' attackers, the simulator's and the tools'


def test_the_tools_are_named_with_the_right_kind_and_severity(verdicts: dict[str, corpus.Verdict]) -> None:
    v = verdicts["ordinary"]
    by = {(a.source or a.target, a.subkind): a for a in v.alerts}
    assert by[("45.148.10.95", "success_after_failures")].severity == Severity.CRITICAL  # hydra on the form, in
    assert by[("218.92.0.112", "success_after_failures")].severity == Severity.CRITICAL  # hydra on root, in
    assert by[("194.26.29.120", "http_login")].severity == Severity.HIGH  # hydra on basic auth
    assert by[("37.19.200.9", "syn_flood")].kind == "dos"  # hping3 --flood from one address
    assert ("81.2.69.142", "syn_flood") in by and ("81.2.69.143", "syn_flood") in by  # spoofed; firewall rule
    assert not any(a.kind == "port_scan" for a in v.alerts)


def test_the_scripted_day_holds_what_fooled_detectors_before(verdicts: dict[str, corpus.Verdict]) -> None:
    events = verdicts["ordinary"].part.events
    urls = " ".join(e.url or "" for e in events)
    assert "O'Neill" in urls or "O%27Neill" in urls
    assert "union" in urls.lower() and "select" in urls.lower()
    challenges = [e for e in events if e.http_status == 401 and not e.user]
    assert len(challenges) > 50
    typos = [e for e in events if (e.extra or {}).get("ssh_event") == "failed_password"
             and e.src_ip in ("10.20.0.21", "10.20.0.22", "81.2.69.142")]
    assert len(typos) > 50
    assert sum(1 for e in events if e.http_method == "POST" and e.http_status == 200) > 100
    assert sum(1 for e in events if e.user == "backup") >= 100
