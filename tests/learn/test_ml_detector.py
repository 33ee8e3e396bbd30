"""The ml detector: active models judge what the pipeline ingests, explained; nothing breaks ingest."""

from __future__ import annotations

import gzip
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from netwarden.config import load_settings
from netwarden.detect.ml import MlDetector
from netwarden.learn import data
from netwarden.learn.base import create
from netwarden.learn.registry import ModelRegistry, open_registry
from netwarden.pipeline import Pipeline
from netwarden.records import Event
from netwarden.store.alerts import AlertFilter, find_alerts
from netwarden.store.database import Database
from netwarden.store.events import insert_events

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def site(tmp_path: Path, kdd_file: Path):  # type: ignore[no-untyped-def]
    rows = gzip.decompress(Path(kdd_file).read_bytes()).decode().splitlines()
    (tmp_path / "old.txt").write_text("\n".join(rows[3500:3700]) + "\n")
    (tmp_path / "new.txt").write_text("\n".join(rows[4000:4600]) + "\n")
    settings = load_settings(environ={})
    settings.database.url = f"sqlite:///{tmp_path / 'nw.db'}"
    db = Database.open(settings.database.url)
    yield tmp_path, settings, db, open_registry(db, settings)
    db.close()


def _ml_alerts(db: Database):  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return find_alerts(conn, AlertFilter(kind="ml"), limit=100)


def _forest(kdd_events):  # type: ignore[no-untyped-def]
    train = kdd_events[:3000]
    return create("random_forest", n_estimators=30).fit(train, data.targets(train, "binary"))


def test_active_model_raises_explained_alerts(site, kdd_events) -> None:  # type: ignore[no-untyped-def]
    tmp, settings, db, registry = site
    record = registry.add(_forest(kdd_events), name="kdd", data={}, metrics={})
    pipeline = Pipeline.from_settings(db, settings)
    pipeline.ingest_file(tmp / "old.txt")
    pipeline.close()
    assert _ml_alerts(db) == []  # trained but not active: silent

    registry.activate(record.ref)
    pipeline = Pipeline.from_settings(db, settings)
    pipeline.ingest_file(tmp / "new.txt")
    pipeline.close()
    alerts = _ml_alerts(db)
    assert len(alerts) == 1  # the records carry no addresses: one source, one merged alert
    alert = alerts[0]
    attacks = sum(1 for line in (tmp / "new.txt").read_text().splitlines() if ",normal," not in line)
    assert alert.detector == "ml" and alert.subkind == "attack" and alert.model_version == "kdd:1"
    assert abs(alert.count - attacks) <= attacks * 0.05
    # the score is the confidence (the engine caps one factor at 0.999)
    assert alert.confidence == pytest.approx(min(alert.evidence["score"], 0.999), abs=1e-4)
    assert alert.confidence >= alert.evidence["threshold"]
    features = [f for f in alert.factors if f.name.startswith("feature:")]
    assert features and all(f.weight == 0.0 for f in features)
    named = [c["feature"] for c in alert.evidence["explanation"]]
    assert named and set(named) <= set(registry.load("kdd:1").features_)
    assert [f.name for f in features] == [f"feature:{n}" for n in named]


def test_a_flow_model_ignores_other_kinds_of_events(site, kdd_events, datasets: Path) -> None:  # type: ignore[no-untyped-def]
    tmp, settings, db, registry = site
    registry.activate(registry.add(_forest(kdd_events), name="kdd", data={}, metrics={}).ref)
    lines = gzip.decompress((datasets / "web-access-logs" / "apache_logs.gz").read_bytes()).decode().splitlines()
    lines = lines[:2000]
    (tmp / "access.log").write_text("\n".join(lines) + "\n")
    pipeline = Pipeline.from_settings(db, settings)
    pipeline.ingest_file(tmp / "access.log")
    pipeline.close()
    assert _ml_alerts(db) == []


def test_a_broken_model_is_skipped_and_changes_are_picked_up(site, kdd_events, caplog) -> None:  # type: ignore[no-untyped-def]
    tmp, _, _, registry = site
    good = registry.add(_forest(kdd_events), name="good", data={}, metrics={})
    bad = registry.add(_forest(kdd_events), name="bad", data={}, metrics={})
    registry.activate(good.ref)
    registry.activate(bad.ref)
    shutil.rmtree(tmp / "netwarden-models" / "bad")
    detector = MlDetector({"reload_every": 0.001})
    detector.use(registry)
    batch = kdd_events[5000:5400]
    findings = detector.process(batch)
    assert {f.evidence["model"] for f in findings} == {"good:1"}
    assert "bad:1 cannot be loaded" in caplog.text
    registry.deactivate(good.ref)
    detector._loaded_at = -1e9  # as if reload_every had passed
    assert detector.process(batch) == []


def test_a_model_failing_at_scoring_is_counted_and_logged(site, kdd_events, caplog) -> None:  # type: ignore[no-untyped-def]
    """A model that became active without the check (an older release activated it) and fails on every batch:
    the detector counts and logs it instead of staying silent, and the other models keep working."""
    from sqlalchemy import update

    from netwarden.store.schema_learn import models as models_table

    tmp, _, db, registry = site
    train = kdd_events[:300]
    good = registry.add(_forest(kdd_events), name="good", data={}, metrics={})
    broken = registry.add(create("knn", n_neighbors=400).fit(train, data.targets(train, "binary")),
                          name="broken", data={}, metrics={})
    registry.activate(good.ref)
    with db.engine.begin() as conn:
        conn.execute(update(models_table).where(models_table.c.id == broken.id).values(active=True))
    detector = MlDetector({"reload_every": 3600})
    detector.use(registry)
    batch = kdd_events[5000:5400]
    findings = detector.process(batch) + detector.process(batch)
    assert {f.evidence["model"] for f in findings} == {"good:1"}
    assert detector.model_failures == {"broken:1": 2}
    assert caplog.text.count("model broken:1 failed on a batch") == 1  # logged once, then counted


def _flows(src: str, start: datetime, minutes: int, per_minute: int, ports: list[int], rng: random.Random) -> list[Event]:
    out = []
    for m in range(minutes):
        for k in range(per_minute):
            out.append(Event(timestamp=start + timedelta(minutes=m, seconds=k * 55 / per_minute),
                             source_kind="netflow", src_ip=src, dst_ip=f"192.0.2.{rng.randint(1, 3)}",
                             src_port=rng.randint(40000, 60000), dst_port=rng.choice(ports), transport="tcp",
                             bytes_out=rng.randint(400, 3000), bytes_in=rng.randint(2000, 90000),
                             packets_out=rng.randint(5, 20), packets_in=rng.randint(5, 80),
                             duration=rng.uniform(0.1, 5.0)))
    return out


def test_host_windows_learned_from_stored_events_catch_a_scanner(tmp_path: Path) -> None:
    """Unsupervised, per source per minute, trained on a stored "normal" period: a port scan stands out,
    ordinary hosts in a later period do not."""
    rng = random.Random(3)
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    normal = [e for i in range(12) for e in _flows(f"10.0.0.{i + 10}", T0, 120, rng.randint(2, 8), [80, 443, 53], rng)]
    with db.engine.begin() as conn:
        insert_events(conn, normal)
    events = data.load_stored(db, T0, T0 + timedelta(hours=2))
    assert len(events) == len(normal)
    model = create("isolation_forest", view="host", window=60.0, fpr=0.01).fit(events)
    registry = ModelRegistry(db, tmp_path / "models")
    registry.activate(registry.add(model, name="hosts", data={}, metrics={}).ref)
    later = T0 + timedelta(days=1)
    quiet = [e for i in range(5) for e in _flows(f"10.0.0.{i + 10}", later, 10, 5, [80, 443], rng)]
    scan = [Event(timestamp=later + timedelta(seconds=i * 0.1), source_kind="netflow", src_ip="10.0.0.99",
                  dst_ip="192.0.2.1", src_port=50000, dst_port=1 + i, transport="tcp", bytes_out=60, bytes_in=0,
                  packets_out=1, packets_in=0, duration=0.0) for i in range(300)]
    detector = MlDetector()
    detector.use(registry)
    findings = detector.process(sorted(quiet + scan, key=lambda e: e.timestamp))
    sources = {f.source for f in findings}
    assert "10.0.0.99" in sources
    assert len(sources - {"10.0.0.99"}) <= 1  # calibrated at 1 %: at most a stray ordinary window
    scanner = next(f for f in findings if f.source == "10.0.0.99")
    assert scanner.subkind == "anomaly" and scanner.count == 300
    explained = {c["feature"]: c["value"] for c in scanner.evidence["explanation"]}
    assert explained.get("distinct_ports") == 300 or explained.get("events") == 300, explained
    db.close()
