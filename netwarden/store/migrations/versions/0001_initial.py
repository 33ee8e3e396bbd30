"""Initial schema: ingest sources, events, quarantine, rollups.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from netwarden.store.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Address = sa.LargeBinary(16).with_variant(mysql.VARBINARY(16), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "ingest_sources",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
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
        sa.PrimaryKeyConstraint("id", name="pk_ingest_sources"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_ingest_sources_first_line_sha", "ingest_sources", ["first_line_sha"])

    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
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
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(["source_id"], ["ingest_sources.id"], ondelete="SET NULL",
                                name="fk_events_source_id_ingest_sources"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_events_timestamp", "events", ["timestamp"])
    op.create_index("ix_events_src_addr_timestamp", "events", ["src_addr", "timestamp"])
    op.create_index("ix_events_dst_addr_timestamp", "events", ["dst_addr", "timestamp"])
    op.create_index("ix_events_dst_port_timestamp", "events", ["dst_port", "timestamp"])

    op.create_table(
        "quarantine",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("received", UtcDateTime, nullable=False),
        sa.Column("source_id", Id),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("line_no", sa.BigInteger),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(512), nullable=False),
        sa.Column("raw", LongText, nullable=False),
        sa.Column("raw_length", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
        sa.ForeignKeyConstraint(["source_id"], ["ingest_sources.id"], ondelete="SET NULL",
                                name="fk_quarantine_source_id_ingest_sources"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_quarantine_received", "quarantine", ["received"])
    op.create_index("ix_quarantine_reason", "quarantine", ["reason"])

    op.create_table(
        "rollups",
        sa.Column("minute", UtcDateTime, nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("dst_port", sa.Integer, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("minute", "source_kind", "transport", "dst_port", name="pk_rollups"),
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("rollups")
    op.drop_table("quarantine")
    op.drop_table("events")
    op.drop_table("ingest_sources")
