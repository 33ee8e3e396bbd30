"""Live counting of what each active model judged (netwarden.learn.live): hourly buckets by event time,
bounded, carried in the ml detector's saved state, and compared with the calibrated rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from netwarden.detect.ml import MlDetector
from netwarden.learn import live
from netwarden.learn.live import LiveCounts
from netwarden.records import Event

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _events(n: int, start: datetime, step: timedelta = timedelta(seconds=1)) -> list[Event]:
    return [Event(timestamp=start + i * step, source_kind="web_access", url=f"/p?i={i}") for i in range(n)]


def test_counts_by_event_hour_and_round_trip_through_state() -> None:
    counts = LiveCounts()
    counts.add("shop:1", _events(100, T0), np.arange(100) < 1)  # one hour, 1 % flagged
    spread = _events(120, T0 + timedelta(minutes=30), timedelta(minutes=1))  # 10:30 .. 12:29
    counts.add("shop:1", spread, np.ones(120, dtype=bool))
    hours = counts.hours("shop:1", T0)
    assert [(h["hour"][11:16], h["scored"], h["flagged"]) for h in hours] == \
        [("10:00", 130, 31), ("11:00", 60, 60), ("12:00", 30, 30)]
    assert counts.hours("shop:1", T0 + timedelta(hours=2))[0]["scored"] == 30
    assert counts.hours("other:1", T0) == []
    again = LiveCounts.from_state(counts.to_state())
    assert again.hours("shop:1", T0) == hours
    # malformed saved state is dropped, never fatal
    assert LiveCounts.from_state({"x:1": {"bad": [1, 2], "5": "no"}, "y:1": 3}).counts == {"x:1": {}}
    assert LiveCounts.from_state(None).counts == {}


def test_bounded_in_hours_and_models() -> None:
    counts = LiveCounts()
    counts.add("m:1", _events(live.KEEP_HOURS + 10, T0, timedelta(hours=1)), np.zeros(live.KEEP_HOURS + 10))
    assert len(counts.counts["m:1"]) == live.KEEP_HOURS
    assert min(counts.counts["m:1"]) == int(T0.timestamp()) // live.HOUR + 10  # the oldest hours went
    for i in range(live.MAX_MODELS + 5):
        counts.add(f"n{i}:1", _events(1, T0), np.zeros(1))
    assert len(counts.counts) == live.MAX_MODELS and "m:1" not in counts.counts and "n0:1" not in counts.counts


def test_summary_warns_only_past_twice_the_calibrated_rate() -> None:
    counts = LiveCounts()
    counts.add("m:1", _events(1_000, T0), np.arange(1_000) < 15)  # 1.5 %: within 2x of 1 %
    calm = live.summary(counts.hours("m:1", T0), 0.01, factor=2.0, min_flagged=5, since=T0)
    assert calm["scored"] == 1_000 and calm["flagged"] == 15 and calm["warning"] is None
    assert calm["ratio"] == 1.5 and calm["hours_over"] == 0
    counts.add("m:1", _events(500, T0 + timedelta(hours=1)), np.arange(500) < 100)  # 20 % the next hour
    drifted = live.summary(counts.hours("m:1", T0), 0.01, factor=2.0, min_flagged=5, since=T0)
    assert drifted["hours_over"] == 1 and [h["over"] for h in drifted["hours"]] == [False, True]
    assert drifted["warning"] and "7.7x its calibrated 1.00%" in drifted["warning"]
    few = LiveCounts()
    few.add("m:1", _events(10, T0), np.arange(10) < 3)  # 30 %, but 3 rows are noise
    assert live.summary(few.hours("m:1", T0), 0.01, factor=2.0, min_flagged=5, since=T0)["warning"] is None


def test_ml_detector_keeps_its_counts_in_its_state() -> None:
    detector = MlDetector()
    detector.live.add("shop:2", _events(10, T0), np.arange(10) < 2)
    restored = MlDetector()
    restored.restore(detector.state())
    assert restored.live.hours("shop:2", T0)[0] == {"hour": T0.isoformat(), "scored": 10, "flagged": 2}
    restored.restore({})  # state saved before live counting existed
    assert restored.live.counts == {}


def test_workers_counts_add_up_in_the_store_with_the_single_process_ones(db) -> None:  # type: ignore[no-untyped-def]
    """Each engine: counts added by several workers (``add_to_store``, each in its own transaction) sum,
    and ``load`` adds them to what the single process saved in the detector's state."""
    from netwarden.store import alerts as alert_store
    from netwarden.store.shared_state import ensure_state

    single = LiveCounts()
    single.add("m:1", _events(10, T0), np.arange(10) < 1)
    with db.engine.begin() as conn:
        alert_store.save_state(conn, "ml", {"live": single.to_state()})
    for _ in range(2):  # every worker makes sure the row exists; the second finds it
        with db.engine.begin() as conn:
            ensure_state(conn, live.SHARED)
    for share in (30, 20):  # two workers' batches
        counts = LiveCounts()
        counts.add("m:1", _events(share, T0), np.arange(share) < 5)
        with db.engine.begin() as conn:
            live.add_to_store(conn, counts)
    assert live.load(db).hours("m:1", T0) == [{"hour": T0.isoformat(), "scored": 60, "flagged": 11}]
