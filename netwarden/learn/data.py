"""Training data: labelled files and stored events as Events plus one target label per event.

Known formats (NSL-KDD, UNSW-NB15, CICFlowMeter, ...) go through NetWarden's own parsers, so a model sees
exactly what the pipeline will later give it. Any other CSV with a header and a label column is read as
generic flow records: every other column goes into ``Event.extra`` (numbers as floats, the rest as text).
A row that cannot be read is counted and skipped, never fatal.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from netwarden.learn._raw_http import looks_raw_http, read_requests
from netwarden.learn.base import ATTACK, NORMAL, ModelError
from netwarden.parse import UnknownFormat, get_parser, guess_format
from netwarden.parse.base import ParseContext, ParseError
from netwarden.records import Event, SourceKind

#: label texts that mean "no attack" in the datasets and exports we know
NORMAL_LABELS = frozenset({"normal", "benign", "0", "0.0", "false", "background", "legitimate", "none", ""})
# single-record exports label rows with a 0/1 column: is_anomaly, is_attack, malicious ...
LABEL_COLUMNS = ("label", "Label", "class", "Class", "attack_cat", "attack_category", "category", "is_anomaly",
                 "anomaly", "is_attack", "is_malicious", "malicious")
#: columns that give the answer away or identify a row; never features
NOT_FEATURES = frozenset({
    "label", "attack_cat", "attack_category", "difficulty", "id", "class", "category",
    "srcip", "dstip", "sport", "dsport", "stime", "ltime", "flow id", "src ip", "dst ip", "src port",
    "timestamp", "source ip", "destination ip", "source port",
    "is_anomaly", "anomaly", "is_attack", "is_malicious", "malicious",
})
MAX_BAD_ROWS_SHOWN = 5
RAW_HTTP = "http_raw"  # raw HTTP requests one after another (CSIC 2010): see netwarden.learn._raw_http


@dataclass
class Labelled:
    """Events read from a file, with how many lines were skipped and why (a few examples)."""

    events: list[Event]
    source: str
    format: str
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


def is_normal(label: str | None) -> bool:
    return (label or "").strip().lower() in NORMAL_LABELS


def category(event: Event) -> str:
    """The attack category of a labelled event (NSL-KDD's 4 groups, UNSW-NB15's ``attack_cat``...)."""
    if is_normal(event.label):
        return NORMAL
    cat = event.extra.get("attack_category") or event.extra.get("attack_cat")
    return str(cat).strip() if cat and not is_normal(str(cat)) else str(event.label).strip()


def targets(events: Sequence[Event], task: str) -> list[str]:
    """One target per event for ``task``: normal/attack (binary) or the category."""
    missing = sum(1 for e in events if e.label is None)
    if missing:
        raise ModelError(f"{missing} of {len(events)} events carry no label; supervised training needs labels")
    if task == "binary":
        return [NORMAL if is_normal(e.label) else ATTACK for e in events]
    return [category(e) for e in events]


def _open_text(path: Path) -> io.TextIOBase:
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="replace", newline="")
    raw.seek(0)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def load_file(path: Path | str, fmt: str | None = None, *, limit: int | None = None,
              label_column: str | None = None) -> Labelled:
    """Events from a labelled file; ``fmt`` names a parser or ``"csv"``; guessed when None."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    with _open_text(path) as fh:
        head = [fh.readline() for _ in range(50)]
    if fmt is None and looks_raw_http(head):
        fmt = RAW_HTTP
    if fmt is None:
        try:
            fmt = guess_format([line.rstrip("\n") for line in head if line]).name
        except UnknownFormat:
            fmt = "csv"
    if fmt == "csv":
        return _load_csv(path, limit, label_column)
    if fmt == RAW_HTTP:
        return _load_raw_http(path, limit)
    try:
        parser = get_parser(fmt)(ParseContext(source=str(path)))
    except UnknownFormat as exc:
        raise ModelError(str(exc)) from None
    out = Labelled([], str(path), fmt)

    def parsed(lines: Iterable[str]) -> Iterator[Event]:
        for number, line in enumerate(lines, 1):
            try:
                event = parser.parse_line(line.rstrip("\r\n"))
            except ParseError as exc:
                _skip(out, number, str(exc))
                continue
            if event is not None:
                yield event

    with _open_text(path) as fh:
        out.events.extend(islice(parsed(fh), limit))  # islice stops reading at the limit
    if not out.events:
        raise ModelError(f"{path}: no usable records as {fmt} ({out.skipped} lines skipped)")
    return out


def _load_raw_http(path: Path, limit: int | None) -> Labelled:
    out = Labelled([], str(path), RAW_HTTP)
    with _open_text(path) as fh:
        out.events.extend(islice(read_requests(fh), limit))
    if not out.events:
        raise ModelError(f"{path}: no HTTP requests found")
    return out


def _skip(out: Labelled, number: int, why: str) -> None:
    out.skipped += 1
    if len(out.problems) < MAX_BAD_ROWS_SHOWN:
        out.problems.append(f"line {number}: {why[:200]}")


def _load_csv(path: Path, limit: int | None, label_column: str | None) -> Labelled:
    out = Labelled([], str(path), "csv")
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip().lstrip("\ufeff") for h in next(reader)]
        except (StopIteration, csv.Error):
            raise ModelError(f"{path}: empty or unreadable CSV") from None
        label_at = _label_index(path, header, label_column)
        keep = [i for i, h in enumerate(header) if i != label_at and h.lower() not in NOT_FEATURES]
        for number, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) != len(header):
                _skip(out, number, f"{len(row)} fields, the header has {len(header)}")
                continue
            extra: dict[str, float | str | None] = {header[i]: _cell(row[i]) for i in keep}
            out.events.append(Event(timestamp=None, source_kind=SourceKind.FLOW_CSV, label=row[label_at].strip(),
                                    extra=extra))
            if limit is not None and len(out.events) >= limit:
                break
    if not out.events:
        raise ModelError(f"{path}: no data rows")
    return out


def _label_index(path: Path, header: list[str], label_column: str | None) -> int:
    wanted = (label_column,) if label_column else LABEL_COLUMNS
    for name in wanted:
        if name in header:
            return header.index(name)
    raise ModelError(f"{path}: no label column (looked for {', '.join(wanted)}); name it with --label-column")


def _cell(text: str) -> float | str | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text[:64]
    return value if math.isfinite(value) else None


def normal_only(events: Iterable[Event]) -> list[Event]:
    """Events without an attack label (unlabelled events count as normal: the admin chose the period)."""
    return [e for e in events if e.label is None or is_normal(e.label)]


def load_stored(db: Any, since: datetime | None = None, until: datetime | None = None, *,
                limit: int = 200_000, src: str | None = None) -> list[Event]:
    """Stored events of a period (oldest first, at most ``limit``): what unsupervised models learn from
    when the administrator says "last week was normal", and what ``model predict --since`` scores."""
    from netwarden.store.events import EventFilter, find_events, row_to_event

    flt = EventFilter(since=since, until=until, src=src)
    out: list[Event] = []
    page = 5_000
    with db.engine.connect() as conn:
        while len(out) < limit:
            rows = find_events(conn, flt, limit=min(page, limit - len(out)), offset=len(out), newest_first=False)
            out += [row_to_event(r) for r in rows]
            if len(rows) < page:
                break
    return out
