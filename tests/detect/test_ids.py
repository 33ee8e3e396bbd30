"""Suricata's own alerts become NetWarden alerts, merged per source and category."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from netwarden.detect.engine import DetectionEngine
from netwarden.pipeline import Pipeline
from netwarden.store.database import Database


def test_suricata_alerts_are_merged_per_source(datasets: Path) -> None:
    db = Database.open("sqlite:///:memory:")
    engine = DetectionEngine.from_config(only=["ids"])
    kept: list = []
    Pipeline(db, stages=[kept.extend, engine]).ingest_file(
        datasets / "suricata-eve" / "test6-malicious.suricata.json.gz")
    db.close()
    alerts = engine.alerts
    assert sum(a.count for a in alerts) == 745  # every alert event of the sample (see PROVENANCE)
    # one alert per source and category, unless the source came back after the merge window (an hour)
    pairs = {(e.src_ip, e.extra["category"]) for e in kept if e.extra.get("event_type") == "alert"}
    assert len(pairs) <= len(alerts) < 745
    by_pair: dict = {}
    for a in alerts:
        by_pair.setdefault((a.source, a.subkind), []).append(a)
    for same in by_pair.values():
        same.sort(key=lambda a: a.first_seen)
        for earlier, later in zip(same, same[1:]):
            assert later.first_seen - earlier.last_seen > engine.settings.merge_window
    assert {a.target for a in alerts} == {"192.168.1.129"}
    categories = Counter()
    for a in alerts:
        for c in a.evidence["categories"]:
            categories[c] += a.count
    assert categories["Misc Attack"] == 581 and categories["Potentially Bad Traffic"] == 151
    mssql = [a for a in alerts if any("MSSQL" in s for s in a.evidence["signatures"])]
    assert mssql and all(a.severity == "medium" for a in mssql)
    assert all(a.factors[0].detail.startswith("Suricata: ") for a in alerts)


def test_only_suricata_alert_events_count() -> None:
    from datetime import datetime, timezone

    from netwarden.records import Event

    now = datetime(2026, 11, 21, tzinfo=timezone.utc)
    engine = DetectionEngine.from_config(only=["ids"])
    engine.process([
        Event(timestamp=now, source_kind="suricata", src_ip="203.0.113.5", extra={"event_type": "flow"}),
        Event(timestamp=now, source_kind="zeek", src_ip="203.0.113.5", extra={"event_type": "alert"}),
        Event(timestamp=now, source_kind="suricata", src_ip="203.0.113.5", dst_ip="192.0.2.1", dst_port=80,
              action="blocked", extra={"event_type": "alert", "severity": 1, "signature": "ET EXPLOIT x",
                                       "signature_id": 1, "category": "Attempted Administrator Privilege Gain"}),
    ])
    [alert] = engine.alerts
    assert alert.severity == "medium" and alert.subkind == "attempted_administrator_privilege_gain"
    assert "IPS already dropped" in alert.recommendation


def test_policy_and_informational_rules_are_low_whatever_their_severity() -> None:
    from datetime import datetime, timezone

    from netwarden.records import Event, Severity

    def alert(signature: str, category: str, severity: int) -> Event:
        return Event(timestamp=datetime(2026, 11, 30, 10, tzinfo=timezone.utc), source_kind="suricata",
                     src_ip="192.168.1.20", dst_ip="162.125.1.1", dst_port=443,
                     extra={"event_type": "alert", "signature": signature, "signature_id": 1, "category": category,
                            "severity": severity})

    engine = DetectionEngine.from_config(only=["ids"])
    engine.process([alert("ET POLICY Dropbox.com Offsite File Backup in Use", "Potential Corporate Privacy Violation", 1),
                    alert("ET INFO curl User-Agent Outbound", "Attempted Information Leak", 2)])
    assert engine.alerts and all(a.severity == Severity.LOW and a.confidence < 0.5 for a in engine.alerts)
    engine.process([alert("ET EXPLOIT Netgear DGN Remote Command Execution", "Attempted Information Leak", 1)])
    assert any(a.severity == Severity.HIGH for a in engine.alerts)


def test_a_long_suricata_category_is_stored_whole(db) -> None:  # type: ignore[no-untyped-def]
    """38 characters as a slug: once cut to "attempted_administrator_privileg" by a 32-character column."""
    from datetime import datetime, timezone

    from netwarden.records import Event
    from netwarden.store.alerts import get_alert, save_alert

    now = datetime(2026, 11, 21, tzinfo=timezone.utc)
    engine = DetectionEngine.from_config(only=["ids"])
    engine.process([Event(timestamp=now, source_kind="suricata", src_ip="203.0.113.5", dst_ip="192.0.2.1",
                          extra={"event_type": "alert", "severity": 1, "signature": "ET EXPLOIT x", "signature_id": 1,
                                 "category": "Attempted Administrator Privilege Gain"})])
    [alert] = engine.alerts
    with db.engine.begin() as conn:
        alert_id = save_alert(conn, alert)
    with db.engine.connect() as conn:
        stored = get_alert(conn, alert_id)
    assert stored is not None and stored.subkind == "attempted_administrator_privilege_gain"
