"""The worker's batch writer: a bus batch's events, quarantined lines, rollups, its id in ``bus_batches`` and
what else counts per batch (the ml detector's live counts), all in one transaction. The id is the producer's (stable across redeliveries), so a batch whose worker died
after the commit and before the acknowledgement is recognised and stores nothing twice; even a worker that
lost its lease while storing cannot store a batch twice (the id is the table's primary key)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, delete, exists, select
from sqlalchemy.exc import IntegrityError

from netwarden import metrics
from netwarden.store.database import Database
from netwarden.store.events import EventWriter
from netwarden.store.schema_bus import bus_batches
from netwarden.store.writer import StoreBatch, write_batch


def is_stored(conn: Connection, batch_id: str) -> bool:
    return bool(conn.execute(select(exists().where(bus_batches.c.batch_id == batch_id))).scalar())


def forget_older_than(db: Database, days: float) -> int:
    """Delete batch ids older than ``days`` (the bus has long trimmed those batches)."""
    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    with db.engine.begin() as conn:
        return conn.execute(delete(bus_batches).where(bus_batches.c.stored < cutoff)).rowcount or 0


class LedgerWriter:
    """A BatchWriter for one bus batch at a time: ``batch_id`` is set before each ``store_batch``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._events = EventWriter(db.engine.dialect)
        self.batch_id: str | None = None
        self.duplicate = False  # the last batch was stored already (by a worker that lost its lease)
        # more to write in each batch's transaction (the ml detector's live counts of the batch)
        self.also: list[Callable[[Connection], None]] = []

    def submit(self, batch: StoreBatch) -> None:
        assert self.batch_id is not None, "set batch_id first"
        started = time.perf_counter()
        self.duplicate = False
        try:
            with self.db.engine.begin() as conn:
                # the id first: a second copy fails here, before writing any row, and rolls back
                conn.execute(bus_batches.insert().values(batch_id=self.batch_id, stored=datetime.now(timezone.utc),
                                                         events=len(batch.rows)))
                write_batch(conn, self._events, batch)
                for write in self.also:
                    write(conn)
        except IntegrityError:
            with self.db.engine.connect() as conn:
                if not is_stored(conn, self.batch_id):
                    raise
            self.duplicate = True
            return
        metrics.committed(batch.source, events=len(batch.rows), quarantined=len(batch.quarantine_rows),
                          seconds=time.perf_counter() - started)

    def close(self) -> None:
        pass
