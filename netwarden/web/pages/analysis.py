"""The analysis page: traffic over time, protocols and ports, top talkers and destinations, who talks to
whom, HTTP mix; a time range and filters; every row links to its events. Data from ``/api/v1/analysis``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from netwarden.web.auth import Principal, require
from netwarden.web.render import NavEntry, render

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Analysis", "/analysis", order=25)


@router.get("/analysis", response_class=HTMLResponse)
def analysis_page(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    return render(request, "analysis.html")
