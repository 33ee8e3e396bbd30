"""Ingest bookkeeping: which inputs were read, and how far, so nothing is stored twice."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, insert, select, update

from netwarden.store.schema import ingest_sources


def candidates(conn: Connection, first_line_sha: str) -> list[dict[str, Any]]:
    """Earlier inputs that began with the same first line, furthest read first."""
    stmt = select(ingest_sources).where(ingest_sources.c.first_line_sha == first_line_sha) \
        .order_by(ingest_sources.c.offset.desc())
    return [dict(r._mapping) for r in conn.execute(stmt)]


def create(conn: Connection, *, kind: str, name: str, fmt: str, first_line_sha: str, prefix_sha: str) -> int:
    now = datetime.now(timezone.utc)
    result = conn.execute(insert(ingest_sources).values(
        kind=kind, name=name, format=fmt, first_line_sha=first_line_sha, prefix_sha=prefix_sha,
        offset=0, lines=0, events=0, quarantined=0, complete=False, started=now, updated=now))
    return int(result.inserted_primary_key[0])


def advance(conn: Connection, source_id: int, *, name: str | None, offset: int, prefix_sha: str, lines: int,
            events: int, quarantined: int, complete: bool) -> None:
    """Record how far an input was read; ``name`` (the path it was last read under) None: keep the stored one."""
    values: dict[str, Any] = {"name": name} if name is not None else {}
    conn.execute(update(ingest_sources).where(ingest_sources.c.id == source_id).values(
        **values, offset=offset, prefix_sha=prefix_sha, lines=lines, complete=complete,
        events=ingest_sources.c.events + events, quarantined=ingest_sources.c.quarantined + quarantined,
        updated=datetime.now(timezone.utc)))


def all_sources(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(ingest_sources).order_by(ingest_sources.c.id))]
