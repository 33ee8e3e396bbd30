"""Each user's history of checks (the Check page)."""

import sqlalchemy as sa

from netwarden.store.migrations.tables import NewTable, new_tables
from netwarden.store.schema import UtcDateTime

revision = "0011"
down_revision = "0010"

upgrade, downgrade = new_tables(
    NewTable("check_history",
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16)),
        sa.Column("score", sa.Float, nullable=False),
        indexes=[("user_name", "id")],
    ),
)
