"""The archive of generated reports and the schedules, in the database (tables in store/schema_report.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from netwarden.report.render import Report
from netwarden.store.schema_report import report_archive, report_schedules

LISTED = [c for c in report_archive.c if c.name != "pdf"]


def save(conn: Connection, report: Report, *, by: str, schedule_id: int | None = None) -> int:
    return int(conn.execute(insert(report_archive).values(
        kind=report.kind, title=report.title[:255], period_start=report.period.since, period_end=report.period.until,
        created=report.created, created_by=by, schedule_id=schedule_id, size=len(report.pdf), pdf=report.pdf,
    )).inserted_primary_key[0])


def listing(conn: Connection, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Archived reports, newest first, without their PDF."""
    stmt = select(*LISTED).order_by(report_archive.c.created.desc(), report_archive.c.id.desc()) \
        .limit(limit).offset(offset)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def listed(conn: Connection, report_id: int) -> dict[str, Any] | None:
    """One archived report as the listing shows it (without its PDF)."""
    row = conn.execute(select(*LISTED).where(report_archive.c.id == report_id)).first()
    return dict(row._mapping) if row else None


def get(conn: Connection, report_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(report_archive).where(report_archive.c.id == report_id)).first()
    return dict(row._mapping) if row else None


def add_schedule(conn: Connection, *, kind: str, cron: str, since: str, emails: list[str], options: dict[str, Any],
                 by: str, next_run: datetime) -> int:
    return int(conn.execute(insert(report_schedules).values(
        kind=kind, cron=cron, since=since, emails=emails, options=options, enabled=True, created_by=by,
        created=datetime.now(timezone.utc), last_run=None, next_run=next_run, last_error="",
    )).inserted_primary_key[0])


def schedules(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(report_schedules).order_by(report_schedules.c.id))]


def due(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(
        select(report_schedules).where(report_schedules.c.enabled.is_(True), report_schedules.c.next_run <= now)
        .order_by(report_schedules.c.next_run, report_schedules.c.id))]


def mark_run(conn: Connection, schedule_id: int, *, ran: datetime, next_run: datetime, error: str) -> None:
    conn.execute(update(report_schedules).where(report_schedules.c.id == schedule_id)
                 .values(last_run=ran, next_run=next_run, last_error=error[:2000]))


def remove_schedule(conn: Connection, schedule_id: int) -> bool:
    return conn.execute(delete(report_schedules).where(report_schedules.c.id == schedule_id)).rowcount > 0
