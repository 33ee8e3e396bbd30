"""Request bodies: who may send one, and how large.

FastAPI reads and parses a JSON or form body before it runs a route's dependencies, so without this an
anonymous client could make the server hold (and parse) any amount of data before being told 401. The
:class:`BodyGuard` middleware therefore

- answers 401 (API) or sends to the login page (pages) before reading a byte of the body, unless the request
  carries a valid session or token -- the login form itself excepted;
- refuses a body larger than ``[web] max_body_mib`` (JSON, forms) or ``max_upload_mib`` (multipart uploads to
  the model lab, NDJSON to ``/api/v1/intake``) with 413: at once when Content-Length says so, else as soon as
  the streamed bytes pass the cap. The server then drops the connection instead of reading the rest.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netwarden.web.auth import LoginRequired, current_principal

PUBLIC_WRITES = frozenset({"/login", "/login/totp"})  # forms sent before there is a session
UPLOAD_TYPES = ("multipart/form-data", "application/x-ndjson")
MIB = 1 << 20


class BodyTooLarge(HTTPException):
    def __init__(self, cap: int) -> None:
        super().__init__(413, f"the request body is larger than {cap / MIB:g} MiB")


def body_cap(web: Any, content_type: str) -> int:
    """The largest body accepted for a content type, in bytes."""
    upload = content_type.lower().startswith(UPLOAD_TYPES)
    return int((web.max_upload_mib if upload else web.max_body_mib) * MIB)


def _has_body(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    if b"transfer-encoding" in headers:
        return True
    return headers.get(b"content-length", b"0") not in (b"0", b"")


class BodyGuard:
    """ASGI middleware: authenticate before a body is read, and cap every body (see the module's text)."""

    def __init__(self, app: ASGIApp, web: Any, api_prefix: str) -> None:
        self.app = app
        self.web = web
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        if not _has_body(scope, headers):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        is_api = path.startswith(self.api_prefix)
        if path not in PUBLIC_WRITES and not await self._authenticated(scope):
            await self._login_required(scope, receive, send, is_api)
            return
        cap = body_cap(self.web, headers.get(b"content-type", b"").decode("latin-1"))
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            response = JSONResponse({"detail": BodyTooLarge(cap).detail}, status_code=413,
                                    headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:  # chunked, or more than Content-Length said: stop reading here
                    raise BodyTooLarge(cap)
            return message

        await self.app(scope, capped, send)

    @staticmethod
    async def _authenticated(scope: Scope) -> bool:
        request = Request(scope)  # shares scope["state"]: the route's require() reuses the answer
        try:
            return await run_in_threadpool(current_principal, request) is not None
        except LoginRequired:
            return False

    @staticmethod
    async def _login_required(scope: Scope, receive: Receive, send: Send, is_api: bool) -> None:
        if is_api:
            response: Any = JSONResponse({"detail": "login required"}, status_code=401,
                                         headers={"WWW-Authenticate": "Bearer", "Connection": "close"})
        else:
            response = RedirectResponse("/login?" + urlencode({"next": scope.get("path", "/")}), status_code=303,
                                        headers={"Connection": "close"})
        await response(scope, receive, send)
