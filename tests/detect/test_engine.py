"""The engine's own behaviour, with small detectors defined here (the real ones have their own tests)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from netwarden.detect import scoring
from netwarden.detect.base import Detector, DetectorSettings, SettingsError
from netwarden.detect.engine import DetectionEngine, incident_severity
from netwarden.detect.windows import KeyedState, SlidingWindow
from netwarden.records import AlertStatus, Event, Factor, Finding, Severity
from netwarden.store import alerts as alert_store

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


class Knock(Detector):
    """Reports every event to port 23 as a finding; counts knocks per source across batches."""

    name = "knock"
    description = "test detector"

    class Settings(DetectorSettings):
        port: int = 23
        kind: str = "unusual_service"
        subkind: str = "telnet"

    def __init__(self, settings: Any = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.seen = KeyedState(lambda: SlidingWindow(timedelta(minutes=5)), idle=timedelta(minutes=10), max_keys=3)

    def process(self, events: Sequence[Event]) -> list[Finding]:
        out = []
        for e in events:
            if e.dst_port != self.settings.port or e.src_ip is None:
                continue
            window = self.seen.get(e.src_ip, e.timestamp)
            window.add(e.timestamp)
            out.append(self.finding(
                kind=self.settings.kind, subkind=self.settings.subkind, severity=Severity.MEDIUM,
                factors=[Factor("knocks", scoring.saturating(len(window), 3), f"{len(window)} knocks in 5 min")],
                recommendation="close telnet", first_seen=e.timestamp, last_seen=e.timestamp,
                source=e.src_ip, target=e.dst_ip, signature=f"port:{self.settings.port}", events=[e]))
        return out

    def state(self) -> dict[str, Any]:
        return {k: [t.isoformat() for t in w.times] for k, _, w in self.seen.items()}

    def restore(self, state: dict[str, Any]) -> None:
        for key, times in state.items():
            window = self.seen.get(key, datetime.fromisoformat(times[-1]))
            for t in times:
                window.add(datetime.fromisoformat(t))


def knock(src: str, minute: float, port: int = 23) -> Event:
    return Event(timestamp=T0 + timedelta(minutes=minute), source_kind="firewall", src_ip=src, dst_ip="192.0.2.10",
                 dst_port=port, transport="tcp")


def test_confidence_combines_named_factors() -> None:
    assert scoring.confidence([]) == 0.0
    assert scoring.confidence([Factor("a", 0.5, ""), Factor("b", 0.5, "")]) == 0.75
    assert scoring.confidence([Factor("a", 1.0, "")]) < 1.0  # certainty is never computed
    assert 0.47 < scoring.saturating(10, 10) < 0.48 and scoring.saturating(1000, 10) <= 0.95
    merged = scoring.merge([Factor("a", 0.3, "old")], [Factor("a", 0.6, "new"), Factor("b", 0.1, "")])
    assert [(f.name, f.detail) for f in merged] == [("a", "new"), ("b", "")]


def test_repeats_update_one_alert_and_gain_confidence(db) -> None:  # type: ignore[no-untyped-def]
    engine = DetectionEngine([Knock()], db)
    engine.process([knock("203.0.113.5", 0)])
    engine.process([knock("203.0.113.5", m) for m in (1, 2, 3)] + [knock("198.51.100.9", 2), knock("10.0.0.1", 2, 80)])
    with db.engine.connect() as conn:
        stored = alert_store.find_alerts(conn, alert_store.AlertFilter())
    assert sorted((a.source, a.count) for a in stored) == [("198.51.100.9", 1), ("203.0.113.5", 4)]
    first = next(a for a in stored if a.source == "203.0.113.5")
    assert first.first_seen == T0 and first.last_seen == T0 + timedelta(minutes=3)
    assert first.confidence > next(a for a in stored if a.source == "198.51.100.9").confidence
    assert first.factors[0].detail == "4 knocks in 5 min"
    assert len(first.evidence["samples"]) == 4 and first.evidence["samples"][0]["dst_port"] == 23
    # outside the merge window it is a new alert, and the source is now a repeat offender
    engine.process([knock("203.0.113.5", 200)])
    with db.engine.connect() as conn:
        again = alert_store.find_alerts(conn, alert_store.AlertFilter(source="203.0.113.5"))
    assert len(again) == 2
    assert any(f.name == "repeat_offender" for f in again[0].factors)


def test_a_false_positive_is_remembered(db) -> None:  # type: ignore[no-untyped-def]
    engine = DetectionEngine([Knock()], db)
    engine.process([knock("203.0.113.5", 0), knock("198.51.100.9", 0)])
    with db.engine.begin() as conn:
        alert = alert_store.find_alerts(conn, alert_store.AlertFilter(source="203.0.113.5"))[0]
        alert_store.set_status(conn, alert.id, AlertStatus.FALSE_POSITIVE, note="our monitoring")
    fresh = DetectionEngine([Knock()], db)  # a restart, or another process, must remember it too
    fresh.process([knock("203.0.113.5", 300), knock("198.51.100.9", 300)])
    assert fresh.stats.suppressed == 1
    with db.engine.connect() as conn:
        sources = [a.source for a in alert_store.find_alerts(conn, alert_store.AlertFilter(status="new"))]
    assert sources == ["198.51.100.9", "198.51.100.9"]  # five hours apart: two alerts; none for the suppressed


def test_scan_then_breach_is_one_critical_incident(db) -> None:  # type: ignore[no-untyped-def]
    scan = Knock({"port": 23, "kind": "port_scan", "subkind": "vertical"})
    brute = Knock({"port": 22, "kind": "brute_force", "subkind": "ssh"})
    breach = Knock({"port": 2222, "kind": "brute_force", "subkind": "success_after_failures"})
    breach.name = "breach"
    engine = DetectionEngine([scan, brute, breach], db)
    engine.process([knock("203.0.113.5", 0, 23)])
    engine.process([knock("203.0.113.5", 5, 22)])
    with db.engine.connect() as conn:
        [incident] = alert_store.find_incidents(conn)
    assert incident["severity"] == "high" and incident["alert_count"] == 2
    engine.process([knock("203.0.113.5", 9, 2222), knock("198.51.100.9", 9, 23)])
    with db.engine.connect() as conn:
        incidents = {i["source"]: i for i in alert_store.find_incidents(conn)}
        linked = alert_store.find_alerts(conn, alert_store.AlertFilter(incident_id=incidents["203.0.113.5"]["id"]))
    mine = incidents["203.0.113.5"]
    assert mine["severity"] == "critical" and mine["alert_count"] == 3
    assert mine["kinds"] == ["port_scan/vertical", "brute_force/ssh", "brute_force/success_after_failures"]
    assert len(linked) == 3
    assert incidents["198.51.100.9"]["severity"] == "medium"


def test_incident_severity_rules() -> None:
    assert incident_severity(["port_scan/vertical"], Severity.LOW, Severity.MEDIUM) == Severity.MEDIUM
    assert incident_severity(["port_scan/x", "web_attack/sqli"], Severity.MEDIUM, Severity.LOW) == Severity.HIGH
    assert incident_severity(["brute_force/ssh", "brute_force/breach"], Severity.HIGH, Severity.HIGH) \
        == Severity.CRITICAL


def test_state_survives_a_restart(db) -> None:  # type: ignore[no-untyped-def]
    engine = DetectionEngine([Knock()], db)
    engine.process([knock("203.0.113.5", m) for m in (0, 1)])
    engine.close()
    restarted = DetectionEngine([Knock()], db)
    [alert] = restarted.process([knock("203.0.113.5", 2)])
    assert alert.factors[0].detail == "3 knocks in 5 min"  # the window remembered the two before


def test_memory_is_bounded() -> None:
    detector = Knock()
    engine = DetectionEngine([detector])
    engine.process([knock(f"198.51.100.{i}", i / 60) for i in range(50)])
    assert len(detector.seen) == 3 and detector.seen.evicted == 47
    detector.seen.prune(T0 + timedelta(hours=1))
    assert len(detector.seen) == 0


def test_broken_detector_does_not_stop_the_others() -> None:
    class Broken(Knock):
        name = "broken"

        def process(self, events: Sequence[Event]) -> list[Finding]:
            raise RuntimeError("bug")

    engine = DetectionEngine([Broken(), Knock()])
    assert len(engine.process([knock("203.0.113.5", 0)])) == 1


def test_settings_errors_name_the_detector() -> None:
    with pytest.raises(SettingsError, match=r"\[detect.knock\] port"):
        Knock({"port": "many"})
    with pytest.raises(SettingsError, match="unknown detector"):
        DetectionEngine.from_config({"no_such_detector": {}})


def test_confidence_is_held_to_the_detectors_measured_precision() -> None:
    table = scoring.measured_precision()
    # every rule detector that raised alerts on the trust corpus has a measurement (benchmarks/bench_trust.py)
    assert {"brute_force", "port_scan", "web_attack", "dos"} <= set(table)
    assert all(0.5 <= v <= 1.0 for v in table.values())
    strong = [Factor("a", 0.99, "x"), Factor("b", 0.99, "y")]
    capped = min(table.values())
    detector = next(name for name, v in table.items() if v == capped)
    assert scoring.calibrated(strong, detector) == pytest.approx(capped, abs=1e-4)
    assert capped < scoring.confidence(strong)
    assert scoring.calibrated(strong, "no_such_detector") == scoring.confidence(strong)  # not measured: not capped
    # the engine applies it to new and updated alerts, and keeps every factor
    finding = Finding(kind="x", detector=detector, severity=Severity.HIGH, factors=strong, recommendation="r",
                      first_seen=T0, last_seen=T0, source="203.0.113.1")
    engine = DetectionEngine([])
    [alert] = engine.handle([finding])
    assert alert.confidence == pytest.approx(capped, abs=1e-4) and len(alert.factors) == 2
    [alert] = engine.handle([finding])
    assert alert.confidence == pytest.approx(capped, abs=1e-4)


def test_with_a_database_only_the_most_severe_alerts_stay_in_memory(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A long `serve` must not hold every alert it ever raised: they are in the database; the engine keeps the most
    severe few for the ingest summary (in the order raised), and without a database it keeps them all."""
    from netwarden.detect import engine as engine_module

    monkeypatch.setattr(engine_module, "KEPT_WITH_DB", 3)
    stored = DetectionEngine([Knock()], db)
    loose = DetectionEngine([Knock()])
    sources = [f"203.0.113.{i}" for i in range(1, 11)]
    for i, src in enumerate(sources):  # the 5th and the 8th knock 3 times: more confident than the rest
        batch = [knock(src, i * 10 + k) for k in range(3 if i in (4, 7) else 1)]
        stored.process(batch)
        loose.process(batch)
    assert [a.source for a in loose.alerts] == sources
    assert len(stored.alerts) < 6 and stored.stats.alerts_new == 10
    assert {"203.0.113.5", "203.0.113.8"} <= {a.source for a in stored.alerts}
    kept = [a.source for a in stored.alerts]
    assert kept == sorted(kept, key=sources.index)
    with db.engine.connect() as conn:
        assert len(alert_store.find_alerts(conn, alert_store.AlertFilter())) == 10
