"""The incidents pages: a list with totals and paging, one incident's timeline, its status."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.store.incidents import STATUSES
from netwarden.web.api.incidents import change_incident, incident_with_timeline, paged_incidents
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId
from netwarden.web.render import NavEntry, render, without_empty_fields

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Incidents", "/incidents", order=31)
PAGE = 50


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, _: None = Depends(without_empty_fields),
                   status: str | None = Query(None, pattern="^(open|acknowledged|resolved)$"),
                   cursor: str | None = Query(None, max_length=200),
                   who: Principal = Depends(require("viewer"))) -> Response:
    total, rows, next_cursor = paged_incidents(request.app.state.db, status=status, limit=PAGE, cursor=cursor)
    return render(request, "incidents.html", {"incidents": rows, "total": total, "status": status,
                                              "first_page": not cursor, "next_cursor": next_cursor,
                                              "statuses": STATUSES})


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: RowId, who: Principal = Depends(require("viewer"))) -> Response:
    incident = incident_with_timeline(request.app.state.db, incident_id)
    return render(request, "incident.html", {"incident": incident, "can_change": who.can("analyst"),
                                             "statuses": STATUSES})


@router.post("/incidents/{incident_id}/status")
def incident_status(request: Request, incident_id: RowId,
                    status: str = Form(..., pattern="^(open|acknowledged|resolved)$"),
                    who: Principal = Depends(require("analyst"))) -> Response:
    change_incident(request.app.state.db, incident_id, status)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)
