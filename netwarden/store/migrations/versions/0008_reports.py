"""Report schedules and the archive of generated reports.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from netwarden.store.schema import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Pdf = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "report_schedules",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
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
        sa.PrimaryKeyConstraint("id", name="pk_report_schedules"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_report_schedules_next_run", "report_schedules", ["next_run"])
    op.create_table(
        "report_archive",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("period_start", UtcDateTime, nullable=False),
        sa.Column("period_end", UtcDateTime, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("schedule_id", Id),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("pdf", Pdf, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_archive"),
        sa.ForeignKeyConstraint(["schedule_id"], ["report_schedules.id"], ondelete="SET NULL",
                                name="fk_report_archive_schedule_id_report_schedules"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_report_archive_created", "report_archive", ["created"])


def downgrade() -> None:
    op.drop_index("ix_report_archive_created", table_name="report_archive")
    op.drop_table("report_archive")
    op.drop_index("ix_report_schedules_next_run", table_name="report_schedules")
    op.drop_table("report_schedules")
