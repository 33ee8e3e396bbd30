"""Destination indexes on events only where there is a destination (SQLite, PostgreSQL)."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

INDEXES = (("ix_events_dst_addr_timestamp", "dst_addr"), ("ix_events_dst_port_timestamp", "dst_port"))


def upgrade() -> None:
    if op.get_bind().dialect.name not in ("sqlite", "postgresql"):
        return  # MariaDB/MySQL have no partial indexes: the full ones stay
    for name, column in INDEXES:
        op.drop_index(name, table_name="events")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "events", [column, "timestamp"], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    if op.get_bind().dialect.name not in ("sqlite", "postgresql"):
        return
    for name, column in INDEXES:
        op.drop_index(name, table_name="events")
        op.create_index(name, "events", [column, "timestamp"])
