"""Each user's history of checks (the Check page).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa

from netwarden.store.migrations.tables import create_table, drop_tables, id_column
from netwarden.store.schema import UtcDateTime

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    create_table(
        "check_history",
        id_column(),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16)),
        sa.Column("score", sa.Float, nullable=False),
        indexes=[("user_name", "id")],
    )


def downgrade() -> None:
    drop_tables("check_history")
