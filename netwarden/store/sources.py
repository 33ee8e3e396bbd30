"""Ingest bookkeeping: which inputs were read, and how far, so nothing is stored twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, case, insert, select, update

from netwarden.store.schema import ingest_sources


class SourceConflict(Exception):
    """Someone else (another follower, a concurrent ingest) advanced the same source: the batch that
    carried this position is rolled back with it."""


@dataclass(frozen=True, slots=True)
class Position:
    """How far an input was read, stored in the same transaction as the batch that got it there."""

    offset: int  # bytes of the (decompressed) input read, or of a capture's whole records
    prefix_sha: str  # sha256 of those bytes: the same content is recognised on the next run
    lines: int  # lines (packets for a capture) read so far
    complete: bool = False  # the input was read to its end
    keep_name: bool = False  # a copy that added nothing keeps the name it was read under
    # only advance if the stored offset is still this one (a follower); SourceConflict otherwise
    expected_offset: int | None = None


def candidates(conn: Connection, first_line_sha: str) -> list[dict[str, Any]]:
    """Earlier inputs that began with the same first line, furthest read first."""
    stmt = select(ingest_sources).where(ingest_sources.c.first_line_sha == first_line_sha) \
        .order_by(ingest_sources.c.offset.desc())
    return [dict(r._mapping) for r in conn.execute(stmt)]


def get(conn: Connection, source_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(ingest_sources).where(ingest_sources.c.id == source_id)).first()
    return dict(row._mapping) if row is not None else None


def last_read_as(conn: Connection, kind: str, name: str, limit: int = 5) -> list[dict[str, Any]]:
    """The inputs last read under ``name`` (a followed path), most recently updated first."""
    stmt = select(ingest_sources).where(ingest_sources.c.kind == kind, ingest_sources.c.name == name) \
        .order_by(ingest_sources.c.updated.desc(), ingest_sources.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def create(conn: Connection, *, kind: str, name: str, fmt: str, first_line_sha: str, prefix_sha: str) -> int:
    now = datetime.now(timezone.utc)
    result = conn.execute(insert(ingest_sources).values(
        kind=kind, name=name, format=fmt, first_line_sha=first_line_sha, prefix_sha=prefix_sha,
        offset=0, lines=0, events=0, quarantined=0, complete=False, started=now, updated=now))
    return int(result.inserted_primary_key[0])


def advance(conn: Connection, source_id: int, position: Position | None, *, name: str | None, events: int,
            quarantined: int, stored_lines: int | None = None) -> None:
    """Record how far an input was read (``position``) and the events and quarantined lines stored with it;
    ``name`` (the path it was last read under) None: keep the stored one. ``stored_lines``: the events of the
    input's lines up to this one are stored, ahead of its position (detection has not seen them all yet), or
    with ``position`` None only that. Raises SourceConflict when ``position.expected_offset`` is set and the
    stored offset is another."""
    values: dict[str, Any] = {}
    where = [ingest_sources.c.id == source_id]
    if position is not None:
        if name is not None and not position.keep_name:
            values["name"] = name
        if position.expected_offset is not None:
            where.append(ingest_sources.c.offset == position.expected_offset)
        values.update(offset=position.offset, prefix_sha=position.prefix_sha, lines=position.lines,
                      complete=position.complete)
    if stored_lines is not None:  # never back (a rerun's first parts, smaller than the interrupted run's)
        values["stored_lines"] = case((ingest_sources.c.stored_lines > stored_lines, ingest_sources.c.stored_lines),
                                      else_=stored_lines)
    changed = conn.execute(update(ingest_sources).where(*where).values(
        **values, events=ingest_sources.c.events + events, quarantined=ingest_sources.c.quarantined + quarantined,
        updated=datetime.now(timezone.utc))).rowcount
    if position is not None and position.expected_offset is not None and changed != 1:
        raise SourceConflict(f"input #{source_id} was advanced by another reader")


def all_sources(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(ingest_sources).order_by(ingest_sources.c.id))]
