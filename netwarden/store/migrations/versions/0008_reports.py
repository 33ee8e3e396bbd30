"""Report schedules and the archive of generated reports."""

import sqlalchemy as sa

from netwarden.store.migrations.tables import Blob, Id, NewTable, new_tables
from netwarden.store.schema import UtcDateTime

revision = "0008"
down_revision = "0007"

upgrade, downgrade = new_tables(
    NewTable("report_schedules",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("cron", sa.String(64), nullable=False),
        sa.Column("since", sa.String(16), nullable=False),
        sa.Column("emails", sa.JSON, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("last_run", UtcDateTime),
        sa.Column("next_run", UtcDateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        indexes=[("next_run",)],
    ),
    NewTable("report_archive",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("period_start", UtcDateTime, nullable=False),
        sa.Column("period_end", UtcDateTime, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("schedule_id", Id),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("pdf", Blob, nullable=False),
        foreign_keys={"schedule_id": ("report_schedules", "SET NULL")},
        indexes=[("created",)],
    ),
)
