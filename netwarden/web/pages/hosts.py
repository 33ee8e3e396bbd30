"""The host page (any address from every side), repeat offenders and web visitors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.web.api.hosts import checked_address, host_data, offender_rows, visitor_data
from netwarden.web.auth import Principal, require
from netwarden.web.render import NavEntry, render

router = APIRouter(include_in_schema=False)
NAV = [NavEntry("Offenders", "/offenders", order=33), NavEntry("Visitors", "/visitors", order=28)]
CHART_HEIGHT = 100


def bars(points: list[dict[str, Any]], bucket: int) -> list[dict[str, Any]]:
    """Heights (1..CHART_HEIGHT) of the event volume bars; a bucket that is not over yet is marked partial
    (its low bar is not a collapse of traffic)."""
    top = max((p["events"] for p in points), default=0) or 1
    now = datetime.now(timezone.utc)
    out = []
    for i, p in enumerate(points):
        start = datetime.fromisoformat(p["start"].replace("Z", "+00:00"))
        out.append({**p, "x": i, "height": max(1, round(CHART_HEIGHT * p["events"] / top)),
                    "partial": start + timedelta(seconds=bucket) > now})
    return out


@router.get("/hosts", response_class=HTMLResponse)
def host_lookup(address: str = Query(..., max_length=64), who: Principal = Depends(require("viewer"))) -> Response:
    return RedirectResponse(f"/hosts/{checked_address(address)}", status_code=303)


@router.get("/hosts/{address}", response_class=HTMLResponse)
def host_page(request: Request, address: str, days: int = Query(7, ge=1, le=366),
              who: Principal = Depends(require("viewer"))) -> Response:
    data = host_data(request.app.state.db, request.app.state.settings, address[:64], days)
    volume = data["volume"]
    return render(request, "host.html", {"host": data, "days": days, "bucket": volume["bucket_seconds"],
                                         "bars": bars(volume["points"], volume["bucket_seconds"]),
                                         "chart_height": CHART_HEIGHT, "can_change": who.can("analyst")})


@router.get("/offenders", response_class=HTMLResponse)
def offenders_page(request: Request, days: int = Query(30, ge=1, le=366),
                   who: Principal = Depends(require("viewer"))) -> Response:
    rows = offender_rows(request.app.state.db, days, 100)
    steps = len(request.app.state.settings.respond.durations)
    return render(request, "offenders.html", {"offenders": rows, "days": days, "steps": steps})


@router.get("/visitors", response_class=HTMLResponse)
def visitors_page(request: Request, days: int = Query(7, ge=1, le=366),
                  who: Principal = Depends(require("viewer"))) -> Response:
    data = visitor_data(request.app.state.db, request.app.state.settings, days, 25)
    return render(request, "visitors.html", {"v": data, "days": days})
