"""Two short-lived caches that let one server process answer many dashboards at once.

**Who is asking** (:class:`Callers`, one per app: ``app.state.callers``): a session cookie or API token is
checked against the database at most every ``PRINCIPAL_SECONDS``; in between, its digest maps to the caller in
memory. Every change to users, sessions or tokens comes through a state-changing request to this app (logout,
new password, role, revoked token, removed user), after which ``ResponseCache`` empties it at once; a change
made by another process (``netwarden user remove``) applies within ``PRINCIPAL_SECONDS``.

**Answers** (``ResponseCache``): the dashboard and list endpoints a page polls (``CACHED_PATHS``) keep their
answer for ``web.cache_seconds`` (default 1 s), like a reverse proxy's micro-cache: fifty open dashboards cost
one query per second instead of fifty. An expired answer is recomputed in the background while callers still
get the previous one (for at most ``STALE_SECONDS`` more), so no caller waits behind a slow query; concurrent
first requests for an answer wait for one computation.
API answers are shared by callers of the same role; a page (HTML) carries the caller's CSRF token and name,
so it is kept per session. Any state-changing request (POST, PUT, PATCH, DELETE) empties the cache, so one's
own changes show at once; new events and alerts show within ``cache_seconds`` (the live feed pushes them as
they happen). ``Cache-Control: no-cache`` on a request skips the cache.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netwarden.accounts.sessions import digest as secret_digest

PRINCIPAL_SECONDS = 5.0
#: how long past ``cache_seconds`` an answer may still be given while its successor is being computed
STALE_SECONDS = 5.0
MAX_ENTRIES = 4096  # callers and answers kept at most ...
MAX_BYTES = 64 << 20  # ... and the answers' bytes in all: a bound on memory, whatever is asked
MAX_BODY = 1 << 20  # a larger answer is not kept
SAFE_METHODS = frozenset({b"GET", b"HEAD"})
#: path -> "role" (an API answer, the same for every caller of a role) or "session" (a page)
CACHED_PATHS = {
    "/api/v1/dashboard": "role", "/api/v1/traffic": "role", "/api/v1/events": "role", "/api/v1/alerts": "role",
    "/api/v1/analysis": "role", "/api/v1/analysis/volume": "role", "/api/v1/geo/countries": "role",
    "/api/v1/blocks": "role",
    "/events": "session", "/alerts": "session",
}


# -- who is asking -----------------------------------------------------------------------------------------

class Callers:
    """The short-lived cache of callers: a secret's digest -> the Principal behind it. One per web app."""

    def __init__(self, seconds: float = PRINCIPAL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._known: dict[str, tuple[float, Any]] = {}

    def known(self, digest: str) -> Any:
        """The cached caller for a secret's digest (None: unknown, or older than ``seconds``)."""
        entry = self._known.get(digest)
        if entry is None or time.monotonic() - entry[0] > self.seconds:
            return None
        return entry[1]

    def remember(self, digest: str, principal: Any) -> None:
        if len(self._known) >= self.max_entries:
            self._known.clear()
        self._known[digest] = (time.monotonic(), principal)

    def forget(self) -> None:
        """Users, sessions or tokens may have changed: check every caller against the database again."""
        self._known.clear()


# -- answers -----------------------------------------------------------------------------------------------

@dataclass
class _Answer:
    created: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _credentials(scope: Scope) -> tuple[str, str] | None:
    """("token", secret) for ``Authorization: Bearer``, ("cookie", secret) for the session cookie, else None."""
    from netwarden.web.auth import SESSION_COOKIE

    cookie = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            text = value.decode("latin-1")
            return ("token", text[7:].strip()) if text[:7].lower() == "bearer " and len(text) < 300 else None
        if name == b"cookie":
            cookie = value.decode("latin-1")
    if cookie is None:
        return None
    prefix = SESSION_COOKIE + "="
    for part in cookie.split(";"):
        part = part.strip()
        if part.startswith(prefix):
            value = part[len(prefix):]
            return ("cookie", value) if 0 < len(value) < 200 else None
    return None


def _principal(scope: Scope, credentials: tuple[str, str], callers: Callers) -> Any:
    """The caller (None if not valid): from the cache of callers, else checked against the database here,
    once, rather than by every request in flight (which would all miss this cache together)."""
    from netwarden.web.auth import LoginRequired, principal_for

    principal = callers.known(secret_digest(credentials[1]))
    if principal is not None:
        return principal
    app = scope["app"]
    try:
        return principal_for(app.state.db, app.state.settings.web, callers, **{credentials[0]: credentials[1]})
    except LoginRequired:
        return None


def _usable(principal: Any) -> bool:
    return principal is not None and not principal.second_factor_pending and not principal.must_change


class ResponseCache:
    """ASGI middleware: the micro-cache described above (``seconds`` <= 0 turns it off). After any
    state-changing request it also makes ``callers`` check every caller again."""

    def __init__(self, app: ASGIApp, seconds: float, callers: Callers) -> None:
        self.app = app
        self.seconds = seconds
        self.callers = callers
        self.answers: dict[tuple, _Answer] = {}
        self.pending: dict[tuple, asyncio.Future] = {}
        self.refreshing: set[asyncio.Task] = set()
        self.bytes = 0
        self.generation = 0
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self.answers.clear()
        self.bytes = 0
        self.generation += 1  # answers being computed now may predate the change: they are not kept

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"].encode()
        if method not in SAFE_METHODS:
            self.clear()
            try:
                await self.app(scope, receive, send)
            finally:
                self.clear()  # also what a GET cached while this request was changing things
                self.callers.forget()  # a logout, a new password, a revoked token, a removed user ...
            return
        if self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        kind = CACHED_PATHS.get(scope["path"])
        credentials = _credentials(scope) if kind else None
        if kind is None or credentials is None or _no_cache(scope):
            await self.app(scope, receive, send)
            return
        principal = _principal(scope, credentials, self.callers)
        if not _usable(principal):  # not logged in (yet): the app answers (401, a redirect to /login ...)
            await self.app(scope, receive, send)
            return
        key = (method, scope["path"], scope["query_string"],
               str(principal.role) if kind == "role" else secret_digest(credentials[1]),
               _time_zone_choice(scope) if kind == "session" else "")
        answer = self.answers.get(key)
        if answer is not None:
            age = time.monotonic() - answer.created
            if age <= self.seconds + STALE_SECONDS and (age <= self.seconds or self._refresh(scope, key)):
                self.hits += 1
                await _replay(answer, send)
                return
        waiting = self.pending.get(key)
        if waiting is not None:  # someone is computing this answer: wait for it rather than compute it again
            answer = await asyncio.shield(waiting)
            if answer is not None:
                self.hits += 1
                await _replay(answer, send)
                return
        await self._fill(scope, receive, send, key)

    def _refresh(self, scope: Scope, key: tuple) -> bool:
        """Recompute an expired answer in the background (once at a time) while callers get the previous one."""
        if key not in self.pending:
            loop = asyncio.get_running_loop()
            future = self.pending[key] = loop.create_future()  # now, not when the task starts: one per key
            task = loop.create_task(self._fill({**scope, "state": {}}, _no_body, _discard, key, future))
            self.refreshing.add(task)
            task.add_done_callback(self.refreshing.discard)
        return True

    async def _fill(self, scope: Scope, receive: Receive, send: Send, key: tuple,
                    future: asyncio.Future | None = None) -> None:
        """Compute an answer through the app, keep it if it can be reused, and hand it to those waiting."""
        self.misses += 1
        if future is None and key not in self.pending:
            future = self.pending[key] = asyncio.get_running_loop().create_future()
        start: Message | None = None
        body: list[bytes] = []
        size = 0
        created = time.monotonic()
        generation = self.generation

        async def capture(message: Message) -> None:
            nonlocal start, size
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if size <= MAX_BODY:
                    body.append(message.get("body", b""))
            await send(message)

        answer = None
        try:
            await self.app(scope, receive, capture)
            if (generation == self.generation and start is not None and start["status"] == 200 and size <= MAX_BODY
                    and not any(name == b"set-cookie" for name, _ in start.get("headers", []))):
                answer = _Answer(created, 200, list(start.get("headers", [])), b"".join(body))
                if len(self.answers) >= MAX_ENTRIES or self.bytes + size > MAX_BYTES:
                    self.clear()
                previous = self.answers.get(key)
                self.bytes += size - (len(previous.body) if previous else 0)
                self.answers[key] = answer
        finally:
            if future is not None:
                self.pending.pop(key, None)
                future.set_result(answer)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Message) -> None:
    pass


def _time_zone_choice(scope: Scope) -> str:
    """The page's time zone toggle (cookie ``nw_tz``): pages drawn in another zone are other answers."""
    for name, value in scope["headers"]:
        if name == b"cookie" and b"nw_tz=" in value:
            return value.decode("latin-1").split("nw_tz=", 1)[1].split(";", 1)[0]
    return ""


def _no_cache(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"cache-control" and b"no-cache" in value:
            return True
    return False


async def _replay(answer: _Answer, send: Send) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})
