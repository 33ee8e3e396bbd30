"""The batches of the bus that are stored (netwarden.bus: a redelivery stores nothing twice)."""

import sqlalchemy as sa

from netwarden.store.migrations.tables import NewTable, new_tables
from netwarden.store.schema import UtcDateTime

revision = "0012"
down_revision = "0011"

upgrade, downgrade = new_tables(
    NewTable("bus_batches",
        sa.Column("batch_id", sa.String(100), nullable=False),
        sa.Column("stored", UtcDateTime, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        primary_key=("batch_id",),
        indexes=[("stored",)],
    ),
)
