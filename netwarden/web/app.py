"""The application factory: ``create_app(settings, db, runtime=None)``.

Every module of ``netwarden.web.pages`` and ``netwarden.web.api`` that has a ``router`` is included (API
routers under ``/api/v1``); a page module's ``NAV`` (one NavEntry or a list) adds links to the menu.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netwarden import __version__
from netwarden.store.database import Database
from netwarden.store.event_search import QueryError
from netwarden.web.auth import LoginRequired, PasswordChangeRequired
from netwarden.web.bodies import BodyGuard
from netwarden.web.cache import Callers, ResponseCache
from netwarden.web.hot_routes import HotRoutes
from netwarden.web.readers import Readers
from netwarden.web.render import NavEntry, RedirectTo, render
from netwarden.web.runtime import Runtime

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
HOT_API = ("events", "alerts", "hosts", "dashboard")  # API modules whose routes are matched first
STATIC = Path(__file__).with_name("static")
REPO = Path(__file__).resolve().parents[2]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # "no-referrer" would make browsers send "Origin: null" on our own forms
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the security headers to every HTTP response (pages, API, static files, errors)."""

    def __init__(self, app: ASGIApp, tls: bool) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + ([(b"strict-transport-security", b"max-age=31536000")] if tls else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in self.headers if h[0] not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def vendor_dir(settings: Any) -> Path:
    configured = settings.web.vendor_dir
    return Path(configured) if configured else REPO / "node_modules"


def vendor_packages() -> list[str]:
    """The npm packages named in package.json served under /static/vendor/<name>/ (not the address data)."""
    try:
        names = json.loads((REPO / "package.json").read_text())["dependencies"]
        return sorted(n for n in names if not n.startswith("@ip-location-db/"))  # data read by the server only
    except (OSError, ValueError, KeyError):
        return []


def discover(package: str) -> list[Any]:
    module = importlib.import_module(package)
    found = []
    for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            found.append(importlib.import_module(f"{package}.{info.name}"))
    return found


def create_app(settings: Any, db: Database, *, runtime: Runtime | None = None,
               readers: Readers | None = None) -> FastAPI:
    """``readers``: the reader processes that answer the hot read-only API requests (none: this process's
    threads answer them)."""
    runtime = runtime or Runtime(db, settings)
    readers = readers or Readers("", 0)
    readers.db = db

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.hub.bind(asyncio.get_running_loop())
        readers.bind(asyncio.get_running_loop())
        yield

    app = FastAPI(title="NetWarden", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=f"{API_PREFIX}/openapi.json",
                  description="NetWarden's REST API. Authenticate with `Authorization: Bearer <token>` "
                              "(create tokens on the Account page or with the API).")
    app.state.settings = settings
    app.state.db = db
    app.state.runtime = runtime
    app.state.readers = readers
    app.state.callers = callers = Callers()
    nav: list[NavEntry] = []
    # the API first: a request is matched against the routes in order, each test costing ~10 µs, and the
    # API answers most requests (pages poll it); no page path starts with the API's prefix. Within it, the
    # lists analysts search and pages poll first (no path of theirs is another module's)
    for module in sorted(discover("netwarden.web.api"), key=lambda m: m.__name__.rsplit(".", 1)[1] not in HOT_API):
        if hasattr(module, "router"):
            app.include_router(module.router, prefix=API_PREFIX)
    for module in discover("netwarden.web.pages"):
        if hasattr(module, "router"):
            app.include_router(module.router)
        entries = getattr(module, "NAV", None)
        if entries is not None:
            nav += entries if isinstance(entries, (list, tuple)) else [entries]
    app.state.nav = sorted(nav, key=lambda e: (e.order, e.title))

    vendor = vendor_dir(settings)
    for name in vendor_packages():
        if (vendor / name).is_dir():
            app.mount(f"/static/vendor/{name}", StaticFiles(directory=vendor / name), name=f"vendor-{name}")
        else:
            log.warning("front-end library %s is missing from %s; run scripts/setup", name, vendor)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _error_handlers(app)
    from netwarden.web.live_apply import load_at_start

    load_at_start(app)
    app.add_middleware(HotRoutes)  # innermost: the cache, body guard and headers below wrap its answers too
    app.add_middleware(ResponseCache, seconds=settings.web.cache_seconds, callers=callers)
    app.add_middleware(BodyGuard, web=settings.web, api_prefix=API_PREFIX)
    app.add_middleware(SecurityHeaders, tls=bool(settings.web.tls_cert))  # outermost: cached answers get them too
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if exc.second_factor:
            return RedirectResponse("/login/totp", status_code=303)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import urlencode
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(RedirectTo)
    async def redirect(request: Request, exc: RedirectTo) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def must_change(request: Request, exc: PasswordChangeRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "the password must be changed first (log in on the web page)"},
                                status_code=403)
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if _is_api(request) or request.method not in ("GET", "HEAD") and "text/html" not in \
                request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
        return render(request, "error.html", {"status": exc.status_code, "message": exc.detail},
                      status_code=exc.status_code)

    @app.exception_handler(QueryError)
    async def bad_query(request: Request, exc: QueryError) -> Response:
        return await http_error(request, StarletteHTTPException(400, str(exc)))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        message = "; ".join(problems)[:2000]
        if not _is_api(request) and request.method == "GET":
            return render(request, "error.html", {"status": 422, "message": message}, status_code=422)
        return JSONResponse({"detail": message}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)
