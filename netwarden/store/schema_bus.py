"""The scale-out's table (netwarden.bus): which bus batches are stored, so that a redelivered batch (its worker
died after the commit, before the acknowledgement) stores nothing twice.

Imported at the end of netwarden.store.schema, so the table is part of ``metadata``; a change here needs its
Alembic migration too.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from netwarden.store.schema import UtcDateTime, metadata

bus_batches = Table(
    "bus_batches", metadata,
    Column("batch_id", String(100), primary_key=True),  # the producer's id and sequence number: stable
    Column("stored", UtcDateTime, nullable=False),
    Column("events", Integer, nullable=False),
    Index(None, "stored"),  # old entries are deleted by age
)
