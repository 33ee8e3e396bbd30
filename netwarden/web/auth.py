"""Who is asking, and may they: FastAPI dependencies for every page and API route.

    from netwarden.web.auth import Principal, require

    @router.post("/things/{id}/close")
    def close(id: int, who: Principal = Depends(require("analyst"))) -> dict: ...

``require(role)`` accepts the session cookie (browsers) or ``Authorization: Bearer <token>`` (scripts).
For a state-changing method (POST, PUT, PATCH, DELETE) made with the cookie it also checks the CSRF token —
the ``X-CSRF-Token`` header (scripts: ``document.querySelector('meta[name=csrf-token]').content``) or the
``csrf`` form field (``{{ csrf_field() }}`` in a template) — and that any Origin header is this site's. Bearer
requests need no CSRF token: a browser never adds that header by itself.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, WebSocket

from netwarden.store.database import Database
from netwarden.accounts.users import Role
from netwarden.web.cache import Callers
from netwarden.accounts.sessions import digest as secret_digest
from netwarden.accounts.sessions import find_session, find_token

SESSION_COOKIE = "nw_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Principal:
    """The authenticated caller."""

    user_id: int
    name: str
    role: Role
    via: str  # "session" or "token"
    csrf: str | None = None  # the session's CSRF token
    session_id: int | None = None
    token_id: int | None = None
    must_change: bool = False
    second_factor_pending: bool = False

    def can(self, role: str | Role) -> bool:
        return self.role >= (role if isinstance(role, Role) else Role.parse(role))


class LoginRequired(Exception):
    """No valid session or token (pages: redirect to /login; API: 401)."""

    def __init__(self, reason: str = "login required", *, second_factor: bool = False) -> None:
        super().__init__(reason)
        self.second_factor = second_factor


class PasswordChangeRequired(Exception):
    """A one-time password is in use (pages: redirect to the password form; API: 403)."""


def current_principal(request: Request | WebSocket) -> Principal | None:
    """The caller, or None; computed once per request."""
    cached = getattr(request.state, "principal", False)
    if cached is not False:
        return cached
    header = request.headers.get("authorization", "")
    state = request.app.state
    if header[:7].lower() == "bearer ":
        principal = principal_for(state.db, state.settings.web, state.callers,
                                  token=header[7:].strip() if len(header) < 300 else "")
    else:
        principal = principal_for(state.db, state.settings.web, state.callers,
                                  cookie=request.cookies.get(SESSION_COOKIE))
    request.state.principal = principal
    return principal


def principal_for(db: Database, web: Any, callers: Callers, *, token: str | None = None,
                  cookie: str | None = None) -> Principal | None:
    """The caller behind an API token (raises LoginRequired if it is not valid) or a session cookie (None if
    not valid), from the short-lived cache of callers when it knows the secret."""
    if token is not None:
        principal = callers.known(digest := secret_digest(token)) if token else None
        if principal is None:
            owner = find_token(db, token) if token else None
            if owner is None:
                raise LoginRequired("the API token is unknown, revoked or expired")
            principal = Principal(owner.user_id, owner.user_name, Role.parse(owner.role), "token",
                                  token_id=owner.token_id, must_change=owner.must_change)
            callers.remember(digest, principal)
        return principal
    if not cookie or len(cookie) >= 200:
        return None
    principal = callers.known(digest := secret_digest(cookie))
    if principal is None:
        s = find_session(db, cookie, web)
        if s is None:
            return None
        principal = Principal(s.user_id, s.user_name, Role.parse(s.role), "session", csrf=s.csrf,
                              session_id=s.id, must_change=s.must_change, second_factor_pending=s.second_factor_pending)
        callers.remember(digest, principal)
    return principal


def same_origin(request: Request | WebSocket) -> bool:
    """True unless an Origin (or, lacking it, a Referer) header names another site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    if origin == "null":  # sandboxed frames, file: pages
        return False
    parts = urlsplit(origin)
    return parts.netloc.lower() == request.headers.get("host", "").lower()


async def check_csrf(request: Request, principal: Principal) -> None:
    if not same_origin(request):
        raise HTTPException(403, "cross-site request refused")
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not sent or not principal.csrf or not hmac.compare_digest(sent.encode(), principal.csrf.encode()):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")


def require(role: str | Role = Role.VIEWER, *, allow_must_change: bool = False) -> Any:
    """A dependency that returns the Principal if it has at least ``role`` (and checks CSRF on writes)."""
    needed = role if isinstance(role, Role) else Role.parse(role)

    async def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            raise LoginRequired()
        if principal.second_factor_pending:
            raise LoginRequired("the second factor is missing", second_factor=True)
        if principal.must_change and not allow_must_change:
            raise PasswordChangeRequired()
        if principal.role < needed:
            raise HTTPException(403, f"this needs the {needed} role (you are {principal.role})")
        if request.method not in SAFE_METHODS and principal.via == "session":
            await check_csrf(request, principal)
        return principal

    return dependency


def websocket_principal(websocket: WebSocket, role: Role = Role.VIEWER) -> Principal | None:
    """For WebSocket routes: the caller if allowed, else None (the route then closes with 1008). The Origin
    must be this site: a WebSocket is not bound by the same-origin policy, so a foreign page could otherwise
    ride on the cookie."""
    if not same_origin(websocket):
        return None
    try:
        principal = current_principal(websocket)
    except LoginRequired:
        return None
    if principal is None or principal.second_factor_pending or principal.must_change or principal.role < role:
        return None
    return principal
