"""Retention: old raw events and quarantined lines go, per-minute rollups stay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Table, delete, func, select

from netwarden.store.database import Database
from netwarden.store.schema import events, quarantine

CHUNK = 20_000  # short transactions: ingest and the web app keep working while retention runs


@dataclass
class RetentionResult:
    cutoff: datetime
    events_deleted: int
    quarantine_deleted: int


def apply_retention(db: Database, keep_days: float, *, now: datetime | None = None) -> RetentionResult:
    if keep_days <= 0:
        raise ValueError("keep-days must be positive")
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=keep_days)
    deleted = {}
    for table, column in ((events, events.c.timestamp), (quarantine, quarantine.c.received)):
        total = 0
        while True:
            with db.engine.begin() as conn:
                # MySQL cannot DELETE ... LIMIT with a subquery on the same table; take ids first
                ids = conn.execute(select(table.c.id).where(column < cutoff).order_by(table.c.id)
                                   .limit(CHUNK)).scalars().all()
                if not ids:
                    break
                conn.execute(delete(table).where(table.c.id.in_(ids)))
                total += len(ids)
        deleted[table.name] = total
    return RetentionResult(cutoff, deleted["events"], deleted["quarantine"])


def count(db: Database, table: Table = events) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
