"""Settings changed in the web app, with their audit trail.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa

from netwarden.store.migrations.tables import create_table, drop_tables, id_column
from netwarden.store.schema import UtcDateTime

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    create_table(
        "setting_changes",
        id_column(),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("old", sa.Text),
        sa.Column("value", sa.Text),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed", UtcDateTime, nullable=False),
        indexes=[("key", "id")],
    )


def downgrade() -> None:
    drop_tables("setting_changes")
