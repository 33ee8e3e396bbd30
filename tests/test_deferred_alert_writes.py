"""A file import's alert writes go to the writer process (netwarden.detect.deferred) with the same results as the
engine writing them itself: the same alert, incident and block rows, the same listener calls in the same order,
each batch's alerts told before the next batch is detected; a failure of those writes reaches the caller and
loses no line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from netwarden.config import load_settings
from netwarden.detect.deferred import WRITES, DeferredWrites
from netwarden.detect.engine import DetectionEngine
from netwarden.pipeline import Pipeline
from netwarden.records import Alert
from netwarden.store import writer as writer_module
from netwarden.store.database import Database
from netwarden.store.schema import alerts, events, incidents
from netwarden.store.schema_respond import blocks
from netwarden.store.writer import ProcessWriter, WriterProcessError

LINES = 4_500
BATCH = 1_500
_WALL_CLOCK = {"created", "updated", "expires", "ended"}  # when a row was written: differs run to run


@pytest.fixture(scope="module")
def flood(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.inputs import attack_access_log

    return attack_access_log(tmp_path_factory.mktemp("flood") / "flood.log", LINES)


def _rows(db: Database, table: Any) -> list[dict[str, Any]]:
    keep = [c for c in table.columns if c.name not in _WALL_CLOCK]
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(*keep).order_by(table.c.id))]


def _import(path: Path, url: str, monkeypatch: pytest.MonkeyPatch, *, deferred: bool) -> dict[str, Any]:
    """The flood imported through the writer process, its alerts written by it (``deferred``) or by the engine."""
    monkeypatch.setenv("NETWARDEN_RESPOND_HISTORY_AFTER", "36500d")  # the recorded flood counts as live
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    monkeypatch.setattr(ProcessWriter, "writes_alerts", deferred)
    db = Database.open(url)
    told: list[Any] = []
    pipeline: Pipeline

    def listen(changes: list[tuple[Alert, bool]]) -> None:
        # when: how many events detection had seen (this batch's, not yet the next one's)
        told.append([pipeline.engine.stats.events,  # type: ignore[union-attr]
                     [(a.id, is_new, a.count, a.incident_id, str(a.severity)) for a, is_new in changes]])

    try:
        pipeline = Pipeline.from_settings(db, load_settings(), alert_listeners=[listen], batch_size=BATCH)
        result = pipeline.ingest_file(path, "access_log")
        pipeline.close()
        with db.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
        return {"events": (result.events, stored), "alerts": _rows(db, alerts), "incidents": _rows(db, incidents),
                "blocks": _rows(db, blocks), "told": told}
    finally:
        db.close()


def test_the_writer_process_writes_the_alerts_the_engine_would(flood: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    engine_wrote = _import(flood, f"sqlite:///{tmp_path / 'engine.db'}", monkeypatch, deferred=False)
    writer_wrote = _import(flood, f"sqlite:///{tmp_path / 'writer.db'}", monkeypatch, deferred=True)
    assert writer_wrote["events"] == engine_wrote["events"] == (LINES, LINES)
    assert len(writer_wrote["alerts"]) > 1_000 and len(writer_wrote["incidents"]) > 100 and writer_wrote["blocks"]
    for name in ("alerts", "incidents", "blocks"):
        assert writer_wrote[name] == engine_wrote[name], f"the {name} differ"
    # every batch told once, in order, before the next batch was detected, with the stored ids
    assert [when for when, _ in writer_wrote["told"]] == [BATCH, 2 * BATCH, 3 * BATCH]
    assert writer_wrote["told"] == engine_wrote["told"]
    linked = [(alert_id, incident) for _, changes in writer_wrote["told"] for alert_id, _, _, incident, _ in changes]
    assert all(type(alert_id) is int and (incident is None or type(incident) is int) for alert_id, incident in linked)
    assert sum(incident is not None for _, incident in linked) > len(linked) / 2


def test_the_engine_with_deferred_writes_stores_the_reference(datasets: Path, tmp_path: Path) -> None:
    """The engine alone, its writes handed to a writer process batch by batch: the reference output of
    tests/detect/test_engine_reference.py (the flood), ids, incidents and listener calls included."""
    import gzip
    import json

    from tests.detect.engine_reference import FLOOD_BATCH, REFERENCE, flood as reference_flood

    events_ = reference_flood(tmp_path)
    db = Database.open(f"sqlite:///{tmp_path / 'deferred.db'}")
    told: list[list[Any]] = []

    def listen(alert: Alert, is_new: bool) -> None:
        told[-1].append([alert.id, is_new, alert.count, alert.confidence, str(alert.severity), alert.incident_id])

    try:
        engine = DetectionEngine.from_config(db=db, listeners=[listen])
        with ProcessWriter(db) as writer:
            writes = DeferredWrites(writer)
            for i in range(0, len(events_), FLOOD_BATCH):
                writes.finish()  # the previous batch's: written, then told (before this batch is detected)
                told.append([])
                token = WRITES.set(writes)
                try:
                    engine.process(events_[i:i + FLOOD_BATCH])
                finally:
                    WRITES.reset(token)
                assert writes.pending, "handed to the writer"
            writes.finish()
        keep = lambda table: [c for c in table.columns if c.name not in ("created", "updated")]  # noqa: E731
        with db.engine.connect() as conn:
            got = {"alerts": [dict(r._mapping) for r in conn.execute(select(*keep(alerts)).order_by(alerts.c.id))],
                   "incidents": [dict(r._mapping) for r in conn.execute(select(*keep(incidents))
                                                                        .order_by(incidents.c.id))],
                   "told": told, "stats": [engine.stats.findings, engine.stats.alerts_new, engine.stats.alerts_updated]}
    finally:
        db.close()
    got = json.loads(json.dumps(got, sort_keys=True, default=str))
    with gzip.open(REFERENCE, "rt", encoding="utf-8") as f:
        want = json.load(f)["flood"]
    assert got["stats"] == want["stats"]
    assert got["alerts"] == want["alerts"]
    assert got["incidents"] == want["incidents"]
    assert got["told"] == want["told"]


def test_a_failed_alert_write_reaches_the_caller_and_loses_no_line(flood: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'failing.db'}"
    db = Database.open(url)
    with db.engine.begin() as conn:  # a real failure, in the writer process: SQLite refuses new alerts
        conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'no alerts'); END"))
    monkeypatch.setenv("NETWARDEN_RESPOND_HISTORY_AFTER", "36500d")
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    try:
        pipeline = Pipeline.from_settings(db, load_settings(), batch_size=BATCH)
        with pytest.raises(WriterProcessError, match="no alerts"):
            pipeline.ingest_file(flood, "access_log")
        with db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse"))
            assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 0
        # the failed batch's events were not stored either, nor the resume point moved past them: a rerun
        # stores every line once, and the alerts a clean import stores
        again = Pipeline.from_settings(db, load_settings(), batch_size=BATCH)
        again.ingest_file(flood, "access_log")
        again.close()
        with db.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(events)).scalar_one() == LINES
            assert conn.execute(select(func.count(func.distinct(events.c.line_no)))).scalar_one() == LINES
        rerun = _rows(db, alerts)
    finally:
        db.close()
    clean = _import(flood, f"sqlite:///{tmp_path / 'clean.db'}", monkeypatch, deferred=True)
    assert rerun == clean["alerts"]
