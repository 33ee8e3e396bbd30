"""Input that could not become an event, kept with its reason so that nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from netwarden.store.events import clean_text
from netwarden.store.schema import quarantine

EXPORT_COLUMNS = ("id", "received", "source", "format", "line_no", "reason", "detail", "raw", "raw_length")
RAW_LIMIT = 1 << 20  # a quarantined line is kept whole up to 1 MiB; its true length is always recorded


@dataclass(slots=True)
class QuarantinedLine:
    line_no: int | None
    raw: str
    reason: str
    detail: str
    raw_length: int | None = None


def quarantine_rows(items: Sequence[QuarantinedLine], *, source: str, fmt: str, source_id: int | None,
                    received: datetime) -> list[dict[str, Any]]:
    return [{
        "received": received, "source_id": source_id, "source": clean_text(source), "format": fmt,
        "line_no": q.line_no, "reason": q.reason[:32], "detail": clean_text(q.detail)[:512],
        "raw": clean_text(q.raw[:RAW_LIMIT]), "raw_length": q.raw_length if q.raw_length is not None else len(q.raw),
    } for q in items]


def insert_quarantine(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(quarantine), list(rows))


def counts_by_reason(conn: Connection, source_id: int | None = None) -> dict[str, int]:
    stmt = select(quarantine.c.reason, func.count()).group_by(quarantine.c.reason)
    if source_id is not None:
        stmt = stmt.where(quarantine.c.source_id == source_id)
    return dict(conn.execute(stmt).all())


def recent(conn: Connection, limit: int = 50, *, reason: str | None = None,
           before_id: int | None = None) -> list[dict[str, Any]]:
    """The newest quarantined lines (of one reason; below ``before_id`` for the next page)."""
    stmt = select(quarantine).order_by(quarantine.c.id.desc()).limit(limit)
    if reason:
        stmt = stmt.where(quarantine.c.reason == reason)
    if before_id is not None:
        stmt = stmt.where(quarantine.c.id < before_id)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def iter_recent(conn: Connection, *, reason: str | None = None, limit: int | None = None,
                chunk: int = 2000) -> Iterator[dict[str, Any]]:
    """Every quarantined line (of one reason, up to ``limit``), newest first, read a page at a time."""
    before = None
    left = limit
    while left is None or left > 0:
        size = chunk if left is None else min(chunk, left)
        rows = recent(conn, size, reason=reason, before_id=before)
        yield from rows
        if len(rows) < size:
            return
        before = rows[-1]["id"]
        if left is not None:
            left -= len(rows)
