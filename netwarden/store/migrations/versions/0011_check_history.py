"""Each user's history of checks (the Check page).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from netwarden.store.schema import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16)),
        sa.Column("score", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_check_history"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_check_history_user_name_id", "check_history", ["user_name", "id"])


def downgrade() -> None:
    op.drop_index("ix_check_history_user_name_id", table_name="check_history")
    op.drop_table("check_history")
