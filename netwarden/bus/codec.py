"""Batches on the bus: events and quarantined lines as compact JSON (orjson), never pickle — a bus is a
network service, and what it holds must not be able to run code in a worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from netwarden.records import EVENT_FIELDS, Event
from netwarden.store.quarantine import QuarantinedLine

_TS = EVENT_FIELDS.index("timestamp")
_EXTRA = EVENT_FIELDS.index("extra")
_FIELDS = len(EVENT_FIELDS)


def _default(value: Any) -> Any:  # what orjson does not know (a set, a Decimal ...) is sent as text
    return str(value)


def encode_events(events: list[Event]) -> bytes:
    """Each event as a list of its fields in EVENT_FIELDS order (times in ISO 8601 with their zone)."""
    rows = []
    for e in events:
        row = [getattr(e, f) for f in EVENT_FIELDS]
        if row[_TS] is not None:
            row[_TS] = row[_TS].isoformat()
        rows.append(row)
    try:
        return orjson.dumps(rows, default=_default)
    except TypeError:  # lone surrogates in text: kept escaped, as the store would keep them
        import json

        return json.dumps(rows, default=_default, ensure_ascii=True).encode()


def decode_events(data: bytes) -> list[Event]:
    """Raises ValueError for data that is not a batch of events."""
    rows = orjson.loads(data)
    if not isinstance(rows, list):
        raise ValueError("a batch of events is a list")
    events = []
    for row in rows:
        if not isinstance(row, list) or len(row) != _FIELDS:
            raise ValueError(f"an event has {_FIELDS} fields")
        if row[_TS] is not None:
            row[_TS] = datetime.fromisoformat(row[_TS])
        if not isinstance(row[_EXTRA], dict):
            row[_EXTRA] = {}
        events.append(Event(*row))
    return events


def encode_quarantined(lines: list[QuarantinedLine]) -> bytes:
    return orjson.dumps([[q.line_no, q.raw, q.reason, q.detail, q.raw_length] for q in lines])


def decode_quarantined(data: bytes) -> list[QuarantinedLine]:
    return [QuarantinedLine(*row) for row in orjson.loads(data)] if data else []


def decode_lines(fields: dict[bytes, bytes], events: int) -> tuple[list[int | None], int | None]:
    """A file's entry (:mod:`netwarden.bus.inputs`): its events' line numbers and its ``ingest_sources`` id;
    other entries: no line numbers, no source. Raises ValueError for numbers that do not fit the events."""
    if b"sid" not in fields:
        return [None] * events, None
    numbers = orjson.loads(fields[b"lines"])
    if not isinstance(numbers, list) or len(numbers) != events or \
            not all(n is None or type(n) is int for n in numbers):
        raise ValueError("an entry's line numbers are one per event")
    return numbers, int(fields[b"sid"])
