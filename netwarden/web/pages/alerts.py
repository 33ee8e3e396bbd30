"""The alerts page: colour-coded list with filters, detail with evidence and related events, status changes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.records import AlertStatus
from netwarden.store import alerts as alert_store
from netwarden.store.blocks import list_blocks
from netwarden.web.api.alerts import (alert_filter, change_many, find_and_count, incident_of, related_count,
                                      related_events, related_filter)
from netwarden.web.evidence import alert_port, evidence_view, excerpt
from netwarden.web.deps import RowId
from netwarden.web.auth import Principal, require
from netwarden.web.places import country_label, place_of
from netwarden.web.render import NavEntry, render, without_empty_fields

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Alerts", "/alerts", order=30)
PAGE = 50
FILTERS = ("since", "until", "kind", "severity", "status", "source", "q")


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, _: None = Depends(without_empty_fields), who: Principal = Depends(require("viewer")),
                flt: alert_store.AlertFilter = Depends(alert_filter),
                cursor: str | None = Query(None, max_length=200)) -> Response:
    # ``who`` before ``flt``: a caller not logged in is sent to the login page, whatever the filters
    db = request.app.state.db
    rows, next_cursor, total = find_and_count(db, flt, PAGE, cursor)
    params = {k: v for k, v in request.query_params.items() if k in FILTERS and v}
    return render(request, "alerts.html", {
        "alerts": [(a, alert_port(a), excerpt(a)) for a in rows], "total": total, "filters": params,
        "first_page": not cursor, "next_cursor": next_cursor, "can_change": who.can("analyst"),
        "back": urlencode(dict(params, cursor=cursor) if cursor else params)})


@router.post("/alerts/bulk")
def alerts_bulk(request: Request, ids: list[int] = Form(default_factory=list),
                status: str = Form(..., pattern="^(acknowledged|resolved)$"), back: str = Form("", max_length=2000),
                who: Principal = Depends(require("analyst"))) -> Response:
    """The list's "Acknowledge selected" / "Resolve selected"; back to the same filtered page."""
    if not ids:
        raise HTTPException(400, "select at least one alert")
    change_many(request.app.state.db, ids, status, who.name)
    kept = [(k, v) for k, v in parse_qsl(back) if k in FILTERS + ("cursor",)]
    return RedirectResponse("/alerts" + ("?" + urlencode(kept) if kept else ""), status_code=303)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: RowId, who: Principal = Depends(require("viewer"))) -> Response:
    db = request.app.state.db
    with db.engine.connect() as conn:
        alert = alert_store.get_alert(conn, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    flt = related_filter(alert)
    with db.engine.connect() as conn:
        active = list_blocks(conn, state="active", address=alert.source, limit=1) if flt is not None else []
    return render(request, "alert.html", {"alert": alert, "incident": incident_of(db, alert),
                                          "events": related_events(db, alert), "related_total": related_count(db, alert),
                                          "related_query": urlencode({"address": alert.source,
                                                                      "since": flt.since.isoformat(),
                                                                      "until": flt.until.isoformat()}) if flt else "",
                                          "evidence": evidence_view(alert), "block": active[0] if active else None,
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
