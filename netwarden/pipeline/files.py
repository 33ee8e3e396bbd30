"""Importing one file: a log read in batches, or a capture turned into flows; resumed where an earlier run
stopped, so the same content is never stored twice (``netwarden ingest``)."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collections.abc import Iterator

from netwarden.collect.files import SNIFF_LINES, InputError, Line, LogFile, NullDigest
from netwarden.parse import Parser, UnknownFormat, get_parser, guess_format
from netwarden.pipeline.batch import IngestResult
from netwarden.store import sources as source_store
from netwarden.store.sources import Position
from netwarden.store.writer import StoreBatch, open_writer

if TYPE_CHECKING:
    from netwarden.pipeline.core import Pipeline, ProgressCallback

DECOMPRESSED_RATIO = 6  # a gzip file's content is about this many times its size (to choose the writer)


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
        source_id, offset, line_no, digest = resume_point(pipeline, log, first_sha)
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
            chunks = log.chunks(start_offset=offset, start_line=line_no, digest=digest,
                                max_line_bytes=pipeline.max_line_bytes, size=part)
            for group in _batches(chunks, digest, pipeline.batch_size, part):
                any_line = True
                batches = [(pipeline.parse_batch(parser, chunk, result), position) for chunk, position in group]
                end, line_no = group[-1][1].offset, group[-1][1].lines
                if len(batches) == 1:
                    pipeline.store_batch(batches[0][0], writer, source=str(path), fmt=parser_cls.name,
                                         source_id=source_id, position=batches[0][1])
                else:
                    pipeline.store_parts(batches, writer, source=str(path), fmt=parser_cls.name, source_id=source_id)
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


def _batches(chunks: Iterator[list[Line]], digest: Any, size: int,
             part: int) -> Iterator[list[tuple[list[Line], Position]]]:
    """The chunks of ``part`` lines in groups of ``size`` lines, each chunk with the position it takes the input to
    (its digest read as it comes out, before the next one is read). A group ends where the chunks of ``size``
    lines ended (a shorter chunk: before a line of max_line_bytes or more that ended past a read block, or at the
    end): detection sees the same batches as before (but where such a line starts a part exactly)."""
    group: list[tuple[list[Line], Position]] = []
    lines = 0
    for chunk in chunks:
        group.append((chunk, Position(chunk[-1].end, digest.hexdigest(), chunk[-1].number)))
        lines += len(chunk)
        if lines >= size or len(chunk) < part:
            yield group
            group, lines = [], 0
    if group:
        yield group


def expected_bytes(log: LogFile) -> int:
    return log.size * (DECOMPRESSED_RATIO if log.compressed else 1)


def resume_point(pipeline: Pipeline, log: LogFile, first_sha: str) -> tuple[int | None, int, int, Any]:
    """Where to start: after what an earlier run already stored from this same content
    (source id or None, offset, lines, the digest of what is skipped)."""
    with pipeline.db.engine.connect() as conn:
        earlier = source_store.candidates(conn, first_sha)
    for row in earlier:
        log.rewind()
        got, digest = log.hash_prefix(row["offset"])
        if got == row["offset"] and digest.hexdigest() == row["prefix_sha"]:
            return row["id"], row["offset"], row["lines"], digest
    log.rewind()
    return None, 0, 0, hashlib.sha256()


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
