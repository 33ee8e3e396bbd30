"""User threshold rules: they catch what they describe, stay silent on ordinary traffic (below the count,
spread over more than the window, other fields), and a bad rule is a clear settings error."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta, timezone

import pytest

from netwarden.detect.base import SettingsError
from netwarden.detect.engine import DetectionEngine
from netwarden.detect.threshold import ThresholdRules
from netwarden.records import Event

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)
RULES = tomllib.loads('''
[[rules]]
name = "ssh_failures"
description = "many failed SSH logins from one address"
where = { source_kind = "ssh", outcome = "failure" }
by = "src_ip"
window = "2m"
count = 10
severity = "high"
tags = ["attack.credential_access", "attack.t1110"]

[[rules]]
name = "admin_probe"
where = { url = "/wp-admin*", http_status = [401, 403, 404] }
window = "10m"
count = 3
''')


def ssh(i: int, src: str = "203.0.113.5", outcome: str = "failure", gap: float = 5.0) -> Event:
    return Event(timestamp=T0 + timedelta(seconds=gap * i), source_kind="ssh", src_ip=src, dst_ip="10.0.0.2",
                 dst_port=22, user="root", outcome=outcome)


def test_catches_the_described_pattern_once_per_window() -> None:
    d = ThresholdRules(RULES)
    found = d.process([ssh(i) for i in range(25)])  # 25 failures in 2 minutes
    assert [(f.subkind, f.source, f.count) for f in found] == [("ssh_failures", "203.0.113.5", 10)]
    f = found[0]
    assert f.severity == "high" and f.evidence["tags"] == ["attack.credential_access", "attack.t1110"]
    assert f.signature == "threshold:ssh_failures"
    later = d.process([ssh(i, gap=5.0) for i in range(30, 45)])  # the next window reports again
    assert len(later) == 1


def test_silent_on_ordinary_behaviour() -> None:
    d = ThresholdRules(RULES)
    assert d.process([ssh(i) for i in range(9)]) == []  # below the count
    d = ThresholdRules(RULES)
    assert d.process([ssh(i, gap=20.0) for i in range(30)]) == []  # 30 failures, but 3 a minute
    d = ThresholdRules(RULES)
    assert d.process([ssh(i, outcome="success") for i in range(30)]) == []  # other field values
    d = ThresholdRules(RULES)
    assert d.process([ssh(i, src=f"203.0.113.{i}") for i in range(30)]) == []  # counted by source


def test_prefix_and_lists() -> None:
    d = ThresholdRules(RULES)
    probes = [Event(timestamp=T0 + timedelta(seconds=i), source_kind="access_log", src_ip="198.51.100.4",
                    dst_ip="10.0.0.80", url=f"/WP-ADMIN/{i}.php", http_status=[401, 404, 403][i % 3])
              for i in range(3)]
    assert [f.subkind for f in d.process(probes)] == ["admin_probe"]
    ok = [Event(timestamp=T0 + timedelta(seconds=i), source_kind="access_log", src_ip="198.51.100.5",
                dst_ip="10.0.0.80", url="/wp-admin/", http_status=200) for i in range(10)]
    assert ThresholdRules(RULES).process(ok) == []


@pytest.mark.parametrize("rule, message", [
    ({"name": "x", "where": {"nonsense": 1}, "count": 3}, "unknown event field"),
    ({"name": "x", "count": 1}, "greater than or equal to 2"),
    ({"name": "x", "count": 3, "window": "soon"}, "window"),
    ({"name": "Bad Name", "count": 3}, "name"),
])
def test_bad_rules_are_clear_errors(rule, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError, match=message):
        ThresholdRules({"rules": [rule]})


def test_through_the_engine_an_alert_with_the_rule_title(db) -> None:  # type: ignore[no-untyped-def]
    engine = DetectionEngine.from_config({"threshold": RULES}, db, only=["threshold"])
    engine.process([ssh(i) for i in range(12)])
    [alert] = engine.alerts
    assert (alert.kind, alert.subkind, alert.source) == ("threshold", "ssh_failures", "203.0.113.5")
    assert alert.evidence["title"] == "many failed SSH logins from one address"
