"""Blocks: every blocking decision with its reason, backend, expiry and state.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from netwarden.store.schema import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Address = sa.LargeBinary(16).with_variant(mysql.VARBINARY(16), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("network", sa.String(64), nullable=False),
        sa.Column("addr_lo", Address, nullable=False),
        sa.Column("addr_hi", Address, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("alert_id", Id),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("expires", UtcDateTime),
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ended", UtcDateTime),
        sa.Column("ended_by", sa.String(64)),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_blocks"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="SET NULL",
                                name="fk_blocks_alert_id_alerts"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_blocks_state_expires", "blocks", ["state", "expires"])
    op.create_index("ix_blocks_addr_lo_created", "blocks", ["addr_lo", "created"])
    op.create_index("ix_blocks_created", "blocks", ["created"])


def downgrade() -> None:
    op.drop_table("blocks")
