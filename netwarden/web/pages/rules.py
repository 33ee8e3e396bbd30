"""The Rules page: threshold rules written as TOML (applied live), Sigma rules imported with pySigma (their
ATT&CK tags shown), and "try on history" for either before it is used (static/js/rules.js)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from netwarden.accounts.users import Role
from netwarden.web.api.rules import rules_view
from netwarden.web.auth import Principal, require
from netwarden.web.render import NavEntry, render

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Rules", "/rules", order=85, role="analyst")


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, who: Principal = Depends(require("analyst"))) -> Response:
    return render(request, "rules.html", {"rules": rules_view(request.app), "can_edit": who.role >= Role.ADMIN})
