"""Prometheus metrics of this process: what was received, stored, quarantined and dropped per source, detector
time, alerts by kind, blocks, database write latency and (workers) the bus's queue depth and lag.

Counters that the hot paths already keep (a live stream's per-device counts, the engine's seconds per
detector) are read when Prometheus scrapes, so counting costs the parsing loop nothing; the rest are
incremented once per batch, alert or block. Everything goes to prometheus_client's default registry (one per
process, as Prometheus expects) and is served by ``serve`` (``/metrics``) and by ``netwarden worker``.

    from netwarden import metrics
    metrics.committed("syslog", events=480, quarantined=2, seconds=0.012)
    text = metrics.exposition()
"""

from __future__ import annotations

import threading
from collections import Counter as _Tally
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

#: distinct ``source`` label values kept; later ones are counted as "other" (a file path per import, or a name
#: an API client chose, must not grow the exposition without bound)
MAX_SOURCES = 200
MAX_STREAMS = 1000  # live streams remembered by reference; older ones are folded into fixed totals
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

STORED = Counter("netwarden_events_stored", "Events committed to the database", ["source"])
QUARANTINED = Counter("netwarden_events_quarantined", "Lines quarantined (committed with their reason)",
                      ["source"])
WRITE_SECONDS = Histogram("netwarden_db_write_seconds", "Time of one batch's database transaction",
                          buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
ALERTS = Counter("netwarden_alerts", "New alerts, by kind", ["kind"])
ALERT_UPDATES = Counter("netwarden_alert_updates", "Updates of open alerts by repeated findings, by kind", ["kind"])
BLOCKS = Counter("netwarden_blocks", "Block changes (blocked, unblocked, expired, failed)", ["what"])
BUS_PUBLISHED = Counter("netwarden_bus_published_events", "Events published to the bus, by source", ["source"])
BUS_DROPPED = Counter("netwarden_bus_dropped_events",
                      "Events dropped because the bus stayed full (back-pressure timed out), by source", ["source"])
BUS_WAIT = Counter("netwarden_bus_wait_seconds", "Time producers waited for room on the bus (back-pressure)")
BUS_REDELIVERED = Counter("netwarden_bus_redelivered_batches",
                          "Batches received again that were already stored (stored nothing twice)")
BUS_BATCHES = Counter("netwarden_bus_processed_batches", "Bus batches processed and acknowledged by this worker")
BUS_PARTITIONS = Gauge("netwarden_bus_owned_partitions", "Partitions this worker reads")

_lock = threading.RLock()
_sources: set[str] = set()
_streams: list[tuple[str, Any]] = []  # (source, StreamStats) of live streams, in creation order
_retired = {"received": _Tally(), "dropped": _Tally(), "detector": _Tally()}  # counts of streams no longer tracked by reference
_engines: list[Any] = []  # detection engines' EngineStats (seconds by detector)
_gauges: list[Callable[[], Iterator[Any]]] = []  # more metric families read at scrape time (the bus)
_ready: dict[str, Callable[[], str | None]] = {}  # name -> None when ready, else why not


def source_label(source: str | None) -> str:
    """``source`` as a label value, or "other" once MAX_SOURCES distinct ones were seen."""
    name = (source or "-")[:200]
    if name in _sources:
        return name
    with _lock:
        if len(_sources) < MAX_SOURCES:
            _sources.add(name)
            return name
    return "other"


def committed(source: str | None, *, events: int, quarantined: int, seconds: float) -> None:
    """One batch's transaction committed (the writers call this)."""
    label = source_label(source)
    if events:
        STORED.labels(label).inc(events)
    if quarantined:
        QUARANTINED.labels(label).inc(quarantined)
    WRITE_SECONDS.observe(seconds)


def alert_changed(kind: str, is_new: bool, n: int = 1) -> None:
    """``n`` alerts of ``kind`` raised (``is_new``) or updated (the engine counts a batch's at once)."""
    (ALERTS if is_new else ALERT_UPDATES).labels(kind[:60]).inc(n)


def block_changed(what: str) -> None:
    BLOCKS.labels(what[:20]).inc()


def track_stream(source: str, stats: Any) -> None:
    """A live stream's ``StreamStats``: its received and dropped counts are read at every scrape."""
    label = source_label(source)
    with _lock:
        _streams.append((label, stats))
        while len(_streams) > MAX_STREAMS:
            old_source, old = _streams.pop(0)
            _retired["received"][old_source] += old.total("received")
            _retired["dropped"][old_source] += old.total("dropped")


def track_engine(engine: Any) -> None:
    """A detection engine: its seconds per detector are read at every scrape (only its small stats object is
    kept, never the engine and its detectors' state)."""
    with _lock:
        _engines.append(engine.stats)
        while len(_engines) > MAX_STREAMS:
            for detector, spent in _engines.pop(0).by_detector.items():
                _retired["detector"][detector] += spent


def add_collector(collect: Callable[[], Iterator[Any]]) -> None:
    """More metric families, computed when Prometheus scrapes (the bus's depth and lag)."""
    with _lock:
        _gauges.append(collect)


def remove_collector(collect: Callable[[], Iterator[Any]]) -> None:
    with _lock:
        if collect in _gauges:
            _gauges.remove(collect)


def set_ready_check(name: str, check: Callable[[], str | None] | None) -> None:
    """``check()`` returns None when ``name`` is ready, else what is wrong; ``/readyz`` asks all of them."""
    with _lock:
        if check is None:
            _ready.pop(name, None)
        else:
            _ready[name] = check


def readiness() -> dict[str, str]:
    """What is not ready, by name (empty: ready)."""
    with _lock:
        checks = dict(_ready)
    problems = {}
    for name, check in checks.items():
        try:
            problem = check()
        except Exception as exc:  # a check that fails says "not ready", never breaks the endpoint
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            problems[name] = str(problem)[:300]
    return problems


def exposition() -> bytes:
    return generate_latest(REGISTRY)


class _ScrapeTime(Collector):
    """The counts read at scrape time: live streams, detectors, and the bus's gauges."""

    def collect(self) -> Iterator[Any]:
        with _lock:
            streams = list(_streams)
            engines = list(_engines)
            gauges = list(_gauges)
            retired = {k: _Tally(v) for k, v in _retired.items()}
        for name, doc in (("received", "Lines and records received by live collectors"),
                          ("dropped", "Lines and records dropped by live collectors (overload, bad frames)")):
            family = CounterMetricFamily(f"netwarden_events_{name}", doc, labels=["source"])
            totals = retired[name]
            for source, stats in streams:
                totals[source] += stats.total(name)
            for source, value in sorted(totals.items()):
                family.add_metric([source], value)
            yield family
        seconds = retired["detector"]
        for stats in engines:
            for detector, spent in list(stats.by_detector.items()):
                seconds[detector] += spent
        family = CounterMetricFamily("netwarden_detector_seconds", "CPU time spent in each detector",
                                     labels=["detector"])
        for detector, spent in sorted(seconds.items()):
            family.add_metric([detector], spent)
        yield family
        held: dict[tuple[str, str], int] = defaultdict(int)
        for stats in engines:
            for detector, counts in list(stats.state.items()):
                for kind, value in counts.items():
                    held[detector, kind] += value
        family = GaugeMetricFamily("netwarden_detector_state", "Keys held in each detector's bounded state "
                                   "(sources), and those let go: evicted (table full) and expired (idle)",
                                   labels=["detector", "kind"])
        for (detector, kind), value in sorted(held.items()):
            family.add_metric([detector, kind], value)
        yield family
        for collect in gauges:
            try:
                yield from collect()
            except Exception:  # the bus may be away: its gauges are left out of this scrape
                continue


_collector = _ScrapeTime()
REGISTRY.register(_collector)

__all__ = ["CONTENT_TYPE", "GaugeMetricFamily", "committed", "alert_changed", "block_changed", "track_stream",
           "track_engine", "add_collector", "remove_collector", "set_ready_check", "readiness", "exposition"]
