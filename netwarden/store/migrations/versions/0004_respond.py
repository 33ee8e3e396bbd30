"""Blocks: every blocking decision with its reason, backend, expiry and state."""

import sqlalchemy as sa

from netwarden.store.migrations.tables import Address, Id, NewTable, new_tables
from netwarden.store.schema import UtcDateTime

revision = "0004"
down_revision = "0003"

upgrade, downgrade = new_tables(
    NewTable("blocks",
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
        foreign_keys={"alert_id": ("alerts", "SET NULL")},
        indexes=[("state", "expires"), ("addr_lo", "created"), ("created",)],
    ),
)
