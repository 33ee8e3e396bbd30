"""The pipeline's entry for live sources: syslog and NetFlow listeners, captures, the simulator.

A :class:`LiveStream` takes lines (to be parsed) or ready events, one at a time from any thread, and
cuts micro-batches — ``batch_size`` items or ``max_delay`` seconds, whichever comes first — that go
through the same public batch API as ``netwarden ingest`` (``parse_batch``, ``store_batch``). It is the
sink the collectors hand lines and records to (:mod:`netwarden.collect.sink`). It counts per device (the
observer: the exporter or router that sent the data) what was received, stored, quarantined and
dropped, so nothing is ever lost silently.

    stream = LiveStream(pipeline, fmt="syslog", source="syslog/udp:5514")
    stream.feed_line("<34>Oct 11 22:14:15 gw sshd[1]: Failed password for root from 203.0.113.5 port 22 ssh2",
                     observer="192.0.2.1")
    stream.close()
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from netwarden import metrics
from netwarden.collect.files import Line
from netwarden.parse import Parser, get_parser
from netwarden.pipeline.batch import Batch, IngestResult
from netwarden.pipeline.core import Pipeline
from netwarden.records import Event
from netwarden.store.writer import PROCESS_THRESHOLD, ThreadWriter, open_writer

MAX_PARSERS = 4096  # one parser per device keeps per-device state (year inference, headers); bounded


@dataclass
class DeviceCounters:
    received: int = 0
    events: int = 0
    quarantined: int = 0
    dropped: int = 0
    last_seen: float = 0.0


@dataclass
class StreamStats:
    devices: dict[str, DeviceCounters] = field(default_factory=dict)
    quarantined_by_reason: Counter = field(default_factory=Counter)
    batches: int = 0

    def total(self, name: str) -> int:
        return sum(getattr(d, name) for d in self.devices.values())


class LiveStream:
    def __init__(self, pipeline: Pipeline, *, fmt: str | None, source: str, batch_size: int = 500,
                 max_delay: float = 0.25, max_pending: int = 50_000, use_process: bool = True) -> None:
        self.pipeline = pipeline
        self.source = source
        self.format = fmt
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.max_pending = max_pending  # beyond this, items are dropped and counted, never buffered forever
        self.stats = StreamStats()
        metrics.track_stream(source, self.stats)  # received and dropped, read when Prometheus scrapes
        self._parser_cls: type[Parser] | None = get_parser(fmt) if fmt else None
        self._parsers: OrderedDict[str | None, Parser] = OrderedDict()
        self._lines: list[tuple[str | None, Line]] = []
        self._events: list[tuple[str | None, Event]] = []
        self._oldest = 0.0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        # a long-running stream gets the writer process (a second core for inserts) unless the database is
        # in memory; its half-second start is nothing for a listener
        self._writer = open_writer(pipeline.db, PROCESS_THRESHOLD) if use_process else ThreadWriter(pipeline.db)
        self._closed = threading.Event()
        self._timer = threading.Thread(target=self._tick, name=f"stream-{source}", daemon=True)
        self._line_no = 0
        self.last_error: Exception | None = None
        self._timer.start()

    # -- input, from any thread -------------------------------------------------------------------

    def feed_line(self, text: str, observer: str | None = None) -> bool:
        """One line to parse. Returns False if it was dropped because the stream is overloaded."""
        if self._parser_cls is None:
            raise ValueError("this stream takes events, not lines (no format was given)")
        return self._take(observer, text)

    def feed_event(self, event: Event, observer: str | None = None) -> bool:
        """One ready event (NetFlow record, capture flow). Returns False if dropped."""
        return self._take(observer, event)

    def _take(self, observer: str | None, item: str | Event) -> bool:
        """Count the line or event for its device and queue it (a line numbered in arrival order), or count it
        dropped when the stream is overloaded; flush when the batch is full."""
        with self._lock:
            device = self._device(observer)
            device.received += 1
            if len(self._lines) + len(self._events) >= self.max_pending:
                device.dropped += 1
                return False
            if isinstance(item, str):
                self._line_no += 1
                self._lines.append((observer, Line(self._line_no, item, 0, len(item))))
            else:
                self._events.append((observer, item))
            full = self._note_pending()
        if full:
            self.flush()
        return True

    def count_dropped(self, observer: str | None, n: int = 1) -> None:
        """For collectors that lose data before it reaches the stream (a full socket buffer, a bad frame)."""
        with self._lock:
            device = self._device(observer)
            device.received += n
            device.dropped += n

    @property
    def pending(self) -> int:
        """Items waiting for the next batch; a collector that can push back (TCP) pauses near max_pending."""
        return len(self._lines) + len(self._events)

    @property
    def room(self) -> int:
        """Items the stream takes before it starts dropping."""
        return self.max_pending - self.pending

    # -- batching ---------------------------------------------------------------------------------

    def flush(self) -> None:
        """Parse and store what is pending now."""
        with self._flush_lock:
            with self._lock:
                lines, self._lines = self._lines, []
                events, self._events = self._events, []
            if not lines and not events:
                return
            batch = Batch()
            result = IngestResult(source=self.source, format=self.format or "events")
            by_device: dict[str | None, list[Line]] = {}
            for observer, line in lines:
                by_device.setdefault(observer, []).append(line)
            for observer, device_lines in by_device.items():
                part = self.pipeline.parse_batch(self._parser(observer), device_lines, result)
                for event in part.events:
                    if event.observer is None and observer is not None:
                        event.observer = observer
                batch.extend(part)
                with self._lock:
                    device = self._device(observer)
                    device.events += len(part.events)
                    device.quarantined += len(part.quarantined)
            for observer, event in events:
                if event.observer is None:
                    event.observer = observer
                batch.events.append(event)
                batch.line_numbers.append(None)
            with self._lock:
                for observer, _ in events:
                    self._device(observer).events += 1
                self.stats.quarantined_by_reason.update(result.quarantined)
                self.stats.batches += 1
            self.pipeline.store_batch(batch, self._writer, source=self.source, fmt=self.format or "events")

    def close(self) -> None:
        """Store everything pending and stop; raises a storage error if one happened."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._timer.join()
        self.flush()
        self._writer.close()
        if self.last_error is not None:
            raise self.last_error

    def __enter__(self) -> LiveStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tick(self) -> None:
        while not self._closed.wait(self.max_delay / 2):
            with self._lock:
                due = (self._lines or self._events) and time.monotonic() - self._oldest >= self.max_delay
            if due:
                try:
                    self.flush()
                except Exception as exc:  # kept for close() and the collector's status; the timer goes on
                    self.last_error = exc

    def _note_pending(self) -> bool:
        pending = len(self._lines) + len(self._events)
        if pending == 1:
            self._oldest = time.monotonic()
        return pending >= self.batch_size

    def _device(self, observer: str | None) -> DeviceCounters:
        key = observer or "-"
        device = self.stats.devices.get(key)
        if device is None:
            device = self.stats.devices[key] = DeviceCounters()
        device.last_seen = time.time()
        return device

    def _parser(self, observer: str | None) -> Parser:
        parser = self._parsers.get(observer)
        if parser is None:
            assert self._parser_cls is not None
            parser = self.pipeline.parser(self._parser_cls.name, source=self.source, observer=observer,
                                          reference_time=datetime.now(timezone.utc))
            self._parsers[observer] = parser
            if len(self._parsers) > MAX_PARSERS:
                self._parsers.popitem(last=False)
        else:
            self._parsers.move_to_end(observer)
        return parser
