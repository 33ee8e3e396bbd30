"""Model registry tables (netwarden.learn).

Imported at the end of netwarden.store.schema, so these tables are part of ``metadata``; a change here needs
its Alembic migration too.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Table, Text, UniqueConstraint

from netwarden.store.schema import Id, UtcDateTime, metadata

# One row per trained model version; the learned weights live in the artefact directory (``artefact`` is
# relative to the configured models directory) and ``digest`` proves they were not changed since.
models = Table(
    "models", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("algorithm", String(32), nullable=False),
    Column("family", String(16), nullable=False),  # supervised, unsupervised, sequence
    Column("task", String(16), nullable=False),  # binary, category
    Column("data", JSON, nullable=False),  # what it learned from: file, format, rows, classes, split
    Column("params", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("artefact", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    UniqueConstraint("name", "version"),
    Index(None, "active"),
)
