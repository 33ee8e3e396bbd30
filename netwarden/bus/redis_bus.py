"""The bus on Redis Streams.

Keys (``P`` is ``[bus] prefix``):

- ``P:events:<n>`` — partition streams; an event goes to partition ``crc32(source address) % partitions``, so
  every event of one source reaches the one worker that reads that partition (stateful detectors see it all).
  Read through the consumer group ``workers``; a batch is acknowledged after its commit. Kept to ``history``
  entries (approximately), which bounds memory and is what a taking-over worker warms up from.
- ``P:lease:<n>`` — which worker reads partition n (SET NX with an expiry, renewed while alive).
- ``P:workers`` — a sorted set of live workers by heartbeat time: every worker computes the same assignment.
- ``P:leader:<job>`` — which process runs a periodic job for all (the block-expiry sweep: :mod:`.leader`).
- ``P:live`` — the live feed (alerts, blocks, samples of stored events) for ``serve --web-only`` processes.
- ``P:dropped`` — what producers dropped (the bus stayed full), by source: ``netwarden status`` shows it.

Producers wait while a partition's backlog (entries not yet acknowledged) is at ``max_backlog``, at most
``max_wait`` seconds, then drop the batch and count it: never an unbounded queue, never a silent loss.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import orjson
import redis

from netwarden import metrics
from netwarden.bus.codec import encode_events, encode_quarantined
from netwarden.bus.settings import BusSettings
from netwarden.records import Event
from netwarden.store.quarantine import QuarantinedLine

GROUP = "workers"
LIVE_HISTORY = 1000  # live-feed entries kept: a web process that starts sees none of the past anyway
BACKLOG_RECHECK = 0.2  # seconds a partition's backlog figure is trusted before asking Redis again

# renew or release a lease only while we still hold it (another worker may hold it since it expired)
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class BusError(RuntimeError):
    """The bus cannot be reached or refused a command; the message says which."""


def partition_of(address: str | None, partitions: int) -> int:
    """The partition of a source address: stable across processes and machines (crc32, not hash())."""
    return zlib.crc32((address or "").encode()) % partitions


class RedisBus:
    def __init__(self, settings: BusSettings, *, name: str | None = None) -> None:
        if not settings.url:
            raise BusError("no [bus] url is configured")
        self.settings = settings
        self.prefix = settings.prefix
        self.partitions = settings.partitions
        self.redis = redis.Redis.from_url(settings.url, socket_timeout=30, socket_connect_timeout=10,
                                          health_check_interval=30)
        # batch ids: this producer's id and a sequence number (stable: a redelivery carries the same id)
        self.producer = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._seq = itertools.count(1)
        self._backlog: dict[int, tuple[float, int]] = {}
        self._groups_made: set[int] = set()
        self._lock = threading.Lock()
        self.dropped = 0  # events this producer dropped because the bus stayed full (also in the metrics)

    # -- keys ------------------------------------------------------------------------------------------

    def stream(self, partition: int) -> str:
        return f"{self.prefix}:events:{partition}"

    def lease_key(self, partition: int) -> str:
        return f"{self.prefix}:lease:{partition}"

    @property
    def members_key(self) -> str:
        return f"{self.prefix}:workers"

    @property
    def dropped_key(self) -> str:
        return f"{self.prefix}:dropped"

    @property
    def live_key(self) -> str:
        return f"{self.prefix}:live"

    def ping(self) -> str | None:
        """None when Redis answers, else why not (for /readyz)."""
        try:
            self.redis.ping()
            return None
        except redis.RedisError as exc:
            return f"Redis at {self.settings.url.split('@')[-1]}: {exc}"

    def ensure_group(self, partition: int) -> None:
        """The consumer group of a partition, created at the stream's start so nothing published before the
        first worker is missed."""
        if partition in self._groups_made:
            return
        try:
            self.redis.xgroup_create(self.stream(partition), GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups_made.add(partition)

    # -- producing -------------------------------------------------------------------------------------

    def publish(self, events: list[Event], quarantined: list[QuarantinedLine] | None = None, *,
                source: str, fmt: str) -> int:
        """Publish a parsed batch: its events split by partition, its quarantined lines with the partition of
        the source's name. Returns how many events were dropped because the bus stayed full."""
        dropped = 0
        for partition, _, chunk, _, q in self.split(events, quarantined or [], source):
            if not self._add(partition, chunk, q, source=source, fmt=fmt):
                dropped += len(chunk)
                self.dropped += len(chunk)
                self._count_drop(source, len(chunk) + len(q))
            else:
                metrics.BUS_PUBLISHED.labels(metrics.source_label(source)).inc(len(chunk))
        return dropped

    def split(self, events: list[Event], quarantined: list[QuarantinedLine], source: str,
              numbers: list[int | None] | None = None) -> list[tuple[int, int, list[Event], list[int | None],
                                                                      list[QuarantinedLine]]]:
        """A batch as bus entries: (partition, chunk index in it, events, their line numbers, quarantined lines)
        — events by the partition of their source address, at most ``batch_events`` per entry; the
        quarantined lines in the first entry of the partition of the source's name."""
        numbers = numbers if numbers is not None else [None] * len(events)
        parts: dict[int, list[int]] = {}
        for i, event in enumerate(events):
            parts.setdefault(partition_of(event.src_ip, self.partitions), []).append(i)
        home = partition_of(source, self.partitions)
        if quarantined:
            parts.setdefault(home, [])
        size = self.settings.batch_events
        entries = []
        for partition, indexes in sorted(parts.items()):
            chunks = [indexes[i:i + size] for i in range(0, len(indexes), size)] or [[]]
            for c, chunk in enumerate(chunks):
                q = quarantined if partition == home and c == 0 else []
                entries.append((partition, c, [events[i] for i in chunk], [numbers[i] for i in chunk], q))
        return entries

    def _add(self, partition: int, events: list[Event], quarantined: list[QuarantinedLine], *,
             source: str, fmt: str) -> bool:
        self.ensure_group(partition)
        if not self.wait_for_room(partition):
            return False
        fields = {"id": f"{self.producer}:{next(self._seq)}", "source": source[:500], "fmt": fmt,
                  "events": encode_events(events)}
        if quarantined:
            fields["quarantined"] = encode_quarantined(quarantined)
        self.redis.xadd(self.stream(partition), fields, maxlen=self.settings.history, approximate=True)
        with self._lock:
            seen, backlog = self._backlog.get(partition, (0.0, 0))
            self._backlog[partition] = (seen, backlog + 1)
        return True

    def _count_drop(self, source: str, lines: int) -> None:
        """In this process's metrics, and in ``P:dropped`` for ``netwarden status`` (every producer's)."""
        metrics.BUS_DROPPED.labels(metrics.source_label(source)).inc(lines)
        try:
            self.redis.hincrby(self.dropped_key, source[:200], lines)
        except redis.RedisError:
            pass  # the metrics have it

    def dropped_by_source(self) -> dict[str, int]:
        """Events and quarantined lines every producer dropped because the bus stayed full, by source."""
        return {k.decode(errors="replace"): int(v) for k, v in self.redis.hgetall(self.dropped_key).items()}

    def backlog(self, partition: int) -> int:
        """Entries of a partition not yet acknowledged (read but pending, and not yet read)."""
        try:
            groups = self.redis.xinfo_groups(self.stream(partition))
        except redis.ResponseError:  # no such stream yet: nothing was published to this partition
            return 0
        for group in groups:
            if group["name"] in (GROUP, GROUP.encode()):
                lag = group.get("lag")
                if lag is None:  # Redis cannot tell after deletions in the range: count what is unread
                    lag = self.redis.xlen(self.stream(partition))
                return int(lag) + int(group.get("pending", 0))
        return 0

    def wait_for_room(self, partition: int) -> bool:
        """True once the partition's backlog is under ``max_backlog``; False after ``max_wait`` seconds."""
        deadline = time.monotonic() + self.settings.max_wait
        waited_from = None
        while True:
            with self._lock:
                seen, backlog = self._backlog.get(partition, (0.0, 0))
            now = time.monotonic()
            if now - seen > BACKLOG_RECHECK:
                backlog = self.backlog(partition)
                with self._lock:
                    self._backlog[partition] = (now, backlog)
            if backlog < self.settings.max_backlog:
                if waited_from is not None:
                    metrics.BUS_WAIT.inc(now - waited_from)
                return True
            if waited_from is None:
                waited_from = now
            if now >= deadline:
                metrics.BUS_WAIT.inc(now - waited_from)
                return False
            time.sleep(min(0.05, max(0.0, deadline - now)))

    # -- leases and members ------------------------------------------------------------------------------

    def heartbeat(self, worker: str) -> list[str]:
        """Say ``worker`` is alive; returns the live workers, sorted (the same list for every worker)."""
        now = time.time()
        pipe = self.redis.pipeline()
        pipe.zadd(self.members_key, {worker: now})
        pipe.zremrangebyscore(self.members_key, "-inf", now - self.settings.lease_seconds)
        pipe.zrangebyscore(self.members_key, now - self.settings.lease_seconds, "+inf")
        members = pipe.execute()[-1]
        return sorted(m.decode() for m in members)

    def live_workers(self) -> list[str]:
        """The workers whose heartbeat is recent (without one of our own)."""
        since = time.time() - self.settings.lease_seconds
        return sorted(m.decode() for m in self.redis.zrangebyscore(self.members_key, since, "+inf"))

    def leave(self, worker: str) -> None:
        self.redis.zrem(self.members_key, worker)

    def acquire(self, partition: int, worker: str) -> bool:
        return self.hold(self.lease_key(partition), worker, self.settings.lease_seconds)

    def hold(self, key: str, holder: str, seconds: float) -> bool:
        """Take the lease ``key`` if it is free, or renew it if ``holder`` has it; False when another has it."""
        ms = int(seconds * 1000)
        if self.redis.set(key, holder, nx=True, px=ms):
            return True
        return bool(self.redis.eval(_RENEW, 1, key, holder, ms))

    def renew(self, partition: int, worker: str) -> bool:
        return bool(self.redis.eval(_RENEW, 1, self.lease_key(partition), worker,
                                    int(self.settings.lease_seconds * 1000)))

    def release(self, partition: int, worker: str) -> None:
        self.let_go(self.lease_key(partition), worker)

    def let_go(self, key: str, holder: str) -> None:
        self.redis.eval(_RELEASE, 1, key, holder)

    # -- the live feed -------------------------------------------------------------------------------------

    def publish_live(self, topic: str, data: Any) -> None:
        self.redis.xadd(self.live_key, {"topic": topic, "data": orjson.dumps(data, default=str)},
                        maxlen=LIVE_HISTORY, approximate=True)

    def follow_live(self, stop: threading.Event, block_ms: int = 1000) -> Iterator[tuple[str, Any]]:
        """(topic, data) as workers publish them, from now on, until ``stop`` is set."""
        last = "$"
        try:  # from the newest entry now: "$" at every call would miss what comes between two calls
            newest = self.redis.xrevrange(self.live_key, count=1)
            last = newest[0][0] if newest else "0-0"
        except redis.RedisError:
            pass
        while not stop.is_set():
            try:
                answer = self.redis.xread({self.live_key: last}, count=100, block=block_ms)
            except redis.RedisError:
                stop.wait(1.0)  # the bus is away for a moment: try again, the web app goes on
                continue
            for _, entries in answer or []:
                for entry_id, fields in entries:
                    last = entry_id
                    try:
                        yield fields[b"topic"].decode(), orjson.loads(fields[b"data"])
                    except (KeyError, ValueError):
                        continue

    # -- the metrics ---------------------------------------------------------------------------------------

    def gauges(self) -> Iterator[Any]:
        """Queue depth (entries kept) and backlog (not yet acknowledged) per partition, read at scrape time."""
        depth = metrics.GaugeMetricFamily("netwarden_bus_queue_depth", "Entries kept in each partition stream",
                                          labels=["partition"])
        lag = metrics.GaugeMetricFamily("netwarden_bus_backlog",
                                        "Batches not yet acknowledged in each partition (lag plus pending)",
                                        labels=["partition"])
        for p in range(self.partitions):
            depth.add_metric([str(p)], self.redis.xlen(self.stream(p)))
            lag.add_metric([str(p)], self.backlog(p))
        yield depth
        yield lag

    def close(self) -> None:
        self.redis.close()
