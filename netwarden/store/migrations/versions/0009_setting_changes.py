"""Settings changed in the web app, with their audit trail.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from netwarden.store.schema import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "setting_changes",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("old", sa.Text),
        sa.Column("value", sa.Text),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_setting_changes"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_setting_changes_key_id", "setting_changes", ["key", "id"])


def downgrade() -> None:
    op.drop_index("ix_setting_changes_key_id", table_name="setting_changes")
    op.drop_table("setting_changes")
