"""The dashboard: cards, live alert feed and event stream, traffic over time."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from netwarden.web.auth import Principal, require
from netwarden.web.render import NavEntry, render

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Dashboard", "/", order=10)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    return render(request, "dashboard.html")
