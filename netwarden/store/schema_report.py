"""Report tables: schedules and the archive of generated reports (netwarden.report).

Imported at the end of netwarden.store.schema; a change here needs its Alembic migration too. A PDF is
kept in the database (a few hundred kB), so that every web process and a restored backup have the archive.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.dialects import mysql

from netwarden.store.schema import Id, UtcDateTime, metadata

# MySQL's BLOB holds 64 KiB; a report is larger
Pdf = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")

report_schedules = Table(
    "report_schedules", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("cron", String(64), nullable=False),  # minute hour day month weekday, in the site's zone
    Column("since", String(16), nullable=False),  # the period before each run ("1d", "7d"); "" = the kind's default
    Column("emails", JSON, nullable=False),  # recipients; empty: archived only
    Column("options", JSON, nullable=False),  # the kind's options (incident, model)
    Column("enabled", Boolean, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("last_run", UtcDateTime),
    Column("next_run", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=False),
    Index(None, "next_run"),
)

report_archive = Table(
    "report_archive", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("title", String(255), nullable=False),
    Column("period_start", UtcDateTime, nullable=False),
    Column("period_end", UtcDateTime, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),  # a user, or "schedule"
    Column("schedule_id", ForeignKey("report_schedules.id", ondelete="SET NULL")),
    Column("size", Integer, nullable=False),
    Column("pdf", Pdf, nullable=False),
    Index(None, "created"),
)

__all__ = ["report_schedules", "report_archive"]
