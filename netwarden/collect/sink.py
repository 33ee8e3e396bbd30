"""Where collectors hand what they read: small protocols, so ``collect`` knows nothing of the pipeline above.

- :class:`LineSink` takes text lines to parse (the syslog server); :class:`EventSink` ready events
  (NetFlow records, captured flows, the simulator). ``netwarden.pipeline.LiveStream`` is both.
- :class:`FileSink` stores the lines of a followed file with the position they take it to, in one
  transaction (``netwarden follow``); ``netwarden.pipeline.Pipeline`` is one.

A sink returns False from ``feed_*`` when it is full and dropped the item (counted against the device).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Protocol

from netwarden.collect.files import Line
from netwarden.parse import Parser
from netwarden.records import Event
from netwarden.store.database import Database
from netwarden.store.sources import Position


class LineSink(Protocol):
    def feed_line(self, text: str, observer: str | None = None) -> bool: ...

    def count_dropped(self, observer: str | None, n: int = 1) -> None: ...

    @property
    def room(self) -> int:
        """How many more items it takes now; a collector that can push back (TCP) pauses at 0."""
        ...


class EventSink(Protocol):
    def feed_event(self, event: Event, observer: str | None = None) -> bool: ...

    @property
    def pending(self) -> int:
        """Items not stored yet; a producer that can wait (the simulator) waits while this is high."""
        ...


class Counts(Protocol):
    """What storing some lines gave (``netwarden.pipeline.IngestResult``)."""

    lines: int
    events: int
    skipped: int
    quarantined: Counter
    bad_utf8: int


class FileSink(Protocol):
    db: Database  # where the positions of inputs are kept (netwarden.store.sources)
    batch_size: int  # lines per batch at most
    max_line_bytes: int
    local_tz: tzinfo

    def store_lines(self, parser: Parser, lines: Sequence[Line], *, source: str, fmt: str, source_id: int,
                    position: Position, stored_through: int = 0) -> Counts:
        """Store ``lines`` and ``position`` together before returning; raises
        ``netwarden.store.sources.SourceConflict`` (nothing stored) if another reader moved the input.
        ``stored_through``: the input's lines up to this one are stored already (not again)."""
        ...

    def ingest_file(self, path: str | Path, fmt: str = "auto") -> Counts:
        """Import a whole file, resuming after what was stored (a rotated copy)."""
        ...
