"""Initial schema: ingest sources, events, quarantine, rollups.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa

from netwarden.store.migrations.tables import Address, Id, LongText, create_table, drop_tables, id_column
from netwarden.store.schema import UtcDateTime

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_table(
        "ingest_sources",
        id_column(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("first_line_sha", sa.String(64), nullable=False),
        sa.Column("prefix_sha", sa.String(64), nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("quarantined", sa.BigInteger, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("started", UtcDateTime, nullable=False),
        sa.Column("updated", UtcDateTime, nullable=False),
        indexes=[("first_line_sha",)],
    )

    create_table(
        "events",
        id_column(),
        sa.Column("timestamp", UtcDateTime, nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("observer", sa.String(255)),
        sa.Column("src_ip", sa.String(45)),
        sa.Column("src_addr", Address),
        sa.Column("src_port", sa.Integer),
        sa.Column("dst_ip", sa.String(45)),
        sa.Column("dst_addr", Address),
        sa.Column("dst_port", sa.Integer),
        sa.Column("transport", sa.String(16)),
        sa.Column("app_protocol", sa.String(32)),
        sa.Column("bytes_out", sa.BigInteger),
        sa.Column("bytes_in", sa.BigInteger),
        sa.Column("packets_out", sa.BigInteger),
        sa.Column("packets_in", sa.BigInteger),
        sa.Column("duration", sa.Float),
        sa.Column("tcp_flags", sa.String(64)),
        sa.Column("action", sa.String(32)),
        sa.Column("http_method", sa.String(32)),
        sa.Column("url", LongText),
        sa.Column("http_status", sa.SmallInteger),
        sa.Column("user_agent", sa.Text),
        sa.Column("user", sa.String(256)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("message", LongText),
        sa.Column("raw", LongText),
        sa.Column("label", sa.String(128)),
        sa.Column("extra", sa.JSON),
        sa.Column("source_id", Id),
        sa.Column("line_no", sa.BigInteger),
        foreign_keys={"source_id": ("ingest_sources", "SET NULL")},
        indexes=[("timestamp",), ("src_addr", "timestamp"), ("dst_addr", "timestamp"),
                 ("dst_port", "timestamp")],
    )

    create_table(
        "quarantine",
        id_column(),
        sa.Column("received", UtcDateTime, nullable=False),
        sa.Column("source_id", Id),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("line_no", sa.BigInteger),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(512), nullable=False),
        sa.Column("raw", LongText, nullable=False),
        sa.Column("raw_length", sa.BigInteger, nullable=False),
        foreign_keys={"source_id": ("ingest_sources", "SET NULL")},
        indexes=[("received",), ("reason",)],
    )

    create_table(
        "rollups",
        sa.Column("minute", UtcDateTime, nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("dst_port", sa.Integer, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        primary_key=("minute", "source_kind", "transport", "dst_port"),
    )


def downgrade() -> None:
    drop_tables("rollups", "quarantine", "events", "ingest_sources")
