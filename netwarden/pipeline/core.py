"""The pipeline object: parsing, the stages (:mod:`~netwarden.pipeline.stages`) and the store, assembled once.

Its public batch API is what every source drives — file import, ``follow``, the syslog and NetFlow
listeners, live capture, the HTTP intake, the demo, and workers:

    counts = IngestResult(source="syslog", format="syslog")
    batch = pipeline.parse_batch(parser, lines, counts)      # lines → events + quarantined lines
    pipeline.store_batch(batch, writer, source="syslog", fmt="syslog")   # stages, then one transaction
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from netwarden.collect.files import Line, LogFile, NullDigest
from netwarden.parse import ParseContext, Parser, get_parser
from netwarden.pipeline.batch import Batch, IngestResult, chunked, numbered_lines, parse_lines, relaxed_gc
from netwarden.pipeline.stages import AlertFeed, AlertsListener, EvidenceFilter, Stage, Stages
from netwarden.store import events as event_store
from netwarden.store import quarantine as quarantine_store
from netwarden.store.database import Database
from netwarden.store.sources import Position
from netwarden.store.writer import BatchWriter, DirectWriter, StoreBatch, ThreadWriter

if TYPE_CHECKING:
    from netwarden.config import Settings
    from netwarden.detect.engine import DetectionEngine
    from netwarden.respond.attach import Response

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total) on disk

#: lines per batch and per transaction when importing a file. Fewer, larger transactions write each touched
#: index page to the journal fewer times: measured A/B on the 1M-line access log into SQLite, 5,000 -> 20,000
#: took ingest from 53-55k to 61-66k events/s, with less CPU per event in both processes
BATCH_SIZE = 20_000


class Pipeline:
    """Assembles parsing, the processing stages and the store.

    >>> pipeline = Pipeline(Database.open("sqlite:///:memory:"))  # doctest: +SKIP
    >>> pipeline.ingest_file("access.log").events                  # doctest: +SKIP

    ``stages``: a :class:`Stages`, or a list of callables run on each batch as its detection step.
    ``engine`` and ``response`` are set when :meth:`from_settings` built them.
    """

    publishes = False  # True for netwarden.bus's BusPipeline: its batches go to the bus, workers store them

    def __init__(self, db: Database, *, stages: Stages | Sequence[Stage] = (), batch_size: int = BATCH_SIZE,
                 max_line_bytes: int = 65536, local_tz: tzinfo = timezone.utc,
                 engine: DetectionEngine | None = None, response: Response | None = None) -> None:
        self.db = db
        self.stages = stages if isinstance(stages, Stages) else Stages(detect=stages)
        self.batch_size = batch_size
        self.max_line_bytes = max_line_bytes
        self.local_tz = local_tz
        self.engine = engine  # the detection engine, when built by from_settings
        self.response = response  # blocking and notifications (netwarden.respond.attach), idem
        self._rows = event_store.EventWriter(db.engine.dialect)
        self._direct = DirectWriter(db)  # for store_lines: stateless, one transaction per call

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, *, detect: bool = True,
                      observers: Sequence[Stage] = (), alert_listeners: Sequence[AlertsListener] = (),
                      sweep_gate: Callable[[], bool] | None = None, save_detector_state: bool = True,
                      **overrides: Any) -> Pipeline:
        """The pipeline as configured: parsing, detection (unless ``detect=False``) with response, the store.
        ``observers`` see every batch, ``alert_listeners`` every batch's alerts (the web app's live feed);
        ``sweep_gate``: with a [bus], whether this process expires blocks for all (netwarden.bus.leader);
        ``save_detector_state=False``: detector state is never saved (a bus worker rebuilds it from the bus).

        Raises netwarden.detect.base.SettingsError for a wrong ``[detect.*]`` setting.
        """
        options: dict[str, Any] = {"batch_size": settings.ingest.batch_size, "max_line_bytes": settings.ingest.max_line_bytes,
                   "local_tz": settings.local_tz()}
        options.update(overrides)
        if not detect:
            return cls(db, stages=Stages(observers=observers), **options)
        from netwarden.detect.engine import DetectionEngine, EngineSettings
        from netwarden.durations import parse_duration
        from netwarden.enrich.assets import Assets
        from netwarden.respond.attach import Response

        feed = AlertFeed()
        engine_settings = EngineSettings(history_after=parse_duration(settings.respond.history_after))
        if not save_detector_state:
            engine_settings.state_every = None
        engine = DetectionEngine.from_config(detect_config(settings), db, assets=Assets(settings.network.home),
                                             listeners=[feed], settings=engine_settings)
        for detector in engine.detectors:
            bind = getattr(detector, "bind", None)
            if bind is not None:  # detectors that read the store (ml: the registry's active models)
                bind(db, settings)
        response = Response.from_settings(db, settings, sweep_gate=sweep_gate)
        stages = Stages(evidence=EvidenceFilter(response.responder), detect=[engine], alerts=feed,
                        alert_listeners=[response.on_alerts, *alert_listeners], observers=observers)
        return cls(db, stages=stages, engine=engine, response=response, **options)

    def close(self) -> None:
        """Save what must survive a restart (detector state); finish firewall changes and notifications."""
        if self.engine is not None:
            self.engine.close()
        if self.response is not None:
            self.response.close()

    # -- the public batch API ---------------------------------------------------------------------

    def parser(self, fmt: str, *, source: str, observer: str | None = None,
               reference_time: datetime | None = None) -> Parser:
        """A parser for one input (it keeps per-input state: year inference, CSV headers)."""
        context = ParseContext(source=source, observer=observer, local_tz=self.local_tz)
        if reference_time is not None:  # files: their modification time; live streams: now
            context.reference_time = reference_time
        return get_parser(fmt)(context)

    def parse_batch(self, parser: Parser, lines: Sequence[Line], counts: IngestResult) -> Batch:
        """Parse ``lines`` into a batch: events, and the lines quarantined with their reasons (never an
        exception for a bad line). ``counts`` is updated."""
        return parse_lines(parser, lines, counts, self.max_line_bytes)

    def store_batch(self, batch: Batch, writer: BatchWriter, *, source: str, fmt: str,
                    source_id: int | None = None, position: Position | None = None) -> None:
        """Run the stages on ``batch`` (enrich → evidence filter → detect → alert listeners → observers), then
        hand its rows, its quarantined lines and how far the input was read (``position``, for an input
        with an ``ingest_sources`` row ``source_id``) to ``writer``: all stored in one transaction."""
        self.stages.run(batch.events)
        self._hand_over(batch, writer, source=source, fmt=fmt, source_id=source_id, position=position)

    def store_parts(self, parts: Sequence[tuple[Batch, Position]], writer: BatchWriter, *, source: str, fmt: str,
                    source_id: int | None = None, ahead: bool = False, stored_through: int = 0) -> None:
        """:meth:`store_batch` for consecutive batches of one input, each with how far it takes the input: the
        stages run once on all their events (one detection batch), and each is handed to ``writer`` as a
        transaction of its own. On SQLite the engine's alert writes wait for the writer process's
        transaction in progress: a part's is a fraction of a whole batch's.

        ``ahead`` (an input with an ``ingest_sources`` row): the parts are handed over before detection, each
        with the lines it stores (``StoreBatch.stored_lines``), and the position after detection, so that the
        writer stores them meanwhile; an interrupted import detects the lines stored ahead again when rerun.
        ``stored_through``: the events and quarantined lines of the input's lines up to this one are stored
        already (stored ahead by an interrupted run): detection sees them, the writer does not get them again."""
        events = [event for batch, _ in parts for event in batch.events] if len(parts) > 1 else parts[0][0].events
        if not ahead:
            self.stages.run(events)
        else:
            self.stages.enrich_all(events)
        for batch, position in parts:
            self._hand_over(batch.split_at_line(stored_through)[1], writer, source=source, fmt=fmt,
                            source_id=source_id, position=None if ahead else position,
                            stored_lines=position.lines if ahead else None)  # (the store keeps the furthest)
        if ahead:
            self.stages.run(events, enriched=True)
            writer.submit(StoreBatch(source_id=source_id, source=source, position=parts[-1][1]))

    def _hand_over(self, batch: Batch, writer: BatchWriter, *, source: str, fmt: str, source_id: int | None,
                   position: Position | None, stored_lines: int | None = None) -> None:
        q_rows = quarantine_store.quarantine_rows(batch.quarantined, source=source, fmt=fmt,
                                                  source_id=source_id, received=datetime.now(timezone.utc))
        # rollups are counted by the writer (a separate process for large files: it has the spare time), and
        # such a process also makes the rows
        if getattr(writer, "makes_rows", False):
            writer.submit(StoreBatch([], None, q_rows, source_id, source, position,
                                     event_store.event_columns(batch.events), batch.line_numbers, stored_lines))
        else:
            rows = self._rows.rows(batch.events, source_id, batch.line_numbers)
            writer.submit(StoreBatch(rows, None, q_rows, source_id, source, position, stored_lines=stored_lines))

    def store_lines(self, parser: Parser, lines: Sequence[Line], *, source: str, fmt: str, source_id: int,
                    position: Position, stored_through: int = 0) -> IngestResult:
        """Parse and store lines of an input with the position they take it to, before returning (``netwarden
        follow``). Raises :class:`~netwarden.store.sources.SourceConflict` if another reader moved it.
        ``stored_through``: the input's lines up to this one are stored already (an interrupted file import
        stored them ahead of its position): detected, not stored again, nor counted."""
        counts = IngestResult(source=source, format=fmt)
        batch = self.parse_batch(parser, lines, counts)
        stored, rest = batch.split_at_line(stored_through)  # (nothing stored, the whole batch, without one)
        counts.uncount(stored)
        self.stages.run(batch.events)
        self._hand_over(rest, self._direct, source=source, fmt=fmt, source_id=source_id, position=position)
        return counts

    # -- whole inputs -----------------------------------------------------------------------------

    def ingest_file(self, path: str | Path, fmt: str = "auto", *,
                    progress: ProgressCallback | None = None) -> IngestResult:
        """Read one file (log or capture) into the store, resuming after what an earlier run stored.
        Raises InputError or UnknownFormat for an unusable input. ``progress(bytes done, bytes total)``."""
        from netwarden.pipeline.files import import_file

        with relaxed_gc():
            return import_file(self, Path(path), fmt, progress=progress)

    def ingest_lines(self, lines: Iterable[str], fmt: str, *, source: str = "-",
                     observer: str | None = None) -> IngestResult:
        """Parse and store lines that did not come from a file (tests, the HTTP intake)."""
        return self._ingest_numbered(numbered_lines(lines), fmt, source=source, observer=observer)

    def ingest_stream(self, stream: BinaryIO, fmt: str, *, source: str = "stdin") -> IngestResult:
        """Parse and store the lines of a byte stream (standard input) as files are read: invalid UTF-8 kept
        escaped, a line of ``max_line_bytes`` or more quarantined as ``line_too_long``."""
        log = LogFile.from_stream(stream, source)
        chunks = log.chunks(start_offset=0, start_line=0, digest=NullDigest(), max_line_bytes=self.max_line_bytes,
                            size=self.batch_size)
        return self._ingest_numbered((line for chunk in chunks for line in chunk), fmt, source=source)

    def _ingest_numbered(self, numbered: Iterable[Line], fmt: str, *, source: str,
                         observer: str | None = None) -> IngestResult:
        started = time.perf_counter()
        parser = self.parser(fmt, source=source, observer=observer)
        result = IngestResult(source=source, format=parser.name)
        with ThreadWriter(self.db) as writer:
            for chunk in chunked(numbered, self.batch_size):
                batch = self.parse_batch(parser, chunk, result)
                self.store_batch(batch, writer, source=source, fmt=parser.name)
        result.seconds = time.perf_counter() - started
        return result


def detect_config(settings: Settings) -> dict[str, dict]:
    """The ``[detect.<name>]`` tables, with the ``[intel]`` feeds given to the intel detector unless
    ``[detect.intel]`` names its own."""
    from netwarden.enrich.feed_fetch import feed_paths

    config = {name: dict(values) for name, values in settings.detect.items()}
    intel = config.setdefault("intel", {})
    intel.setdefault("feeds", feed_paths(settings.intel))  # URL feeds: their downloaded copies
    for key in ("min_score", "flag_private", "reload_every"):
        intel.setdefault(key, getattr(settings.intel, key))
    return config
