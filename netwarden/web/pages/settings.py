"""The settings page (admins): listeners, feeds, detector thresholds (read-only), users and roles, API tokens."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.web import accounts
from netwarden.web.api.settings import settings_view
from netwarden.web.deps import RowId
from netwarden.web.auth import Principal, require
from netwarden.web.render import NavEntry, render
from netwarden.web.sessions import list_tokens, revoke_token

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Settings", "/settings", order=90, role="admin")


def _page(request: Request, message: str = "", error: str = "", status: int = 200,
          one_time: tuple[str, str] | None = None) -> HTMLResponse:
    db = request.app.state.db
    return render(request, "settings.html", {
        "view": settings_view(request.app.state.runtime), "users": accounts.list_users(db),
        "tokens": list_tokens(db), "message": message, "error": error, "one_time": one_time,
        "roles": ["viewer", "analyst", "admin"]}, status_code=status)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, who: Principal = Depends(require("admin"))) -> Response:
    return _page(request)


@router.post("/settings/users", response_class=HTMLResponse)
def add_user(request: Request, name: str = Form(..., max_length=64), role: str = Form(..., max_length=16),
             who: Principal = Depends(require("admin"))) -> Response:
    """A new user with a one-time password shown once (they choose their own at first login)."""
    password = secrets.token_urlsafe(12)
    try:
        accounts.add_user(request.app.state.db, name, password, role, must_change=True)
    except accounts.AccountError as exc:
        return _page(request, error=str(exc), status=400)
    return _page(request, message=f"User {name} added.", one_time=(name, password))


@router.post("/settings/users/{name}/role", response_class=HTMLResponse)
def set_role(request: Request, name: str, role: str = Form(..., max_length=16),
             who: Principal = Depends(require("admin"))) -> Response:
    try:
        accounts.set_role(request.app.state.db, name, role)
    except accounts.AccountError as exc:
        return _page(request, error=str(exc), status=400)
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/users/{name}/password", response_class=HTMLResponse)
def reset_password(request: Request, name: str, who: Principal = Depends(require("admin"))) -> Response:
    password = secrets.token_urlsafe(12)
    try:
        accounts.set_password(request.app.state.db, name, password, must_change=True)
    except accounts.AccountError as exc:
        return _page(request, error=str(exc), status=400)
    return _page(request, message=f"New one-time password for {name}.", one_time=(name, password))


@router.post("/settings/users/{name}/delete", response_class=HTMLResponse)
def delete_user(request: Request, name: str, who: Principal = Depends(require("admin"))) -> Response:
    try:
        accounts.remove_user(request.app.state.db, name)
    except accounts.AccountError as exc:
        return _page(request, error=str(exc), status=400)
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/tokens/{token_id}/delete", response_class=HTMLResponse)
def delete_token(request: Request, token_id: RowId, who: Principal = Depends(require("admin"))) -> Response:
    revoke_token(request.app.state.db, token_id)
    return RedirectResponse("/settings", status_code=303)
