"""The alerts page: colour-coded list with filters, detail with evidence and related events, status changes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.records import AlertStatus
from netwarden.store import alerts as alert_store
from netwarden.web.api.alerts import alert_filter, find, incident_of, related_events
from netwarden.web.deps import RowId
from netwarden.web.auth import Principal, require
from netwarden.web.places import country_label, place_of
from netwarden.web.render import NavEntry, render, without_empty_fields

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Alerts", "/alerts", order=30)
PAGE = 50
FILTERS = ("since", "until", "kind", "severity", "status", "source", "q")


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, _: None = Depends(without_empty_fields), filters: tuple = Depends(alert_filter), page: int = Query(1, ge=1, le=2000),
                who: Principal = Depends(require("viewer"))) -> Response:
    flt, text = filters
    rows = find(request.app.state.db, flt, text, PAGE + 1, (page - 1) * PAGE)
    params = {k: v for k, v in request.query_params.items() if k in FILTERS and v}
    return render(request, "alerts.html", {"alerts": rows[:PAGE], "more": len(rows) > PAGE, "page": page,
                                           "filters": params})


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: RowId, who: Principal = Depends(require("viewer"))) -> Response:
    db = request.app.state.db
    with db.engine.connect() as conn:
        alert = alert_store.get_alert(conn, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    return render(request, "alert.html", {"alert": alert, "incident": incident_of(db, alert),
                                          "events": related_events(db, alert),
                                          "can_change": who.can("analyst"),
                                          "country": country_label(place_of(request.app.state.settings, alert.source))})


@router.post("/alerts/{alert_id}/status")
def alert_status(request: Request, alert_id: RowId,
                 status: str = Form(..., pattern="^(new|acknowledged|resolved|false_positive)$"),
                 note: str = Form("", max_length=2000), who: Principal = Depends(require("analyst"))) -> Response:
    try:
        with request.app.state.db.engine.begin() as conn:
            alert_store.set_status(conn, alert_id, AlertStatus(status), by=who.name, note=note)
    except LookupError:
        raise HTTPException(404, f"no alert with id {alert_id}") from None
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)
