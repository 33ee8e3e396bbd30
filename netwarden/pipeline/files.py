"""Importing one file: a log read in batches, or a capture turned into flows; resumed where an earlier run
stopped, so the same content is never stored twice (``netwarden ingest``)."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collections.abc import Callable, Iterator, Sequence

from netwarden.collect.files import SNIFF_LINES, InputError, Line, LogFile, NullDigest, PlainLines
from netwarden.parse import Parser, UnknownFormat, get_parser, guess_format
from netwarden.pipeline.batch import IngestResult
from netwarden.store import sources as source_store
from netwarden.store.sources import Position
from netwarden.store.writer import StoreBatch, open_writer

if TYPE_CHECKING:
    from netwarden.pipeline.core import Pipeline, ProgressCallback

DECOMPRESSED_RATIO = 6  # a gzip file's content is about this many times its size (to choose the writer)
#: Under a flood of alerts a file import's detection batches grow. Every alert a batch changes is merged, linked to
#: its incident, decided on and written once per batch (and web attack makes a finding per source and rule per
#: batch), so a flood from thousands of addresses costs alerts times batches: 300,000 lines from ~1,750 attacking
#: addresses, 17.4 CPU-s in 20,000-line batches, 9.2 in 4 times larger ones, 7.7 in 8 times (BENCHMARKS.md, "Under
#: attack"). A batch that changed at least one alert per FLOOD_LINES_PER_CHANGE lines is a flood; the next batch then
#: holds FLOOD_GROWTH times as many lines, and the size falls back after a calmer one. The parsing process holds the
#: larger batch's events meanwhile (peak memory 323 -> 547 MB on that flood); the writer gets them in as many
#: transactions as usual, each larger. Ordinary logs never grow (SSH and access logs: no batch near the threshold).
FLOOD_LINES_PER_CHANGE = 20
FLOOD_GROWTH = 8
#: ... but a larger batch ends once it holds this much of the input (never before the usual size): memory follows
#: the batch's bytes, and a flood of long requests (2 KB each) would hold 160,000 of them. The flood above: 24 MB
FLOOD_MAX_BYTES = 32 << 20


def import_file(pipeline: Pipeline, path: Path, fmt: str, *, progress: ProgressCallback | None) -> IngestResult:
    started = time.perf_counter()
    with LogFile(path) as log:
        if fmt in ("auto", "pcap", "pcapng") and (capture := _capture_format(log)):
            from netwarden.pipeline.captures import import_capture

            return import_capture(pipeline, log, capture, started, progress)
        parser_cls = _choose_parser(log, fmt, pipeline.max_line_bytes)
        result = IngestResult(source=str(path), format=parser_cls.name)
        first = log.first_line()
        if not first:
            result.seconds = time.perf_counter() - started
            return result
        first_sha = hashlib.sha256(first).hexdigest()
        source_id, offset, line_no, digest, stored_lines = resume_point(pipeline, log, first_sha)
        if source_id is None:
            with pipeline.db.engine.begin() as conn:
                source_id = source_store.create(conn, kind="file", name=str(path), fmt=parser_cls.name,
                                                first_line_sha=first_sha, prefix_sha=digest.hexdigest())
        result.resumed_at_line = line_no
        mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        parser = pipeline.parser(parser_cls.name, source=str(path), reference_time=mtime)
        end = offset
        any_line = False
        with open_writer(pipeline.db, expected_bytes(log), file_import=True, in_parts=True) as writer:
            part = _part_size(pipeline.batch_size, 1 if pipeline.publishes else
                              getattr(writer, "transactions_per_batch", 1))
            # the writer stores a batch while detection looks at it (else the last batch's writing would follow
            # all the rest: a second under a flood of alerts, BENCHMARKS.md "Under attack")
            ahead = pipeline.stages.detects and not pipeline.publishes and getattr(writer, "stores_ahead", False)
            chunks = log.chunks(start_offset=offset, start_line=line_no, digest=digest,
                                max_line_bytes=pipeline.max_line_bytes, size=part)
            sizes = DetectionBatches(pipeline)
            for group in _batches(chunks, digest, pipeline.batch_size, part, sizes.growth):
                any_line = True
                batches = [(pipeline.parse_batch(parser, chunk, result), position) for chunk, position in group]
                stored_through = stored_lines if stored_lines > line_no else 0  # by an interrupted run
                if stored_through:  # read again for detection only: not counted as stored by this run
                    for batch, _ in batches:
                        result.uncount(batch.split_at_line(stored_through)[0])
                end, line_no = group[-1][1].offset, group[-1][1].lines
                if pipeline.publishes:  # (its workers detect and store: only what is not stored yet is theirs)
                    for batch, position in batches:
                        pipeline.store_batch(batch.split_at_line(stored_through)[1], writer, source=str(path),
                                             fmt=parser_cls.name, source_id=source_id, position=position)
                else:
                    pipeline.store_parts(batches, writer, source=str(path), fmt=parser_cls.name, source_id=source_id,
                                         ahead=ahead, stored_through=stored_through)
                sizes.detected(sum(len(chunk) for chunk, _ in group))
                if progress:
                    progress(log.position, log.size)
            writer.submit(StoreBatch(source_id=source_id, source=str(path), position=Position(
                end, digest.hexdigest(), line_no, complete=True, keep_name=not any_line)))
        result.already_done = not any_line and result.resumed_at_line > 0
    result.seconds = time.perf_counter() - started
    return result


def _part_size(size: int, parts: int) -> int:
    """Lines per part: ``size`` split into at most ``parts`` equal parts (fewer if it does not divide)."""
    parts = next(p for p in range(max(1, min(parts, size)), 0, -1) if size % p == 0)
    return size // parts


class DetectionBatches:
    """How much larger than usual the next detection batch of a file import is: 1, or FLOOD_GROWTH after a batch
    that changed an alert for every FLOOD_LINES_PER_CHANGE lines or fewer (a flood). Always 1 without detection,
    or on a bus (its workers detect)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._engine = None if pipeline.publishes else pipeline.engine
        self.factor = 1
        self._changed = self._changes()

    def growth(self) -> int:
        return self.factor

    def detected(self, lines: int) -> None:
        """A batch of ``lines`` went through detection: the next one's factor."""
        if self._engine is None:
            return
        changed, before = self._changes(), self._changed
        self._changed = changed
        self.factor = FLOOD_GROWTH if (changed - before) * FLOOD_LINES_PER_CHANGE >= lines else 1

    def _changes(self) -> int:
        if self._engine is None:
            return 0
        return self._engine.stats.alerts_new + self._engine.stats.alerts_updated


def _batches(chunks: Iterator[Sequence[Line]], digest: Any, size: int, part: int,
             growth: Callable[[], int] = lambda: 1) -> Iterator[list[tuple[Sequence[Line], Position]]]:
    """The chunks of ``part`` lines in groups of ``size`` lines, each group a list of parts with the position each
    takes the input to (the digest read as its last chunk comes out, before the next one is read). While
    ``growth()`` (asked as each chunk comes out, so after the previous group went through detection) is more than
    1, groups and their parts are that many times larger (a larger group ends once it holds FLOOD_MAX_BYTES of the
    input): the writer still gets a group in as many transactions. A group ends where the chunks of ``size`` lines
    ended (a shorter chunk: before a line of max_line_bytes or more that ended past a read block, or at the end):
    detection sees the same batches as before (but where such a line starts a part exactly)."""
    group: list[tuple[Sequence[Line], Position]] = []
    lines = 0
    joined: Sequence[Line] = []  # chunks that make one part of a larger group
    position = None
    begun = None  # where the group's first line starts in the input
    for chunk in chunks:
        factor = growth()
        position = Position(chunk[-1].end, digest.hexdigest(), chunk[-1].number)
        if begun is None:
            begun = chunk[0].end - chunk[0].length
        lines += len(chunk)
        joined = _joined(joined, chunk) if joined else chunk
        ends = lines >= size * factor or len(chunk) < part \
            or (factor > 1 and lines >= size and position.offset - begun >= FLOOD_MAX_BYTES)
        if ends or len(joined) >= part * factor:
            group.append((joined, position))
            joined = []
        if ends:
            yield group
            group, lines, begun = [], 0, None
    if joined:  # the input ended with a whole chunk inside a larger part
        group.append((joined, position))
    if group:
        yield group


def _joined(first: Sequence[Line], then: Sequence[Line]) -> Sequence[Line]:
    if isinstance(first, PlainLines) and isinstance(then, PlainLines):
        return first.joined(then)
    return [*first, *then]


def expected_bytes(log: LogFile) -> int:
    return log.size * (DECOMPRESSED_RATIO if log.compressed else 1)


def resume_point(pipeline: Pipeline, log: LogFile, first_sha: str) -> tuple[int | None, int, int, Any, int]:
    """Where to start: after what an earlier run already stored and detected from this same content
    (source id or None, offset, lines, the digest of what is skipped, and the lines whose events it stored)."""
    with pipeline.db.engine.connect() as conn:
        earlier = source_store.candidates(conn, first_sha)
    for row in earlier:
        log.rewind()
        got, digest = log.hash_prefix(row["offset"])
        if got == row["offset"] and digest.hexdigest() == row["prefix_sha"]:
            return row["id"], row["offset"], row["lines"], digest, row["stored_lines"] or 0
    log.rewind()
    return None, 0, 0, hashlib.sha256(), 0


def _choose_parser(log: LogFile, fmt: str, max_line_bytes: int) -> type[Parser]:
    if fmt and fmt != "auto":
        return get_parser(fmt)
    first = next(log.chunks(start_offset=0, start_line=0, digest=NullDigest(), max_line_bytes=max_line_bytes,
                            size=SNIFF_LINES), [])
    sample = [line.text for line in first]
    log.rewind()
    try:
        return guess_format(sample)
    except UnknownFormat as exc:
        raise UnknownFormat(f"{log.path}: {exc}") from None


def _capture_format(log: LogFile) -> str | None:
    """"pcap" or "pcapng" when the (decompressed) content starts like a capture."""
    from netwarden.collect.pcap import capture_format

    try:
        head = log.stream.read(4)
        log.rewind()
    except (OSError, EOFError) as exc:
        raise InputError(f"{log.path}: unreadable data: {exc}") from None
    return capture_format(head)
