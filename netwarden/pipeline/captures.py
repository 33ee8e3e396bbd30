"""Importing a pcap/pcapng file: packets → flow events, with the same bookkeeping as a log (``lines`` counts
packets, ``offset`` the bytes of whole records read), so the same capture is never stored twice."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from netwarden.collect.files import LogFile
from netwarden.collect.pcap import CaptureImport
from netwarden.pipeline.batch import Batch, IngestResult
from netwarden.pipeline.files import expected_bytes, resume_point
from netwarden.store import sources as source_store
from netwarden.store.sources import Position
from netwarden.store.writer import StoreBatch, open_writer

if TYPE_CHECKING:
    from netwarden.pipeline.core import Pipeline, ProgressCallback


def import_capture(pipeline: Pipeline, log: LogFile, capture: str, started: float,
                   progress: ProgressCallback | None) -> IngestResult:
    source = str(log.path)
    result = IngestResult(source=source, format=capture, unit="packets")
    first_sha = hashlib.sha256(log.stream.read(4096)).hexdigest()
    log.rewind()
    source_id, offset, packets_before, earlier, _ = resume_point(pipeline, log, first_sha)  # (never ahead)
    earlier_sha = earlier.hexdigest()  # of the first ``offset`` bytes: what the bookkeeping says until passed
    if source_id is None:
        with pipeline.db.engine.begin() as conn:
            source_id = source_store.create(conn, kind="pcap", name=source, fmt=capture,
                                            first_line_sha=first_sha, prefix_sha=hashlib.sha256().hexdigest())
    result.resumed_at_line = packets_before
    log.rewind()
    digest = hashlib.sha256()  # of the whole records read, from the start (headers included)
    imp = CaptureImport(log.stream, digest=digest, skip_until=offset, batch_size=pipeline.batch_size)
    end = offset
    with open_writer(pipeline.db, expected_bytes(log), file_import=True) as writer:
        for events, consumed in imp.batches():
            result.events += len(events)
            end = max(end, consumed)
            pipeline.store_batch(Batch.of_events(events), writer, source=source, fmt=capture, source_id=source_id,
                                 position=Position(end, digest.hexdigest() if consumed >= offset else earlier_sha,
                                                   imp.stats.packets))
            if progress:
                progress(log.position, log.size)
        writer.submit(StoreBatch(source_id=source_id, source=source, position=Position(
            end, digest.hexdigest() if end == imp.parser.consumed else earlier_sha, imp.stats.packets,
            complete=True, keep_name=imp.stats.packets == imp.stats.resumed)))
    stats = imp.stats
    result.lines = stats.packets - stats.resumed
    result.skipped = sum(stats.skipped.values()) + stats.non_ip
    result.capture = stats.as_dict() | {"flows": imp.table.records, "evicted": imp.table.evicted,
                                        "http_requests": imp.table.http_requests}
    result.already_done = result.lines == 0 and offset > 0 and not stats.stopped
    result.seconds = time.perf_counter() - started
    return result
