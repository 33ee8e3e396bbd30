"""Detection: alerts, incidents, suppressions (remembered false positives), detector state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from netwarden.store.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Address = sa.LargeBinary(16).with_variant(mysql.VARBINARY(16), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kinds", sa.JSON, nullable=False),
        sa.Column("alert_count", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_incidents_source_last_seen", "incidents", ["source", "last_seen"])
    op.create_table(
        "alerts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subkind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("factors", sa.JSON, nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("source_addr", Address),
        sa.Column("target", sa.String(255)),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("recommendation", sa.Text, nullable=False),
        sa.Column("detector", sa.String(32), nullable=False),
        sa.Column("signature", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("incident_id", Id),
        sa.Column("model_version", sa.String(64)),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("updated", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="SET NULL",
                                name="fk_alerts_incident_id_incidents"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_alerts_last_seen", "alerts", ["last_seen"])
    op.create_index("ix_alerts_source_addr_last_seen", "alerts", ["source_addr", "last_seen"])
    op.create_index("ix_alerts_status_last_seen", "alerts", ["status", "last_seen"])
    op.create_index("ix_alerts_kind_source", "alerts", ["kind", "source"])
    op.create_table(
        "suppressions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(255), nullable=False),
        sa.Column("alert_id", Id),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="SET NULL",
                                name="fk_suppressions_alert_id_alerts"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_suppressions_kind_source", "suppressions", ["kind", "source"])
    op.create_table(
        "detector_state",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("state", LongText, nullable=False),
        sa.Column("saved", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_detector_state"),
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("detector_state")
    op.drop_table("suppressions")
    op.drop_table("alerts")
    op.drop_table("incidents")
