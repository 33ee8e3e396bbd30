"""Detection: alerts, incidents, suppressions (remembered false positives), detector state."""

import sqlalchemy as sa

from netwarden.store.migrations.tables import Address, Id, LongText, NewTable, new_tables
from netwarden.store.schema import UtcDateTime

revision = "0002"
down_revision = "0001"

upgrade, downgrade = new_tables(
    NewTable("incidents",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kinds", sa.JSON, nullable=False),
        sa.Column("alert_count", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        indexes=[("source", "last_seen")],
    ),
    NewTable("alerts",
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
        foreign_keys={"incident_id": ("incidents", "SET NULL")},
        indexes=[("last_seen",), ("source_addr", "last_seen"), ("status", "last_seen"), ("kind", "source")],
    ),
    NewTable("suppressions",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(255), nullable=False),
        sa.Column("alert_id", Id),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        foreign_keys={"alert_id": ("alerts", "SET NULL")},
        indexes=[("kind", "source")],
    ),
    NewTable("detector_state",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("state", LongText, nullable=False),
        sa.Column("saved", UtcDateTime, nullable=False),
        primary_key=("name",),
    ),
)
