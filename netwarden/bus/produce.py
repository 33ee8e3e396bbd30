"""Producing onto the bus: lines parsed with the pipeline's public batch API, then published by partition.

``netwarden publish`` uses :func:`publish_file`; tests and benchmarks too. The collectors of ``serve`` and
``listen``, ``capture``, ``ingest``, ``follow`` and the HTTP intake publish through :class:`BusPipeline`, a
pipeline whose ``store_batch``, ``store_lines`` and ``ingest_lines`` publish instead of storing (a file's lines
exactly once, :mod:`.inputs`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwarden.bus.inputs import publish_input
from netwarden.bus.redis_bus import RedisBus
from netwarden.collect.files import Line, LogFile
from netwarden.pipeline import Batch, IngestResult, Pipeline, numbered_lines
from netwarden.pipeline.stages import Stages, stamp_arrival
from netwarden.store import sources as source_store
from netwarden.store.sources import Position


@dataclass
class Published(IngestResult):
    """What was parsed and published; ``dropped``: events the bus refused (it stayed full for ``max_wait``)."""

    dropped: int = 0


class BusPipeline(Pipeline):
    """Parses like any pipeline; ``store_batch`` stamps arrival times and publishes to the bus (the workers
    detect and store), and so does ``ingest_lines`` (the HTTP intake). Anything it could not publish (the bus
    stayed full) is counted in ``dropped``."""

    publishes = True

    def __init__(self, db: Any, bus: RedisBus, **options: Any) -> None:
        super().__init__(db, stages=Stages(), **options)
        self.bus = bus
        self.dropped = 0
        self._lock = threading.Lock()  # the listeners' streams and the intake's requests publish at once

    def store_batch(self, batch: Batch, writer: Any, *, source: str, fmt: str,
                    source_id: int | None = None, position: Position | None = None) -> None:
        if source_id is not None and position is not None:  # a file's (ingest): exactly once, then its position
            published = publish_input(self.bus, batch, source=source, fmt=fmt, source_id=source_id,
                                      last_line=position.lines, patient=True)
            self._advance(source_id, position, source, published)
            return
        stamp_arrival(batch.events)
        self._count(self.bus.publish(batch.events, batch.quarantined, source=source, fmt=fmt))

    def store_lines(self, parser: Any, lines: Sequence[Line], *, source: str, fmt: str,
                    source_id: int, position: Position, stored_through: int = 0) -> IngestResult:
        """A followed file's lines: published exactly once, then its position advanced (``netwarden follow``).
        Raises BusFull (the follower tries again from its position) or SourceConflict. ``stored_through``: those
        lines are stored already (by an interrupted import): not published (the workers would store them again)."""
        counts = IngestResult(source=source, format=fmt)
        stored, batch = self.parse_batch(parser, lines, counts).split_at_line(stored_through)
        counts.uncount(stored)
        published = publish_input(self.bus, batch, source=source, fmt=fmt, source_id=source_id,
                                  last_line=position.lines, patient=False)
        self._advance(source_id, position, source, published)
        return counts

    def _advance(self, source_id: int, position: Position, source: str, published: tuple[int, int]) -> None:
        """The input's position, once the bus holds its lines (with what this run published of them)."""
        with self.db.engine.begin() as conn:
            source_store.advance(conn, source_id, position, name=source, events=published[0],
                                 quarantined=published[1])

    def ingest_lines(self, lines: Iterable[str], fmt: str, *, source: str = "-",
                     observer: str | None = None) -> Published:
        """Parse and publish (nothing is stored here: a worker stores); the counts, with what was dropped."""
        published = publish_lines(self, self.bus, lines, fmt, source=source, observer=observer)
        self._count(published.dropped)
        return published

    def _count(self, dropped: int) -> None:
        if dropped:
            with self._lock:
                self.dropped += dropped

    def close(self) -> None:
        self.bus.close()


def open_bus_pipeline(db: Any, settings: Any, **options: Any) -> BusPipeline:
    """The pipeline a live source (``listen``, ``capture``) feeds with a ``[bus]``: it parses here and
    publishes. Raises BusError when the bus cannot be reached."""
    from netwarden.bus.redis_bus import BusError

    bus = RedisBus(settings.bus)
    problem = bus.ping()
    if problem:
        bus.close()
        raise BusError(problem)
    options = {"max_line_bytes": settings.ingest.max_line_bytes, "local_tz": settings.local_tz(), **options}
    return BusPipeline(db, bus, **options)


def publish_lines(pipeline: Pipeline, bus: RedisBus, lines: Iterable[str], fmt: str, *, source: str,
                  observer: str | None = None, batch_size: int = 2000) -> Published:
    """Parse ``lines`` in batches and publish them; the counts of what was read, and of what was dropped."""
    parser = pipeline.parser(fmt, source=source, observer=observer)
    counts = Published(source=source, format=parser.name)
    chunk: list[Line] = []
    for line in numbered_lines(lines):
        chunk.append(line)
        if len(chunk) >= batch_size:
            _publish(pipeline, bus, parser, chunk, counts, source)
            chunk = []
    if chunk:
        _publish(pipeline, bus, parser, chunk, counts, source)
    return counts


def publish_file(pipeline: Pipeline, bus: RedisBus, path: str | Path, fmt: str, *,
                 batch_size: int = 2000) -> Published:
    """A whole log file (plain or gzip), parsed here and published; the format must be named."""
    with LogFile(Path(path)) as log:
        texts = (line.text for chunk in log.chunks(start_offset=0, start_line=0, digest=_NoDigest(),
                                                   max_line_bytes=pipeline.max_line_bytes, size=batch_size)
                 for line in chunk)
        return publish_lines(pipeline, bus, texts, fmt, source=str(path), batch_size=batch_size)


def _publish(pipeline: Pipeline, bus: RedisBus, parser: Any, chunk: list[Line], counts: Published,
             source: str) -> None:
    batch = pipeline.parse_batch(parser, chunk, counts)
    stamp_arrival(batch.events)
    counts.dropped += bus.publish(batch.events, batch.quarantined, source=source, fmt=parser.name)


class _NoDigest:
    def update(self, data: bytes) -> None:
        pass
