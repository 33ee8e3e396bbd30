"""Check an event: a form for one connection or one pasted log line; the verdict comes from
``POST /api/v1/check`` (nothing is stored)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from netwarden.web.auth import Principal, require
from netwarden.web.render import NavEntry, render

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Check", "/check", order=35, role="analyst")


@router.get("/check", response_class=HTMLResponse)
def check_page(request: Request, who: Principal = Depends(require("analyst"))) -> Response:
    from netwarden.parse import parsers

    from netwarden.web.api.check import history_of

    return render(request, "check.html", {"formats": list(parsers()),
                                          "history": history_of(request.app.state.db, who.name, 20)})
