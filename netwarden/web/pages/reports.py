"""The Reports page: generate now, preview, download, the archive; schedules (admins)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.report import archive
from netwarden.report.kinds import kinds
from netwarden.web.api.reports import NewSchedule, ReportRequest, build, create_schedule, generate_and_archive
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId
from netwarden.web.render import NavEntry, render

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Reports", "/reports", order=80)
PERIODS = [("", "the report's own"), ("1d", "last day"), ("7d", "last 7 days"), ("30d", "last 30 days")]
# the preview is the report's own HTML (inline styles, data: images) and nothing else: no script, no fetch
PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
               "frame-ancestors 'none'")


def _page(request: Request, who: Principal, *, error: str = "", status_code: int = 200) -> Response:
    db = request.app.state.db
    with db.engine.connect() as conn:
        listed, planned = archive.listing(conn, 200), archive.schedules(conn)
    return render(request, "reports.html", {
        "kinds": kinds(), "archive": listed, "schedules": planned, "periods": PERIODS, "error": error,
        "can_generate": who.can("analyst"), "can_schedule": who.can("admin"),
        "zone_name": str(request.app.state.settings.site_tz()),
        "mail": bool(request.app.state.settings.notify.smtp.host)}, status_code=status_code)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    return _page(request, who)


@router.get("/reports/preview", response_class=HTMLResponse)
def reports_preview(request: Request, kind: str = Query(..., max_length=32), since: str = Query("", max_length=8),
                    who: Principal = Depends(require("viewer"))) -> Response:
    """The report as a web page, without keeping it (to look before generating)."""
    report = build(request.app.state.db, request.app.state.settings, ReportRequest(kind=kind, since=since), pdf=False)
    return HTMLResponse(report.html, headers={"Content-Security-Policy": PREVIEW_CSP, "Cache-Control": "no-store"})


@router.post("/reports/generate")
def reports_generate(request: Request, kind: str = Form(..., max_length=32), since: str = Form("", max_length=8),
                     who: Principal = Depends(require("analyst"))) -> Response:
    try:
        generate_and_archive(request.app.state.db, request.app.state.settings,
                             ReportRequest(kind=kind, since=since), who.name)
    except HTTPException as exc:
        return _page(request, who, error=str(exc.detail), status_code=exc.status_code)
    return RedirectResponse("/reports", status_code=303)


@router.post("/reports/schedules")
def schedules_add(request: Request, kind: str = Form(..., max_length=32), cron: str = Form(..., max_length=64),
                  since: str = Form("", max_length=8), emails: str = Form("", max_length=2000),
                  who: Principal = Depends(require("admin"))) -> Response:
    new = NewSchedule(kind=kind, cron=cron, since=since,
                      emails=[e.strip() for e in emails.replace(";", ",").split(",") if e.strip()][:20])
    try:
        create_schedule(request.app.state.db, request.app.state.settings, new, who.name)
    except HTTPException as exc:
        return _page(request, who, error=str(exc.detail), status_code=exc.status_code)
    return RedirectResponse("/reports", status_code=303)


@router.post("/reports/schedules/{schedule_id}/remove")
def schedules_remove(request: Request, schedule_id: RowId, who: Principal = Depends(require("admin"))) -> Response:
    with request.app.state.db.engine.begin() as conn:
        if not archive.remove_schedule(conn, schedule_id):
            raise HTTPException(404, f"no schedule #{schedule_id}")
    return RedirectResponse("/reports", status_code=303)
