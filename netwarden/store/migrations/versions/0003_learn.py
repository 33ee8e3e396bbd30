"""Model registry."""

import sqlalchemy as sa

from netwarden.store.migrations.tables import NewTable, new_tables
from netwarden.store.schema import UtcDateTime

revision = "0003"
down_revision = "0002"

upgrade, downgrade = new_tables(
    NewTable("models",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("artefact", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        unique=[("name", "version")],
        indexes=[("active",)],
    ),
)
