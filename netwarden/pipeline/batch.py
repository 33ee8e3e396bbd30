"""One batch of the pipeline: lines parsed into events and quarantined lines, and what an input gave.

These are the plain parts of the public batch API (:mod:`netwarden.pipeline`): a :class:`Batch` is what
:meth:`Pipeline.parse_batch` makes of some lines and what :meth:`Pipeline.store_batch` stores;
:class:`IngestResult` counts what an input gave, batch after batch.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import count, repeat
from operator import attrgetter

from netwarden.collect.files import Line, PlainLines
from netwarden.parse import ParseError, Parser
from netwarden.records import Event
from netwarden.store.quarantine import QuarantinedLine

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

    def uncount(self, batch: Batch) -> None:
        """Take ``batch``'s events and quarantined lines out of the counts (read again, not stored again)."""
        self.events -= len(batch.events)
        self.quarantined -= Counter(q.reason for q in batch.quarantined)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Batch:
    """Events to store (``line_numbers[i]``: the input line of ``events[i]``, None for records that came
    from no line, such as flows) and the lines quarantined with their reasons."""

    events: list[Event] = field(default_factory=list)
    line_numbers: list[int | None] = field(default_factory=list)
    quarantined: list[QuarantinedLine] = field(default_factory=list)

    @classmethod
    def of_events(cls, events: list[Event]) -> Batch:
        """Ready events (NetFlow records, capture flows): nothing to parse."""
        return cls(events, [None] * len(events))

    def extend(self, other: Batch) -> None:
        self.events += other.events
        self.line_numbers += other.line_numbers
        self.quarantined += other.quarantined

    def split_at_line(self, line: int) -> tuple[Batch, Batch]:
        """(what came from the input's lines up to ``line``, the rest); records of no line are the rest's."""
        if not line:
            return Batch(), self
        before, after = Batch(), Batch()
        for event, number in zip(self.events, self.line_numbers):
            part = before if number is not None and number <= line else after
            part.events.append(event)
            part.line_numbers.append(number)
        for q in self.quarantined:
            (before if q.line_no is not None and q.line_no <= line else after).quarantined.append(q)
        return before, after


def numbered_lines(texts: Iterable[str], start: int = 1) -> Iterator[Line]:
    """Lines that came from no file (tests, the HTTP intake, a message bus), numbered from ``start``."""
    for n, text in enumerate(texts, start=start):
        yield Line(n, text.rstrip("\r\n"), 0, len(text))


_LINE_PARTS = attrgetter("number", "text", "length", "too_long", "bad_utf8")


def parse_lines(parser: Parser, lines: Sequence[Line], counts: IngestResult, max_line_bytes: int) -> Batch:
    """Parse ``lines``: every line becomes an event, a skipped line (header, comment) or a quarantined one
    with its reason; never an exception. ``counts`` is updated."""
    batch = Batch()
    events, numbers, quarantined = batch.events, batch.line_numbers, batch.quarantined
    parse_line = parser.parse_line
    keep_raw = parser.keep_raw
    counts.lines += len(lines)
    in_range = None  # the last time found within EARLIEST..LATEST: lines of one second share one time object
    if type(lines) is PlainLines:  # a file's usual block: no Line objects (none too long, all valid UTF-8)
        items = zip(count(lines.first), lines.texts, lines.lengths, repeat(False), repeat(False))
    else:
        items = map(_LINE_PARTS, lines)
    for number, text, length, too_long, bad_utf8 in items:
        if too_long:
            quarantined.append(QuarantinedLine(number, text, "line_too_long",
                                               f"{length} bytes, more than the limit of {max_line_bytes}", length))
            continue
        try:
            event = parse_line(text)
        except ParseError as exc:
            quarantined.append(QuarantinedLine(number, text, exc.reason, exc.detail or exc.reason, length))
            continue
        except Exception as exc:  # a parser bug must cost one line, not the whole import
            quarantined.append(QuarantinedLine(number, text, "parser_error", f"{type(exc).__name__}: {exc}"[:500],
                                               length))
            continue
        if event is None:
            counts.skipped += 1
            continue
        ts = event.timestamp
        if ts is not in_range and ts is not None:
            if not EARLIEST <= ts < LATEST:
                # a hostile "year 0001" must cost one line, not fail a whole batch on MariaDB (1000-9999)
                quarantined.append(QuarantinedLine(number, text, "bad_timestamp", f"time {ts.isoformat()} "
                                                   f"is outside {EARLIEST.year}-{LATEST.year - 1}", length))
                continue
            in_range = ts
        if bad_utf8:
            counts.bad_utf8 += 1
            event.extra["invalid_utf8"] = True
        if not keep_raw:
            event.raw = None
        events.append(event)
        numbers.append(number)
    for q in quarantined:
        counts.quarantined[q.reason] += 1
    counts.events += len(events)
    return batch


def chunked(lines: Iterable[Line], size: int) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
