"""The signed-in user's own account: password, TOTP second factor, API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.accounts import users as accounts
from netwarden.web.deps import RowId
from netwarden.web.auth import Principal, require
from netwarden.web.pages.login import set_session_cookie
from netwarden.web.render import render
from netwarden.accounts.sessions import create_session, create_token, list_tokens, revoke_token

router = APIRouter(include_in_schema=False)


def _account(request: Request, who: Principal, status: int = 200, **extra: Any) -> HTMLResponse:
    db = request.app.state.db
    user = accounts.get_user(db, user_id=who.user_id)
    context = {"account": user, "tokens": list_tokens(db, who.user_id), "message": "", "error": "",
               "new_token": None, "totp_secret": None, "totp_uri": None}
    context.update(extra)
    return render(request, "account.html", context, status_code=status)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    return _account(request, who)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, who: Principal = Depends(require("viewer", allow_must_change=True))) -> Response:
    return render(request, "password.html", {"error": "", "must_change": who.must_change})


@router.post("/account/password", response_class=HTMLResponse)
def change_password(request: Request, current: str = Form("", max_length=1024), new: str = Form("", max_length=2048),
                    again: str = Form("", max_length=2048),
                    who: Principal = Depends(require("viewer", allow_must_change=True))) -> Response:
    db = request.app.state.db
    error = ""
    if not accounts.verify_password(db, who.user_id, current):
        error = "The current password is wrong."
    elif new != again:
        error = "The two new passwords differ."
    elif new == current:
        error = "The new password must differ from the current one."
    else:
        try:
            accounts.set_password(db, who.name, new)  # ends every session of this user ...
        except accounts.AccountError as exc:
            error = str(exc).capitalize() + "."
    if error:
        return render(request, "password.html", {"error": error, "must_change": who.must_change}, status_code=400)
    # ... so this browser gets a fresh one
    token = create_session(db, who.user_id, request.client.host if request.client else None,
                           request.app.state.settings.web)
    response = RedirectResponse("/account?changed=1", status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/account/totp", response_class=HTMLResponse)
def totp_start(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    """Step 1: a new secret, shown with its otpauth URI; it is active only once a code from it is confirmed."""
    secret = accounts.new_totp_secret()
    request.app.state.runtime.totp_pending[who.user_id] = secret
    return _account(request, who, totp_secret=secret, totp_uri=accounts.totp_uri(secret, who.name))


@router.post("/account/totp/confirm", response_class=HTMLResponse)
def totp_confirm(request: Request, code: str = Form("", max_length=20),
                 who: Principal = Depends(require("viewer"))) -> Response:
    pending = request.app.state.runtime.totp_pending
    secret = pending.get(who.user_id)
    if secret is None:
        return _account(request, who, error="Start the enrolment again.", status=400)
    if not accounts.verify_totp(secret, code):
        return _account(request, who, error="That code does not match; try the next one.", totp_secret=secret,
                        totp_uri=accounts.totp_uri(secret, who.name), status=400)
    accounts.set_totp(request.app.state.db, who.user_id, secret)
    pending.pop(who.user_id, None)
    return _account(request, who, message="Two-factor login is on: the next login asks for a code.")


@router.post("/account/totp/disable", response_class=HTMLResponse)
def totp_disable(request: Request, password: str = Form("", max_length=1024),
                 who: Principal = Depends(require("viewer"))) -> Response:
    db = request.app.state.db
    if not accounts.verify_password(db, who.user_id, password):
        return _account(request, who, error="The password is wrong.", status=400)
    accounts.set_totp(db, who.user_id, None)
    return _account(request, who, message="Two-factor login is off.")


@router.post("/account/tokens", response_class=HTMLResponse)
def token_create(request: Request, name: str = Form("script", min_length=1, max_length=64),
                 days: float | None = Form(None, gt=0, le=3650),
                 who: Principal = Depends(require("viewer"))) -> Response:
    _, secret = create_token(request.app.state.db, who.user_id, name, days=days)
    return _account(request, who, new_token=secret, message="Copy the token now: it is not shown again.")


@router.post("/account/tokens/{token_id}/delete", response_class=HTMLResponse)
def token_delete(request: Request, token_id: RowId, who: Principal = Depends(require("viewer"))) -> Response:
    revoke_token(request.app.state.db, token_id, who.user_id)
    return RedirectResponse("/account", status_code=303)
