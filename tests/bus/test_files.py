"""``netwarden ingest FILE`` and ``netwarden follow`` with a ``[bus]``: they publish, a real ``netwarden worker``
stores; every line is stored exactly once — after a second import, after a producer that died between
publishing and storing its position, and after a follower killed with SIGKILL mid-stream. Real Redis and
PostgreSQL, real processes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from netwarden.bus.inputs import published_up_to
from netwarden.bus.redis_bus import RedisBus
from netwarden.store.database import Database
from netwarden.store.schema import events, ingest_sources, quarantine
from tests.bus.test_bus import event
from tests.bus.test_workers import scalar, start_worker
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
BAD = {7: "not json", 19: '{"no_kind": 1}'}  # line number: a line the netwarden format quarantines


def line(n: int) -> str:
    """Line ``n`` of the test log: an access-log event from one of 40 addresses (all partitions get some)."""
    if n in BAD:
        return BAD[n]
    ts = datetime(2026, 12, 4, 12, tzinfo=timezone.utc) + timedelta(seconds=n)
    return json.dumps({"timestamp": ts.isoformat(), "source_kind": "access_log", "src_ip": f"192.0.2.{n % 40}",
                       "src_port": 10000 + n, "http_method": "GET", "url": f"/page/{n}", "http_status": 200})


def write_lines(path: Path, first: int, last: int) -> None:
    with path.open("a") as f:
        f.writelines(line(n) + "\n" for n in range(first, last + 1))


def env_for(bus_settings, pg_url: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**os.environ, "PYTHONPATH": str(REPO), "NETWARDEN_DATABASE_URL": pg_url,
            "NETWARDEN_BUS_URL": bus_settings.url, "NETWARDEN_BUS_PREFIX": bus_settings.prefix,
            "NETWARDEN_BUS_PARTITIONS": str(bus_settings.partitions),
            "NETWARDEN_BUS_BATCH_EVENTS": str(bus_settings.batch_events),
            "NETWARDEN_BUS_LEASE_SECONDS": str(bus_settings.lease_seconds)}


def netwarden(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", "from netwarden.cli import main; main()", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def stored_line_numbers(db: Database) -> Counter:  # type: ignore[type-arg]
    with db.engine.connect() as conn:
        return Counter(r.line_no for r in conn.execute(select(events.c.line_no)))


def entries_on_bus(bus: RedisBus) -> int:
    return sum(bus.redis.xlen(bus.stream(p)) for p in range(bus.partitions))


def wait_until_stored(db: Database, bus: RedisBus, count: int) -> None:
    wait_for(lambda: scalar(db, select(func.count()).select_from(events)) >= count, 120, f"{count} events stored")
    wait_for(lambda: all(bus.backlog(p) == 0 for p in range(bus.partitions)), 60, "every batch acknowledged")
    time.sleep(1.0)  # anything stored twice would show now


def stop(proc: subprocess.Popen | None) -> None:  # type: ignore[type-arg]
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def shared(bus_settings, pg_url: str) -> Iterator[tuple[dict[str, str], Database, RedisBus]]:  # type: ignore[no-untyped-def]
    """The producers' and workers' environment, the shared database and the bus."""
    db = Database.open(pg_url)
    bus = RedisBus(bus_settings)
    yield env_for(bus_settings, pg_url), db, bus
    bus.close()
    db.close()


def test_ingest_publishes_each_line_once(tmp_path: Path, shared) -> None:  # type: ignore[no-untyped-def]
    env, db, bus = shared
    log = tmp_path / "access.jsonl"
    write_lines(log, 1, 300)
    worker = None
    try:
        output = netwarden(env, "ingest", "--format", "netwarden", "--no-progress", str(log))
        assert "published to the bus" in output, output
        assert scalar(db, select(func.count()).select_from(events)) == 0  # ingest stored nothing itself
        published = entries_on_bus(bus)
        assert published >= 12  # batches of at most 25 events, split over 4 partitions

        # the same file again: nothing new is published; then grown: only the new lines
        assert "already ingested" in netwarden(env, "ingest", "--format", "netwarden", str(log))
        assert entries_on_bus(bus) == published
        write_lines(log, 301, 340)
        netwarden(env, "ingest", "--format", "netwarden", str(log))
        # a producer that died after publishing, before storing its position: the position is behind the
        # bus; the next run reads those lines again and publishes none of them
        behind = entries_on_bus(bus)
        with db.engine.begin() as conn:
            conn.execute(update(ingest_sources).values(offset=0, lines=0, complete=False,
                                                       prefix_sha=hashlib.sha256(b"").hexdigest()))
        output = netwarden(env, "ingest", "--format", "netwarden", str(log))
        assert "lines read                 340" in output, output  # read again from the start ...
        assert entries_on_bus(bus) == behind  # ... and nothing published again

        worker = start_worker("files-worker", env, tmp_path / "worker.log")
        wait_until_stored(db, bus, 340 - len(BAD))
        assert stored_line_numbers(db) == Counter(n for n in range(1, 341) if n not in BAD)
        with db.engine.connect() as conn:
            source_id = conn.execute(select(ingest_sources.c.id)).scalar_one()
            assert {r.source_id for r in conn.execute(select(events.c.source_id))} == {source_id}
            kept = {r.line_no: (r.reason, r.raw, r.source_id)
                    for r in conn.execute(select(quarantine.c.line_no, quarantine.c.reason, quarantine.c.raw,
                                                 quarantine.c.source_id))}
            row = conn.execute(select(ingest_sources)).one()
        assert kept == {7: ("bad_json", BAD[7], source_id), 19: ("missing_field", BAD[19], source_id)}
        assert (row.lines, row.complete) == (340, True)
        assert published_up_to(bus, source_id) == 340
    finally:
        stop(worker)


def test_follow_killed_mid_stream_stores_each_line_once(tmp_path: Path, shared) -> None:  # type: ignore[no-untyped-def]
    env, db, bus = shared
    log = tmp_path / "access.jsonl"
    write_lines(log, 1, 50)
    args = [sys.executable, "-c", "from netwarden.cli import main; main()", "follow", "--format", "netwarden",
            "--interval", "0.05", "--status-every", "0", str(log)]
    output = tmp_path / "follow.log"
    follow = subprocess.Popen(args, cwd=REPO, env=env, stdout=output.open("ab"), stderr=subprocess.STDOUT)
    worker = restarted = None
    try:
        source = lambda: scalar(db, select(func.coalesce(func.max(ingest_sources.c.id), 0)))  # noqa: E731
        wait_for(lambda: source() and published_up_to(bus, source()) >= 50, 60, "the first lines published")
        for first in range(51, 400, 10):  # appended while the follower reads; killed in the middle
            write_lines(log, first, first + 9)
            time.sleep(0.02)
            if first == 201:
                follow.send_signal(signal.SIGKILL)
                follow.wait(10)
        assert published_up_to(bus, source()) < 400, "everything was published before the kill"
        restarted = subprocess.Popen(args, cwd=REPO, env=env, stdout=output.open("ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: published_up_to(bus, source()) == 400, 60, "every line published")
        worker = start_worker("follow-worker", env, tmp_path / "worker.log")
        wait_until_stored(db, bus, 400 - len(BAD))
        assert stored_line_numbers(db) == Counter(n for n in range(1, 401) if n not in BAD), output.read_text()
        with db.engine.connect() as conn:
            assert sorted(r.line_no for r in conn.execute(select(quarantine.c.line_no))) == sorted(BAD)
            assert conn.execute(select(ingest_sources.c.lines)).scalar_one() == 400
        stop(restarted)
        assert restarted.returncode == 0, output.read_text()
        assert "onto the bus" in output.read_text()
    finally:
        for proc in (follow, restarted, worker):
            stop(proc)


def test_follow_waits_while_the_bus_is_full(tmp_path: Path, shared, bus_settings) -> None:  # type: ignore[no-untyped-def]
    """A full bus drops nothing of a followed file: the follower says so and keeps its position, then
    publishes from there once there is room."""
    from netwarden.bus.produce import BusPipeline
    from netwarden.collect.follow import Follower

    _, db, _ = shared
    settings = bus_settings.model_copy(update={"max_backlog": 2, "max_wait": 0.2, "partitions": 1})
    bus = RedisBus(settings)
    stream = bus.stream(0)
    for i in range(2):  # no worker reads: the backlog is at its limit
        assert bus.publish([event("192.0.2.1", i)], source="other", fmt="auth") == 0
    log = tmp_path / "access.jsonl"
    write_lines(log, 1, 20)
    follower = Follower(BusPipeline(db, RedisBus(settings)), [log], "netwarden", poll_interval=0.05)
    follower.start()
    try:
        stats = follower.stats[str(log)]
        wait_for(lambda: stats.state == "error", 30, "the follower to find the bus full")
        assert "the bus stayed full" in (stats.last_error or ""), stats.last_error
        source_id = scalar(db, select(ingest_sources.c.id))
        assert published_up_to(bus, source_id) == 0 and bus.redis.xlen(stream) == 2
        assert scalar(db, select(ingest_sources.c.lines)) == 0  # the position waits with the lines

        bus.redis.xgroup_setid(stream, "workers", "$")  # the two entries are read: room again
        wait_for(lambda: published_up_to(bus, source_id) == 20, 30, "the lines published once there is room")
        wait_for(lambda: scalar(db, select(ingest_sources.c.lines)) == 20, 10, "the position advanced")
        assert stats.state == "following" and stats.lines == 20
        on_bus = [n for _, f in bus.redis.xrange(stream, min="-", max="+") if b"lines" in f
                  for n in json.loads(f[b"lines"])]
        assert sorted(on_bus) == [n for n in range(1, 21) if n not in BAD]  # each line once
    finally:
        follower.stop()
        follower.sink.close()
        bus.close()


def test_a_worker_keeps_a_file_batch_whose_source_row_is_gone(shared, bus_settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    """An entry naming an ``ingest_sources`` row the database no longer has (restored from a backup) is stored
    without it, not refused for ever by the foreign key (which would stop its partition)."""
    from netwarden.bus.inputs import publish_input
    from netwarden.pipeline import Batch
    from tests.bus.test_listen import worker_thread

    _, db, bus = shared
    batch = Batch([event(f"192.0.2.{i}", i) for i in range(3)], [11, 12, 13], [])
    assert publish_input(bus, batch, source="/var/log/gone.log", fmt="auth", source_id=999_999, last_line=13,
                         patient=True) == (3, 0)
    worker, thread = worker_thread(pg_url, bus_settings, "gone-worker")
    try:
        wait_until_stored(db, bus, 3)
        with db.engine.connect() as conn:
            assert sorted((r.line_no, r.source_id) for r in conn.execute(select(events.c.line_no, events.c.source_id))) \
                == [(11, None), (12, None), (13, None)]
    finally:
        worker.stop.set()
        thread.join(30)
