"""Producing onto the bus: lines parsed with the pipeline's public batch API, then published by partition.

``netwarden publish`` uses :func:`publish_file`; tests and benchmarks too. The collectors of ``serve`` and
``listen`` publish through :class:`BusPipeline`, a pipeline whose ``store_batch`` publishes instead of storing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from netwarden.bus.redis_bus import RedisBus
from netwarden.collect.files import LogFile
from netwarden.pipeline import Batch, IngestResult, Pipeline, numbered_lines
from netwarden.pipeline.stages import Stages, stamp_arrival


class BusPipeline(Pipeline):
    """Parses like any pipeline; ``store_batch`` stamps arrival times and publishes to the bus (the workers
    detect and store). Anything it could not publish (the bus stayed full) is counted in ``dropped``."""

    def __init__(self, db: Any, bus: RedisBus, **options: Any) -> None:
        super().__init__(db, stages=Stages(), **options)
        self.bus = bus
        self.dropped = 0

    def store_batch(self, batch: Batch, writer: Any, *, source: str, fmt: str,  # type: ignore[override]
                    source_id: int | None = None, position: Any = None) -> None:
        stamp_arrival(batch.events)
        self.dropped += self.bus.publish(batch.events, batch.quarantined, source=source, fmt=fmt)


def publish_lines(pipeline: Pipeline, bus: RedisBus, lines: Iterable[str], fmt: str, *, source: str,
                  batch_size: int = 2000) -> IngestResult:
    """Parse ``lines`` in batches and publish them; the counts of what was read."""
    parser = pipeline.parser(fmt, source=source)
    counts = IngestResult(source=source, format=parser.name)
    chunk = []
    for line in numbered_lines(lines):
        chunk.append(line)
        if len(chunk) >= batch_size:
            _publish(pipeline, bus, parser, chunk, counts, source)
            chunk = []
    if chunk:
        _publish(pipeline, bus, parser, chunk, counts, source)
    return counts


def publish_file(pipeline: Pipeline, bus: RedisBus, path: str | Path, fmt: str, *,
                 batch_size: int = 2000) -> IngestResult:
    """A whole log file (plain or gzip), parsed here and published; the format must be named."""
    with LogFile(Path(path)) as log:
        texts = (line.text for chunk in log.chunks(start_offset=0, start_line=0, digest=_NoDigest(),
                                                   max_line_bytes=pipeline.max_line_bytes, size=batch_size)
                 for line in chunk)
        return publish_lines(pipeline, bus, texts, fmt, source=str(path), batch_size=batch_size)


def _publish(pipeline: Pipeline, bus: RedisBus, parser: Any, chunk: list, counts: IngestResult,  # type: ignore[type-arg]
             source: str) -> None:
    batch = pipeline.parse_batch(parser, chunk, counts)
    stamp_arrival(batch.events)
    bus.publish(batch.events, batch.quarantined, source=source, fmt=parser.name)


class _NoDigest:
    def update(self, data: bytes) -> None:
        pass
