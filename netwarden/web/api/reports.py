"""``/api/v1/reports``: the report kinds, the archive (download any PDF: viewers), generate now (analysts),
schedules (admins)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from netwarden.report import archive
from netwarden.report.data import Period
from netwarden.report.kinds import UnknownReport, get_kind, kinds
from netwarden.report.render import Report, ReportError, render_html, to_pdf
from netwarden.report.schedule import ScheduleError, check_cron, check_emails, next_run, parse_since
from netwarden.store.database import Database
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId, fast_json, get_db

router = APIRouter(tags=["reports"])


class ReportRequest(BaseModel):
    kind: str = Field(max_length=32)
    since: str = Field("", max_length=8, description="the period before now: 12h, 1d, 30d, 2w; default: the kind's")
    incident: int | None = Field(None, ge=1, le=2**63 - 1)
    model: str | None = Field(None, max_length=80)


def build(db: Database, settings: Any, req: ReportRequest, *, pdf: bool = True) -> Report:
    """Render a report as asked; every mistake is a 4xx with the reason."""
    try:
        kind = get_kind(req.kind)
        length = parse_since(req.since) if req.since else kind.DEFAULT_SINCE
    except (UnknownReport, ScheduleError) as exc:
        raise HTTPException(400, str(exc)) from None
    end = datetime.now(timezone.utc)
    options = {k: v for k, v in (("incident", req.incident), ("model", req.model)) if v}
    try:
        with db.engine.connect() as conn:
            report = render_html(conn, settings, req.kind, Period(end - length, end, settings.site_tz()), options)
    except ReportError as exc:
        raise HTTPException(404, str(exc)) from None
    return to_pdf(report, settings) if pdf else report


def generate_and_archive(db: Database, settings: Any, req: ReportRequest, by: str) -> dict[str, Any]:
    report = build(db, settings, req)
    with db.engine.begin() as conn:
        return archive.listed(conn, archive.save(conn, report, by=by))  # type: ignore[return-value]


@router.get("/reports")
def reports_overview(limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=1_000_000),
                     db: Database = Depends(get_db), who: Principal = Depends(require("viewer"))) -> Any:
    """The report kinds, the archive (newest first, without the PDFs) and the schedules."""
    with db.engine.connect() as conn:
        listed, planned = archive.listing(conn, limit, offset), archive.schedules(conn)
    return fast_json({"kinds": [{"name": n, "title": k.TITLE, "description": k.DESCRIPTION,
                                 "default_hours": k.DEFAULT_SINCE.total_seconds() / 3600} for n, k in kinds().items()],
                      "archive": listed, "schedules": planned})


@router.post("/reports", status_code=201)
def reports_generate(request: Request, req: ReportRequest = Body(...), db: Database = Depends(get_db),
                     who: Principal = Depends(require("analyst"))) -> Any:
    """Generate a report now and keep it in the archive."""
    return fast_json(generate_and_archive(db, request.app.state.settings, req, who.name), status_code=201)


def pdf_response(db: Database, report_id: int, inline: bool) -> Response:
    with db.engine.connect() as conn:
        row = archive.get(conn, report_id)
    if row is None:
        raise HTTPException(404, f"no report #{report_id}")
    name = f"netwarden-{row['kind']}-{row['created']:%Y%m%d-%H%M}-{row['id']}.pdf"
    return Response(row["pdf"], media_type="application/pdf", headers={
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
        "Cache-Control": "private, no-store"})


@router.get("/reports/{report_id}/pdf", responses={200: {"content": {"application/pdf": {}}}})
def reports_pdf(report_id: RowId, inline: bool = Query(False, description="show in the browser"),
                db: Database = Depends(get_db), who: Principal = Depends(require("viewer"))) -> Response:
    """One archived report's PDF."""
    return pdf_response(db, report_id, inline)


class NewSchedule(BaseModel):
    kind: str = Field(max_length=32)
    cron: str = Field(max_length=64, description='minute hour day month weekday in the site\'s zone: "0 7 * * MON"')
    since: str = Field("", max_length=8)
    emails: list[str] = Field(default_factory=list, max_length=20)


def create_schedule(db: Database, settings: Any, new: NewSchedule, by: str) -> dict[str, Any]:
    try:
        get_kind(new.kind)
        expression = check_cron(new.cron)
        emails = check_emails([e.strip() for e in new.emails if e.strip()])
        if new.since:
            parse_since(new.since)
    except (UnknownReport, ScheduleError) as exc:
        raise HTTPException(400, str(exc)) from None
    first = next_run(expression, settings.site_tz(), datetime.now(timezone.utc))
    with db.engine.begin() as conn:
        new_id = archive.add_schedule(conn, kind=new.kind, cron=expression, since=new.since, emails=emails,
                                      options={}, by=by, next_run=first)
        return next(s for s in archive.schedules(conn) if s["id"] == new_id)


@router.post("/reports/schedules", status_code=201)
def schedules_add(request: Request, new: NewSchedule = Body(...), db: Database = Depends(get_db),
                  who: Principal = Depends(require("admin"))) -> Any:
    """Schedule a report (``netwarden serve`` runs it and e-mails it with the [notify.smtp] settings)."""
    return fast_json(create_schedule(db, request.app.state.settings, new, who.name), status_code=201)


@router.delete("/reports/schedules/{schedule_id}")
def schedules_remove(schedule_id: RowId, db: Database = Depends(get_db),
                     who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    with db.engine.begin() as conn:
        if not archive.remove_schedule(conn, schedule_id):
            raise HTTPException(404, f"no schedule #{schedule_id}")
    return {"removed": schedule_id}
