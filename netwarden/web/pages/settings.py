"""The settings page (admins): listeners, feeds, detector thresholds (read-only), users and roles, API tokens."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.accounts import users as accounts
from netwarden.respond.firewall.base import BACKENDS
from netwarden.web.api.settings import settings_view
from netwarden.web.live_settings import view as live_view
from netwarden.web.deps import RowId
from netwarden.web.auth import Principal, require
from netwarden.web.render import NavEntry, render
from netwarden.accounts.sessions import list_tokens, revoke_token

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Settings", "/settings", order=90, role="admin")


def _page(request: Request, message: str = "", error: str = "", status: int = 200,
          one_time: tuple[str, str] | None = None) -> HTMLResponse:
    db = request.app.state.db
    if not message and request.query_params.get("applied"):
        message = "Applied (no restart needed unless marked)."
    return render(request, "settings.html", {
        "view": settings_view(request.app.state.runtime), "users": accounts.list_users(db),
        "live": live_view(request.app), "feed_rows": feed_rows(request.app),
        "tokens": list_tokens(db), "message": message, "error": error, "one_time": one_time,
        "roles": ["viewer", "analyst", "admin"], "backends": BACKENDS.names()}, status_code=status)


def feed_rows(app: Any) -> list[dict[str, Any]]:
    """Each configured feed: entries loaded by the running intel detector, and for a URL its downloads."""
    from netwarden.enrich.feed_fetch import is_url, local_path, status

    intel = app.state.settings.intel
    loaded = {}
    for detector in getattr(app.state.runtime.engine, "detectors", []):
        if detector.name == "intel":
            loaded = detector.index.status
    rows = []
    for feed in intel.feeds:
        path = str(local_path(feed, intel.cache_dir)) if is_url(feed) else feed
        index = loaded.get(path)
        row = {"feed": feed, "url": is_url(feed), "entries": index.entries if index else None,
               "problem": index.problem if index and not is_url(feed) else None,
               "last_update": None, "last_error": None}
        if is_url(feed):
            row.update({k: status(feed, intel.cache_dir)[k] for k in ("last_update", "last_error")})
        rows.append(row)
    return rows


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


@router.post("/settings/respond", response_class=HTMLResponse)
def live_respond(request: Request, threshold: str = Form("", max_length=32), auto_block: str = Form(""),
                 mode: str = Form("", max_length=16), never_block: str = Form("", max_length=20000),
                 durations: str = Form("", max_length=2000), reset: str = Form("", max_length=64),
                 who: Principal = Depends(require("admin"))) -> Response:
    """The response settings form: applied at once, recorded with who and when."""
    from fastapi import HTTPException

    from netwarden.web.api.settings import change_live

    if reset:
        changes: dict = {reset: None}
    else:
        try:
            value = float(threshold)
        except ValueError:
            return _page(request, error=f"respond.threshold: {threshold[:32]!r} is not a number", status=400)
        changes = {"respond.threshold": value, "respond.auto_block": auto_block == "on", "respond.mode": mode,
                   "respond.never_block": [x.strip() for x in never_block.splitlines() if x.strip()],
                   "respond.durations": durations.replace(",", " ").split()}
        current = request.app.state.settings.respond  # a form sends every field: keep only what changed
        changes = {k: v for k, v in changes.items() if getattr(current, k.split(".", 1)[1]) != v}
        if not changes:
            return _page(request, message="Nothing changed.")
    try:
        change_live(request, changes, who)
    except HTTPException as exc:
        return _page(request, error=str(exc.detail), status=exc.status_code)
    return _page(request, message="Response settings applied (no restart needed).")
