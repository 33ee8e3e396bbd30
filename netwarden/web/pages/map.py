"""The map: sources and destinations by country (offline geolocation and map shapes); click a country for
its addresses, events and alerts. Data from ``/api/v1/geo``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from netwarden.web.auth import Principal, require
from netwarden.web.render import NavEntry, render

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Map", "/map", order=27)


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    return render(request, "map.html")
