"""The stages between parsing and the store: detection is serialised across the threads of live sources, and
alerts reach their listeners once per batch, as stored, before the next batch is detected."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.config import load_settings
from netwarden.pipeline import LiveStream, Pipeline
from netwarden.records import Event
from netwarden.store.alerts import AlertFilter, find_alerts
from netwarden.store.database import Database

SSH = "<38>{when} gw sshd[77]: Failed password for {user} from 203.0.113.{src} port {port} ssh2"


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    yield db
    db.close()


class Overlap:
    """A detect stage that notes when two batches are inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.events = 0
        self._count = threading.Lock()

    def __call__(self, events: list[Event]) -> None:
        with self._count:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.002)  # long enough for another thread's flush to come in
        self.events += len(events)
        with self._count:
            self.inside -= 1


def test_live_sources_on_their_own_threads_never_detect_at_once(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    detect = Overlap()
    pipeline = Pipeline(sqlite_db, stages=[detect])
    streams = [LiveStream(pipeline, fmt="syslog", source=f"s{i}", batch_size=5, max_delay=0.01, use_process=False)
               for i in range(3)]

    def feed(stream: LiveStream, k: int) -> None:
        for n in range(200):
            stream.feed_line(SSH.format(when="Nov 21 10:00:00", user="root", src=k, port=40000 + n), "192.0.2.1")

    threads = [threading.Thread(target=feed, args=(s, k)) for k, s in enumerate(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in streams:
        s.close()
    assert detect.events == 600
    assert detect.most == 1


def test_alert_listeners_hear_each_batch_once_with_what_was_stored(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    heard: list[list] = []
    settings = load_settings(environ={"NETWARDEN_INGEST_BATCH_SIZE": "40", "NETWARDEN_RESPOND_HISTORY_AFTER": "1d"})
    pipeline = Pipeline.from_settings(sqlite_db, settings, alert_listeners=[heard.append])
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    lines = [SSH.format(when=(start + timedelta(seconds=i)).isoformat(), user=("root", "admin")[i % 2],
                        src=i % 4 + 1, port=40000 + i) for i in range(400)]
    try:
        pipeline.ingest_lines(lines, "syslog", source="test")
    finally:
        pipeline.close()
    assert heard and len(heard) <= 400 // 40  # at most one call per batch
    assert all(isinstance(c, list) and c for c in heard)
    told = {alert.id: alert for changes in heard for alert, _ in changes}
    new = [alert.id for changes in heard for alert, is_new in changes if is_new]
    with sqlite_db.engine.connect() as conn:
        stored = {a.id: a for a in find_alerts(conn, AlertFilter())}
    assert set(told) == set(stored) and sorted(new) == sorted(stored)  # each alert once new, none missed
    assert {a.source for a in stored.values()} == {f"203.0.113.{i}" for i in range(1, 5)}
    assert all(told[i].count == stored[i].count for i in stored)  # what they heard last is what was stored
