"""The pipeline: collect → parse → (enrich → detect → respond) → store, in batches.

The CLI, the tests and the benchmarks all build it the same way. Later stages plug in as
``stages``: callables that receive each batch of parsed events before it is stored.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import BinaryIO

from netwarden.collect.files import InputError, Line, LogFile
from netwarden.parse import ParseContext, ParseError, Parser, UnknownFormat, get_parser, guess_format
from netwarden.records import Event
from netwarden.store import events as event_store
from netwarden.store import quarantine as quarantine_store
from netwarden.store import sources as source_store
from netwarden.store.database import Database
from netwarden.store.writer import ProcessWriter, StoreBatch, ThreadWriter, open_writer

Stage = Callable[[list[Event]], None]
ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total) on disk
SNIFF_LINES = 30
# Network logs come from no earlier than the Unix epoch; relative captures start at 1970-01-01
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


@dataclass
class IngestResult:
    """What one input gave: the summary ``netwarden ingest`` prints."""

    source: str
    format: str
    lines: int = 0
    events: int = 0
    skipped: int = 0  # headers, comments, blank lines
    quarantined: Counter = field(default_factory=Counter)
    bad_utf8: int = 0  # lines kept with invalid bytes escaped
    resumed_at_line: int = 0  # lines already ingested earlier and not read again
    already_done: bool = False
    seconds: float = 0.0
    unit: str = "lines"  # "packets" for a capture
    capture: dict | None = None  # a capture's counts (CaptureStats.as_dict, flows, evictions)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Batch:
    events: list[Event] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    quarantined: list[quarantine_store.QuarantinedLine] = field(default_factory=list)


#: lines per batch and per transaction when importing a file. Fewer, larger transactions write each touched
#: index page to the journal fewer times: measured A/B on the 1M-line access log into SQLite, 5,000 -> 20,000
#: took ingest from 53-55k to 61-66k events/s, with less CPU per event in both processes
BATCH_SIZE = 20_000


class Pipeline:
    """Assembles parsing, the processing stages and the store.

    >>> pipeline = Pipeline(Database.open("sqlite:///:memory:"))  # doctest: +SKIP
    >>> pipeline.ingest_file("access.log").events                  # doctest: +SKIP
    """

    def __init__(self, db: Database, *, stages: Sequence[Stage] = (), batch_size: int = BATCH_SIZE,
                 max_line_bytes: int = 65536, local_tz: tzinfo = timezone.utc) -> None:
        self.db = db
        self.stages = list(stages)
        self.batch_size = batch_size
        self.max_line_bytes = max_line_bytes
        self.local_tz = local_tz
        self._writer = event_store.EventWriter(db.engine.dialect)
        self.engine = None  # the detection engine, when built by from_settings
        self.response = None  # blocking and notifications (netwarden.respond.attach), idem

    @classmethod
    def from_settings(cls, db: Database, settings, *, detect: bool = True, **overrides) -> Pipeline:  # type: ignore[no-untyped-def]
        """The pipeline as configured: parsing, detection (unless ``detect=False``) and the store.

        Raises netwarden.detect.base.SettingsError for a wrong ``[detect.*]`` setting.
        """
        from netwarden.detect.engine import DetectionEngine
        from netwarden.enrich.assets import Assets

        options = {"batch_size": settings.ingest.batch_size, "max_line_bytes": settings.ingest.max_line_bytes,
                   "local_tz": settings.local_tz()}
        options.update(overrides)
        engine = DetectionEngine.from_config(detect_config(settings), db, assets=Assets(settings.network.home)) \
            if detect else None
        if engine is not None:
            from netwarden.respond.settings import parse_duration

            engine.settings.history_after = parse_duration(settings.respond.history_after)
        for detector in engine.detectors if engine is not None else []:
            bind = getattr(detector, "bind", None)
            if bind is not None:  # detectors that read the store (ml: the registry's active models)
                bind(db, settings)
        response = None
        if engine is not None:  # blocking and notifications listen to the engine (netwarden.respond)
            from netwarden.respond.attach import attach

            response = attach(engine, db, settings)
        pipeline = cls(db, stages=[response.stage] if response is not None else [], **options)
        pipeline.engine = engine
        pipeline.response = response
        return pipeline

    def close(self) -> None:
        """Save what must survive a restart (detector state); finish firewall changes and notifications."""
        if self.engine is not None:
            self.engine.close()
        if self.response is not None:
            self.response.close()

    def ingest_file(self, path: str | Path, fmt: str = "auto", *,
                    progress: ProgressCallback | None = None) -> IngestResult:
        """Read one file into the store. Raises InputError or UnknownFormat for an unusable input."""
        with relaxed_gc():
            return self._ingest_file(path, fmt, progress=progress)

    def _ingest_file(self, path: str | Path, fmt: str, *, progress: ProgressCallback | None) -> IngestResult:
        started = time.perf_counter()
        path = Path(path)
        with LogFile(path) as log:
            if fmt in ("auto", "pcap", "pcapng") and (capture := _capture_format(log)):
                return self._ingest_capture(log, capture, started, progress)
            parser_cls = self._choose_parser(log, fmt)
            result = IngestResult(source=str(path), format=parser_cls.name)
            first = log.first_line()
            if not first:
                result.seconds = time.perf_counter() - started
                return result
            first_sha = _sha256(first)
            source_id, offset, line_no, digest = self._resume_point(log, first_sha)
            if source_id is None:
                with self.db.engine.begin() as conn:
                    source_id = source_store.create(conn, kind="file", name=str(path), fmt=parser_cls.name,
                                                    first_line_sha=first_sha, prefix_sha=digest.hexdigest())
            result.resumed_at_line = line_no
            mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            parser = parser_cls(ParseContext(source=str(path), reference_time=mtime, local_tz=self.local_tz))
            chunks = log.chunks(start_offset=offset, start_line=line_no, digest=digest,
                                max_line_bytes=self.max_line_bytes, size=self.batch_size)
            end = offset
            any_line = False
            expected = log.size * (6 if log.compressed else 1)
            with open_writer(self.db, expected, file_import=True) as writer:
                for chunk in chunks:
                    any_line = True
                    batch = self._parse(parser, chunk, result)
                    end = chunk[-1].end
                    line_no = chunk[-1].number
                    self._store(writer, batch, source=str(path), fmt=parser_cls.name, source_id=source_id,
                                offset=end, prefix_sha=digest.hexdigest(), lines=line_no, complete=False)
                    if progress:
                        progress(log.position, log.size)
                writer.submit(StoreBatch(source_id=source_id, source=str(path), bookkeeping={
                    "offset": end, "prefix_sha": digest.hexdigest(), "lines": line_no, "complete": True,
                    "keep_name": not any_line}))
            result.already_done = not any_line and result.resumed_at_line > 0
        result.seconds = time.perf_counter() - started
        return result

    def _ingest_capture(self, log: LogFile, capture: str, started: float,
                        progress: ProgressCallback | None) -> IngestResult:
        """A pcap/pcapng file: packets → flow events, with the same bookkeeping as a log (``lines`` counts
        packets, ``offset`` the bytes of whole records read), so the same capture is never stored twice."""
        from netwarden.collect.pcap import CaptureImport

        source = str(log.path)
        result = IngestResult(source=source, format=capture, unit="packets")
        first_sha = _sha256(log.stream.read(4096))
        log.rewind()
        source_id, offset, packets_before, earlier = self._resume_point(log, first_sha)
        earlier_sha = earlier.hexdigest()  # of the first ``offset`` bytes: what the bookkeeping says until passed
        if source_id is None:
            with self.db.engine.begin() as conn:
                source_id = source_store.create(conn, kind="pcap", name=source, fmt=capture,
                                                first_line_sha=first_sha, prefix_sha=hashlib.sha256().hexdigest())
        result.resumed_at_line = packets_before
        log.rewind()
        digest = hashlib.sha256()  # of the whole records read, from the start (headers included)
        imp = CaptureImport(log.stream, digest=digest, skip_until=offset, batch_size=self.batch_size)
        end = offset
        with open_writer(self.db, log.size * (6 if log.compressed else 1), file_import=True) as writer:
            for events, consumed in imp.batches():
                batch = Batch(events, [None] * len(events))  # type: ignore[list-item]
                result.events += len(events)
                end = max(end, consumed)
                self._store(writer, batch, source=source, fmt=capture, source_id=source_id, offset=end,
                            prefix_sha=digest.hexdigest() if consumed >= offset else earlier_sha,
                            lines=imp.stats.packets, complete=False)
                if progress:
                    progress(log.position, log.size)
            writer.submit(StoreBatch(source_id=source_id, source=source, bookkeeping={
                "offset": end, "prefix_sha": digest.hexdigest() if end == imp.parser.consumed else earlier_sha,
                "lines": imp.stats.packets, "complete": True, "keep_name": imp.stats.packets == imp.stats.resumed}))
        stats = imp.stats
        result.lines = stats.packets - stats.resumed
        result.skipped = sum(stats.skipped.values()) + stats.non_ip
        result.capture = stats.as_dict() | {"flows": imp.table.records, "evicted": imp.table.evicted,
                                            "http_requests": imp.table.http_requests}
        result.already_done = result.lines == 0 and offset > 0 and not stats.stopped
        result.seconds = time.perf_counter() - started
        return result

    def ingest_lines(self, lines: Iterable[str], fmt: str, *, source: str = "-",
                     observer: str | None = None) -> IngestResult:
        """Parse and store lines that did not come from a file (tests, the HTTP intake)."""
        numbered = (Line(n, text.rstrip("\r\n"), 0, len(text)) for n, text in enumerate(lines, start=1))
        return self._ingest_numbered(numbered, fmt, source=source, observer=observer)

    def ingest_stream(self, stream: BinaryIO, fmt: str, *, source: str = "stdin") -> IngestResult:
        """Parse and store the lines of a byte stream (standard input) as files are read: invalid UTF-8 kept
        escaped, a line of ``max_line_bytes`` or more quarantined as ``line_too_long``."""
        log = LogFile.from_stream(stream, source)
        chunks = log.chunks(start_offset=0, start_line=0, digest=_NullDigest(), max_line_bytes=self.max_line_bytes,
                            size=self.batch_size)
        return self._ingest_numbered((line for chunk in chunks for line in chunk), fmt, source=source)

    def _ingest_numbered(self, numbered: Iterable[Line], fmt: str, *, source: str,
                         observer: str | None = None) -> IngestResult:
        started = time.perf_counter()
        parser_cls = get_parser(fmt)
        parser = parser_cls(ParseContext(source=source, observer=observer, local_tz=self.local_tz))
        result = IngestResult(source=source, format=parser_cls.name)
        with ThreadWriter(self.db) as writer:
            for chunk in _chunks(numbered, self.batch_size):
                batch = self._parse(parser, chunk, result)
                self._store(writer, batch, source=source, fmt=parser_cls.name, source_id=None)
        result.seconds = time.perf_counter() - started
        return result

    # -- the steps --------------------------------------------------------------------------------

    def _choose_parser(self, log: LogFile, fmt: str) -> type[Parser]:
        if fmt and fmt != "auto":
            return get_parser(fmt)
        first = next(log.chunks(start_offset=0, start_line=0, digest=_NullDigest(),
                                max_line_bytes=self.max_line_bytes, size=SNIFF_LINES), [])
        sample = [line.text for line in first]
        log.rewind()
        try:
            return guess_format(sample)
        except UnknownFormat as exc:
            raise UnknownFormat(f"{log.path}: {exc}") from None

    def _resume_point(self, log: LogFile, first_sha: str):  # type: ignore[no-untyped-def]
        """Where to start: after what an earlier run already stored from this same content."""
        with self.db.engine.connect() as conn:
            earlier = source_store.candidates(conn, first_sha)
        for row in earlier:
            log.rewind()
            got, digest = log.hash_prefix(row["offset"])
            if got == row["offset"] and digest.hexdigest() == row["prefix_sha"]:
                return row["id"], row["offset"], row["lines"], digest
        log.rewind()
        return None, 0, 0, hashlib.sha256()

    def _parse(self, parser: Parser, chunk: list[Line], result: IngestResult) -> Batch:
        batch = Batch()
        parse_line = parser.parse_line
        keep_raw = parser.keep_raw
        for line in chunk:
            result.lines += 1
            if line.too_long:
                batch.quarantined.append(quarantine_store.QuarantinedLine(
                    line.number, line.text, "line_too_long",
                    f"{line.length} bytes, more than the limit of {self.max_line_bytes}", line.length))
                continue
            try:
                event = parse_line(line.text)
            except ParseError as exc:
                batch.quarantined.append(quarantine_store.QuarantinedLine(
                    line.number, line.text, exc.reason, exc.detail or exc.reason, line.length))
                continue
            except Exception as exc:  # a parser bug must cost one line, not the whole import
                batch.quarantined.append(quarantine_store.QuarantinedLine(
                    line.number, line.text, "parser_error", f"{type(exc).__name__}: {exc}"[:500], line.length))
                continue
            if event is None:
                result.skipped += 1
                continue
            ts = event.timestamp
            if ts is not None and not EARLIEST <= ts < LATEST:
                # a hostile "year 0001" must cost one line, not fail a whole batch on MariaDB (1000-9999)
                batch.quarantined.append(quarantine_store.QuarantinedLine(
                    line.number, line.text, "bad_timestamp",
                    f"time {ts.isoformat()} is outside {EARLIEST.year}-{LATEST.year - 1}", line.length))
                continue
            if line.bad_utf8:
                result.bad_utf8 += 1
                event.extra["invalid_utf8"] = True
            if not keep_raw:
                event.raw = None
            batch.events.append(event)
            batch.line_numbers.append(line.number)
        for q in batch.quarantined:
            result.quarantined[q.reason] += 1
        result.events += len(batch.events)
        return batch

    def _store(self, writer: ThreadWriter | ProcessWriter, batch: Batch, *, source: str, fmt: str,  # type: ignore[no-untyped-def]
               source_id: int | None, **bookkeeping) -> None:
        now = datetime.now(timezone.utc)
        for event in batch.events:
            if event.timestamp is None:  # flow CSVs carry no time: they are stamped on arrival
                event.timestamp = now
        for stage in self.stages:
            stage(batch.events)
        rows = self._writer.rows(batch.events, source_id, batch.line_numbers)
        q_rows = quarantine_store.quarantine_rows(batch.quarantined, source=source, fmt=fmt,
                                                  source_id=source_id, received=now)
        # rollups are counted by the writer (a separate process for large files: it has the spare time)
        writer.submit(StoreBatch(rows, None, q_rows, source_id, source,
                                 bookkeeping or None))


def detect_config(settings) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """The ``[detect.<name>]`` tables, with the ``[intel]`` feeds given to the intel detector unless
    ``[detect.intel]`` names its own."""
    from netwarden.enrich.feed_fetch import feed_paths

    config = {name: dict(values) for name, values in settings.detect.items()}
    intel = config.setdefault("intel", {})
    intel.setdefault("feeds", feed_paths(settings.intel))  # URL feeds: their downloaded copies
    for key in ("min_score", "flag_private", "reload_every"):
        intel.setdefault(key, getattr(settings.intel, key))
    return config


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Collect cycles less often while importing: events allocate many objects but form no cycles, and the
    default threshold spends about a seventh of the parsing time in collections that find nothing."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 100_000), before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _chunks(lines: Iterable[Line], size: int) -> Iterable[list[Line]]:
    chunk: list[Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _capture_format(log: LogFile) -> str | None:
    """"pcap" or "pcapng" when the (decompressed) content starts like a capture."""
    from netwarden.collect.pcap import capture_format

    try:
        head = log.stream.read(4)
        log.rewind()
    except (OSError, EOFError) as exc:
        raise InputError(f"{log.path}: unreadable data: {exc}") from None
    return capture_format(head)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _NullDigest:
    def update(self, data: bytes) -> None:
        pass


__all__ = ["Pipeline", "IngestResult", "InputError", "UnknownFormat"]
