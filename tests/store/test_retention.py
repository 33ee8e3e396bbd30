"""Retention on every engine: old events and quarantined lines go in chunks, newer ones and all rollups stay."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from netwarden.pipeline import Pipeline
from netwarden.store import retention
from netwarden.store.database import Database
from netwarden.store.retention import apply_retention, count
from netwarden.store.schema import events, quarantine, rollups

pytestmark = pytest.mark.engines

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def _lines(days_ago: list[float]) -> list[str]:
    return [json.dumps({"timestamp": (NOW - timedelta(days=d)).isoformat(), "source_kind": "zeek",
                        "transport": "tcp", "dst_port": 80, "bytes_out": 10, "message": f"d{d}"})
            for d in days_ago]


def _rollup_rows(db: Database) -> list[tuple]:
    with db.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(rollups)))


def test_old_events_go_new_ones_and_rollups_stay(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "CHUNK", 7)  # many chunks
    old = [40 + i / 100 for i in range(25)]  # 25 events older than 30 days
    new = [29.99, 10, 1, 0]
    pipeline = Pipeline(db)
    pipeline.ingest_lines(_lines(old + new), "netwarden")
    # quarantined lines: 3 old, 2 new (their age is when they were received)
    pipeline.ingest_lines(["{bad"] * 5, "netwarden")
    with db.engine.begin() as conn:
        ids = conn.execute(select(quarantine.c.id).order_by(quarantine.c.id)).scalars().all()
        conn.execute(update(quarantine).where(quarantine.c.id.in_(ids[:3])).values(received=NOW - timedelta(days=31)))
        conn.execute(update(quarantine).where(quarantine.c.id.in_(ids[3:])).values(received=NOW - timedelta(days=2)))
    before = _rollup_rows(db)
    assert sum(r[4] for r in before) == 29

    result = apply_retention(db, 30, now=NOW)

    assert result.cutoff == NOW - timedelta(days=30)
    assert result.events_deleted == 25
    assert result.quarantine_deleted == 3
    with db.engine.connect() as conn:
        kept = conn.execute(select(events.c.timestamp)).scalars().all()
        assert sorted(kept) == sorted(NOW - timedelta(days=d) for d in new)
        assert all(ts >= result.cutoff for ts in kept)
        assert len(conn.execute(select(quarantine.c.id)).all()) == 2
    assert _rollup_rows(db) == before  # dashboards keep their history

    # running again deletes nothing more
    again = apply_retention(db, 30, now=NOW)
    assert (again.events_deleted, again.quarantine_deleted) == (0, 0)
    assert count(db) == 4 and count(db, quarantine) == 2


def test_retention_on_an_empty_store_and_bad_days(db: Database) -> None:
    result = apply_retention(db, 1, now=NOW)
    assert (result.events_deleted, result.quarantine_deleted) == (0, 0)
    for bad in (0, -1):
        with pytest.raises(ValueError):
            apply_retention(db, bad, now=NOW)


def test_fractional_days_and_default_now(db: Database) -> None:
    now = datetime.now(timezone.utc)
    Pipeline(db).ingest_lines([json.dumps({"timestamp": (now - timedelta(hours=h)).isoformat(), "source_kind": "zeek"})
                               for h in (1, 5, 13)], "netwarden")
    result = apply_retention(db, 0.25)  # six hours, from the real clock
    assert result.events_deleted == 1
    assert count(db) == 2
