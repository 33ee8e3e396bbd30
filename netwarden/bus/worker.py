"""``netwarden worker``: reads partitions of the bus, detects and stores through the pipeline's public batch API.

Each step a worker

1. says it is alive and reads the live workers: partition ``p`` belongs to ``workers[p % len(workers)]`` (the
   same answer in every worker, so partitions rebalance when workers come and go);
2. gives up the partitions no longer its own (between batches, so none is half done) and renews the rest;
3. takes the partitions now its own once their lease is free (the previous owner let go, or died and its
   lease expired): it replays the partition's acknowledged recent history through the detectors without
   alerting (their windows then hold what the previous owner had seen), claims what the previous owner
   left unacknowledged (XAUTOCLAIM) and processes it first;
4. reads new batches of its partitions and, for each, runs the stages and stores it with its id in one
   transaction (:class:`~netwarden.bus.ledger.LedgerWriter`), then acknowledges it. A batch whose id is
   stored already (its worker died between commit and acknowledgement) only warms the detectors.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

import redis
from sqlalchemy import select

from netwarden import metrics
from netwarden.bus.codec import decode_events, decode_lines, decode_quarantined
from netwarden.bus.leader import sweeper
from netwarden.bus.ledger import LedgerWriter, forget_older_than, is_stored
from netwarden.learn import live
from netwarden.bus.redis_bus import GROUP, RedisBus
from netwarden.pipeline import Batch, Pipeline
from netwarden.records import Alert, Event
from netwarden.pipeline.live import alert_message, block_message, events_message
from netwarden.store.database import Database
from netwarden.store.quarantine import QuarantinedLine
from netwarden.store.schema import ingest_sources
from netwarden.store.shared_state import ensure_state

log = logging.getLogger(__name__)
READ_COUNT = 20  # entries per read: small enough that a lease is renewed often under load
LEDGER_SWEEP = 3600.0  # seconds between deletions of old batch ids


def _ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-")[0])


def _after(entry_id: bytes | str) -> str:
    """The smallest stream id after ``entry_id`` (XRANGE's exclusive start, spelled for Redis 6 too)."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, seq = text.split("-")
    return f"{ms}-{int(seq) + 1}"


def _before(entry_id: bytes | str) -> str | None:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, seq = (int(x) for x in text.split("-"))
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-18446744073709551615" if ms > 0 else None


class Worker:
    def __init__(self, settings: Any, db: Database, bus: RedisBus, *, name: str | None = None) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.leader = sweeper(bus, self.name, settings)  # one process of all sweeps expired blocks
        # detector state lives in the bus's history, per partition (warm-up), not in one saved blob that
        # workers would overwrite with each other's partial views
        self.pipeline = Pipeline.from_settings(db, settings, observers=[self._on_events],
                                               alert_listeners=[self._on_alerts], sweep_gate=self.leader,
                                               save_detector_state=False)
        engine = self.pipeline.engine
        response = self.pipeline.response
        if response is not None:
            response.responder.listeners.append(self._on_block)
        self.writer = LedgerWriter(db)
        self._ml = next((d for d in engine.detectors if d.name == "ml"), None) if engine is not None else None
        if self._ml is not None:  # its live counts: each batch's added in the batch's transaction
            with db.engine.begin() as conn:
                ensure_state(conn, live.SHARED)
            self._take_live()  # what it restored are the single process's counts, saved apart
            self.writer.also.append(lambda conn: live.add_to_store(conn, self._take_live()))
        self.owned: set[int] = set()
        self._sources: set[int] = set()  # ingest_sources ids seen to exist
        self.seen: dict[int, bytes] = {}  # the last entry processed (stored or warmed) per partition
        self.stop = threading.Event()
        self.batches = 0
        self._ledger_swept = 0.0
        self._renewed = 0.0
        metrics.add_collector(bus.gauges)
        metrics.set_ready_check("bus", bus.ping)

    # -- the loop ------------------------------------------------------------------------------------------

    def run(self, *, max_seconds: float | None = None) -> None:
        """Until ``stop`` is set (SIGTERM), or ``max_seconds`` passed (tests, benchmarks)."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        try:
            while not self.stop.is_set() and (deadline is None or time.monotonic() < deadline):
                try:
                    self.step()
                except redis.RedisError as exc:  # the bus is away: wait and try again, keep the state
                    log.warning("bus: %s", exc)
                    self.stop.wait(1.0)
        finally:
            self.close()

    def step(self, block_ms: int = 500) -> int:
        """One round: membership, partitions, and one read. Returns the batches processed."""
        members = self.bus.heartbeat(self.name)
        mine = {p for p in range(self.bus.partitions) if members and members[p % len(members)] == self.name}
        for p in sorted(self.owned - mine):
            self.bus.release(p, self.name)
            self.owned.discard(p)
        for p in sorted(self.owned):
            if not self.bus.renew(p, self.name):  # we were too slow and another worker has it now
                self.owned.discard(p)
        done = 0
        for p in sorted(mine - self.owned):
            if self.bus.acquire(p, self.name):
                self.owned.add(p)
                done += self._take_over(p)
        metrics.BUS_PARTITIONS.set(len(self.owned))
        if time.monotonic() - self._ledger_swept > LEDGER_SWEEP:
            forget_older_than(self.db, self.settings.bus.ledger_days)
            self._ledger_swept = time.monotonic()
        if not self.owned:
            self.stop.wait(block_ms / 1000)
            return done
        streams = {self.bus.stream(p): ">" for p in sorted(self.owned)}
        answer = self.bus.redis.xreadgroup(GROUP, self.name, streams, count=READ_COUNT, block=block_ms)
        self._renewed = time.monotonic()
        for stream, entries in answer or []:
            p = int(stream.decode().rsplit(":", 1)[1])
            for entry_id, fields in entries:
                self._keep_leases()
                if p not in self.owned:  # lost while busy: what was read stays pending, the new owner claims it
                    break
                self._process(p, entry_id, fields)
                done += 1
        return done

    def _keep_leases(self) -> None:
        """Renew the leases every third of their life while a read's batches are processed (a slow database
        must not let them expire under us)."""
        if time.monotonic() - self._renewed < self.settings.bus.lease_seconds / 3:
            return
        for p in sorted(self.owned):
            if not self.bus.renew(p, self.name):
                self.owned.discard(p)
        self._renewed = time.monotonic()

    def close(self) -> None:
        """Let go of the partitions (others take them at once) and stop detection cleanly."""
        metrics.remove_collector(self.bus.gauges)
        metrics.set_ready_check("bus", None)
        try:
            for p in sorted(self.owned):
                self.bus.release(p, self.name)
            self.bus.leave(self.name)
        except redis.RedisError:
            pass  # the leases expire by themselves
        self.owned.clear()
        self.pipeline.close()
        self.leader.close()  # after the responder stopped sweeping: another process sweeps from now on

    # -- taking a partition over -----------------------------------------------------------------------------

    def _take_over(self, p: int) -> int:
        self.bus.ensure_group(p)
        stream = self.bus.stream(p)
        r = self.bus.redis
        first_pending = r.xpending_range(stream, GROUP, min="-", max="+", count=1)
        if first_pending:
            end = _before(first_pending[0]["message_id"])
        else:
            info = next((g for g in r.xinfo_groups(stream) if g["name"] in (GROUP, GROUP.encode())), None)
            last = info["last-delivered-id"] if info else b"0-0"
            end = None if last in (b"0-0", "0-0") else (last.decode() if isinstance(last, bytes) else last)
        if end is not None:
            self._warm_up(p, end)
        done = 0
        start = "0-0"
        for _ in range(10_000):  # bounded: each round claims up to 100 of at most ``history`` entries
            answer = r.xautoclaim(stream, GROUP, self.name, min_idle_time=0, start_id=start, count=100)
            start, claimed = answer[0], answer[1]
            for entry_id, fields in claimed:
                if fields:  # an entry trimmed away while pending comes back empty
                    self._process(p, entry_id, fields)
                    done += 1
                else:
                    r.xack(stream, GROUP, entry_id)
            if start in (b"0-0", "0-0"):
                break
        self._forget_idle_consumers(stream)
        return done

    def _forget_idle_consumers(self, stream: str) -> None:
        """Workers that are gone and hold nothing pending are removed from the group (they would pile up)."""
        live = set(self.bus.heartbeat(self.name))
        for consumer in self.bus.redis.xinfo_consumers(stream, GROUP)[:1000]:
            name = consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
            if name not in live and not consumer.get("pending"):
                self.bus.redis.xgroup_delconsumer(stream, GROUP, name)

    def _warm_up(self, p: int, end: str) -> None:
        """Replay acknowledged history up to ``end`` through the detectors (no alerts, nothing stored)."""
        seen = self.seen.get(p)
        start = _after(seen) if seen is not None else \
            f"{max(0, _ms(end) - int(self.settings.bus.warm_seconds * 1000))}-0"
        stream = self.bus.stream(p)
        for _ in range(10_000):
            entries = self.bus.redis.xrange(stream, min=start, max=end, count=200)
            for entry_id, fields in entries:
                try:
                    self._warm(decode_events(fields[b"events"]))
                except (KeyError, ValueError):
                    pass
                self.seen[p] = entry_id
            if len(entries) < 200:
                break
            start = _after(entries[-1][0])

    def _warm(self, events: list[Event]) -> None:
        engine = self.pipeline.engine
        if engine is None or not events:
            return
        with self.pipeline.stages.lock:
            for detector in engine.detectors:
                try:
                    detector.process(events)  # findings dropped: their alerts were made by the first owner
                except Exception:
                    log.exception("detector %s failed while warming up", detector.name)
        self._take_live()  # and so were their live counts

    def _take_live(self) -> live.LiveCounts:
        """The ml detector's counts since the last call (it starts counting afresh)."""
        taken = self._ml.live if self._ml is not None else live.LiveCounts()
        if self._ml is not None:
            self._ml.live = live.LiveCounts()
        return taken

    # -- one batch -------------------------------------------------------------------------------------------

    def _process(self, p: int, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        stream = self.bus.stream(p)
        batch_id = fields.get(b"id", entry_id).decode(errors="replace")[:100]
        source = fields.get(b"source", b"bus").decode(errors="replace")
        fmt = fields.get(b"fmt", b"events").decode(errors="replace")[:32]
        source_id = None
        try:
            events = decode_events(fields[b"events"])
            quarantined = decode_quarantined(fields.get(b"quarantined", b""))
            numbers, source_id = decode_lines(fields, len(events))
        except (KeyError, ValueError, TypeError) as exc:  # kept with its reason, never lost or retried forever
            events, numbers = [], []
            raw = repr({k.decode(errors="replace"): v[:2000] for k, v in fields.items()})
            quarantined = [QuarantinedLine(None, raw, "bad_bus_message", f"{type(exc).__name__}: {exc}"[:500])]
        with self.db.engine.connect() as conn:
            stored = is_stored(conn, batch_id)
            if source_id is not None and not self._source_known(conn, source_id):
                source_id = None  # its ingest_sources row is gone (a restored database): keep the events
        if stored:
            self._warm(events)
            metrics.BUS_REDELIVERED.inc()
        else:
            self.writer.batch_id = batch_id
            self.pipeline.store_batch(Batch(events, numbers, quarantined), self.writer, source=source, fmt=fmt,
                                      source_id=source_id)
            if self.writer.duplicate:
                metrics.BUS_REDELIVERED.inc()
                self._take_live()  # counted by the worker that stored it
        self.bus.redis.xack(stream, GROUP, entry_id)
        self.seen[p] = entry_id
        self.batches += 1
        metrics.BUS_BATCHES.inc()

    def _source_known(self, conn: Any, source_id: int) -> bool:
        """The file's row exists (the events' foreign key would refuse the batch for ever otherwise)."""
        if source_id not in self._sources:
            if not conn.execute(select(ingest_sources.c.id).where(ingest_sources.c.id == source_id)).first():
                return False
            self._sources.add(source_id)
        return True

    # -- the live feed for web processes ----------------------------------------------------------------------

    def _publish(self, topic: str, data: Any) -> None:
        try:
            self.bus.publish_live(topic, data)
        except redis.RedisError:
            pass  # the live feed is a convenience; the database has everything

    def _on_events(self, events: list[Event]) -> None:
        if events:
            self._publish("events", events_message(events))

    def _on_alerts(self, changes: list[tuple[Alert, bool]]) -> None:
        for alert, is_new in changes:
            self._publish("alert", alert_message(alert, is_new))

    def _on_block(self, block: Any, what: str) -> None:
        self._publish("block", block_message(block, what))
