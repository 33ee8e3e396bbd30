"""The batches of the bus that are stored (netwarden.bus: a redelivery stores nothing twice).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

import sqlalchemy as sa

from netwarden.store.migrations.tables import create_table, drop_tables
from netwarden.store.schema import UtcDateTime

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    create_table(
        "bus_batches",
        sa.Column("batch_id", sa.String(100), nullable=False),
        sa.Column("stored", UtcDateTime, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        primary_key=("batch_id",),
        indexes=[("stored",)],
    )


def downgrade() -> None:
    drop_tables("bus_batches")
