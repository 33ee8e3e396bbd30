"""The ml detector's live counts (what each active model judged and flagged, per hour: the model lab's drift
warning) add up across workers: each worker adds its batches' counts in their transactions, so two workers —
the second taking partitions over from the first, replaying their history — count every event exactly once,
as the single process does."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from netwarden.bus.produce import publish_lines
from netwarden.bus.redis_bus import RedisBus
from netwarden.bus.worker import Worker
from netwarden.config import Settings
from netwarden.learn import live
from netwarden.learn.base import create
from netwarden.learn.registry import open_registry
from netwarden.pipeline import Pipeline
from netwarden.records import Event
from netwarden.store.database import Database
from netwarden.store.schema import events as events_table
from tests.bus.test_workers import scalar
from tests.waiting import wait_for

START = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def request(i: int, odd: bool = False) -> str:
    """An access-log line: an ordinary shop request, or (odd) one with a parameter the shop never had."""
    ts = (START + timedelta(seconds=7 * i)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    query = f"id={i % 40}&qty={i % 5 + 1}" if not odd else f"id={i % 40}&debug=%27%20OR%20%271%27%3D%271"
    return f'198.51.{i % 7}.{i % 200 + 1} - - [{ts}] "GET /shop/item?{query} HTTP/1.1" 200 512 "-" "Mozilla/5.0"'


def settings_for(url: str, models: Path) -> Settings:
    settings = Settings()
    settings.database.url = url
    settings.learn.models_dir = str(models)
    return settings


def activate_model(db: Database, settings: Settings) -> str:
    normal = [Event(timestamp=START, source_kind="access_log", src_ip="198.51.100.1", http_method="GET",
                    url=f"/shop/item?id={i % 40}&qty={i % 5 + 1}", http_status=200) for i in range(400)]
    registry = open_registry(db, settings)
    record = registry.add(create("http_profile").fit(normal), name="shop", data={}, metrics={})
    registry.activate(record.ref)
    return record.ref


def totals(db: Database, ref: str) -> tuple[int, int]:
    hours = live.load(db).hours(ref, START - timedelta(hours=1))
    return sum(h["scored"] for h in hours), sum(h["flagged"] for h in hours)


def test_two_workers_add_their_live_counts(tmp_path: Path, bus_settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    lines = [request(i, odd=i % 50 == 7) for i in range(1200)]
    first_half, second_half = lines[:600], lines[600:]

    # the reference: the single process
    one = settings_for(f"sqlite:///{tmp_path / 'one.db'}", tmp_path / "models-one")
    reference_db = Database.open(one.database.url)
    ref = activate_model(reference_db, one)
    reference = Pipeline.from_settings(reference_db, one)
    reference.ingest_lines(lines, "access_log", source="shop")
    reference.close()
    expected = totals(reference_db, ref)
    assert expected[0] == len(lines) and 0 < expected[1] < len(lines)  # it judged all, flagged some

    settings = settings_for(pg_url, tmp_path / "models")
    settings.bus = bus_settings
    db = Database.open(pg_url)
    assert activate_model(db, settings) == ref
    bus = RedisBus(bus_settings)
    producer = Pipeline(db, stages=())
    workers: list[Worker] = []
    threads: list[threading.Thread] = []

    def start(name: str) -> Worker:
        w = Worker(settings, Database.open(pg_url), RedisBus(bus_settings), name=name)
        thread = threading.Thread(target=w.run, kwargs={"max_seconds": 150}, daemon=True)
        thread.start()
        workers.append(w)
        threads.append(thread)
        return w

    stored = lambda: scalar(db, select(func.count()).select_from(events_table))  # noqa: E731
    try:
        publish_lines(producer, bus, first_half, "access_log", source="shop", batch_size=100)
        first = start("ml-w1")
        wait_for(lambda: stored() >= len(first_half), 90, "the first worker to store the first half")
        # the second worker takes half of the partitions over, replaying their history through the detectors
        second = start("ml-w2")
        wait_for(lambda: len(first.owned) + len(second.owned) == bus.partitions and second.owned, 60,
                 "the partitions to be shared")
        publish_lines(producer, bus, second_half, "access_log", source="shop", batch_size=100)
        wait_for(lambda: stored() >= len(lines), 120, "every event stored")
        wait_for(lambda: all(bus.backlog(p) == 0 for p in range(bus.partitions)), 60, "every batch acknowledged")
        assert first.batches and second.batches  # both stored, so both counted
        assert totals(db, ref) == expected  # each event counted once, whoever judged it
    finally:
        for w in workers:
            w.stop.set()
        for thread in threads:
            thread.join(30)
        bus.close()
        db.close()
        reference_db.close()
