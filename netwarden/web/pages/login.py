"""Logging in (password, then the TOTP code when enrolled) and out."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from netwarden.accounts import users as accounts
from netwarden.web.auth import SESSION_COOKIE, Principal, current_principal, require, same_origin
from netwarden.web.render import render
from netwarden.accounts.sessions import complete_second_factor, create_session, end_session

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "nw_login"  # double-submit token: a foreign page cannot log a browser into its own account


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def safe_next(value: str | None) -> str:
    """Only a path on this site (no //host, no scheme): an open redirect would help phishing."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value:
        return "/"
    return value


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


def _login_form(request: Request, message: str = "", status: int = 200, next_: str = "/") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"message": message, "login_token": token, "next": safe_next(next_)},
                      status_code=status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=request.url.scheme == "https")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    return _login_form(request, next_=next)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, username: str = Form("", max_length=200), password: str = Form("", max_length=1024),
          login_token: str = Form("", max_length=200), next: str = Form("/", max_length=2000)) -> Response:  # noqa: A002
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not same_origin(request) or not cookie or not hmac.compare_digest(cookie.encode(), login_token.encode()):
        return _login_form(request, "The form expired; please try again.", 400, next)
    db, web = request.app.state.db, request.app.state.settings.web
    try:
        user = accounts.check_login(db, username, password, client_address(request), web)
    except accounts.LockedOut as exc:
        return _login_form(request, str(exc).capitalize() + ".", 429, next)
    if user is None:
        return _login_form(request, "Wrong user name or password.", 401, next)
    pending = user.totp
    token = create_session(db, user.id, client_address(request), web, second_factor_pending=pending)
    target = "/login/totp?next=" + safe_next(next) if pending else \
        ("/account/password" if user.must_change else safe_next(next))
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.get("/login/totp", response_class=HTMLResponse)
def totp_page(request: Request, next: str = "/") -> Response:  # noqa: A002
    principal = current_principal(request)
    if principal is None or not principal.second_factor_pending:
        return RedirectResponse("/login", status_code=303)
    return render(request, "login_totp.html", {"message": "", "next": safe_next(next),
                                               "csrf_token": principal.csrf or ""})


@router.post("/login/totp", response_class=HTMLResponse)
def totp_check(request: Request, code: str = Form("", max_length=20), csrf: str = Form("", max_length=200),
               next: str = Form("/", max_length=2000)) -> Response:  # noqa: A002
    principal = current_principal(request)
    if principal is None or not principal.second_factor_pending:
        return RedirectResponse("/login", status_code=303)
    if not principal.csrf or not hmac.compare_digest(csrf.encode(), principal.csrf.encode()) \
            or not same_origin(request):
        return RedirectResponse("/login", status_code=303)
    db, web = request.app.state.db, request.app.state.settings.web
    secret = accounts.totp_secret(db, principal.user_id)
    if secret is None or not accounts.verify_totp(secret, code):
        accounts.record_failure(db, principal.name, client_address(request))
        failures_left = _too_many(request, principal)
        if failures_left:
            end_session(db, principal.session_id or 0)
            response = _login_form(request, "Too many wrong codes; log in again later.", 429)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        return render(request, "login_totp.html", {"message": "Wrong code.", "next": safe_next(next),
                                                   "csrf_token": principal.csrf}, status_code=401)
    token = complete_second_factor(db, principal.session_id or 0)
    response = RedirectResponse("/account/password" if principal.must_change else safe_next(next), status_code=303)
    set_session_cookie(request, response, token)
    return response


def _too_many(request: Request, principal: Principal) -> bool:
    return accounts.locked_out(request.app.state.db, principal.name, request.app.state.settings.web)


@router.post("/logout")
def logout(request: Request, who: Principal = Depends(require("viewer", allow_must_change=True))) -> Response:
    if who.session_id is not None:
        end_session(request.app.state.db, who.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
