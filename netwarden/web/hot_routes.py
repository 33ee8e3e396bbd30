"""The three answers clients ask for most without a cache (events, alerts, a host's data), past FastAPI's routing.

A request for them passed the router's matching, the dependency solver, the exception middleware and the
request/response wrappers: about half of the web process's own work for an answer whose query and JSON the
reader processes make. ``HotRoutes`` (the innermost middleware: the answer cache, body guard and security
headers still wrap it) answers a plain GET of ``/api/v1/events``, ``/api/v1/alerts`` and ``/api/v1/hosts/{address}``
by a viewer or better itself, with the routes' own functions. Anything else — another caller, a download, a bad
value, an error of any kind — goes to the app, which then answers as it always did (its 4xx included).
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from netwarden.accounts.users import Role
from netwarden.web.auth import current_principal

HOSTS = "/api/v1/hosts/"


class HotRoutes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            if path in ("/api/v1/events", "/api/v1/alerts") or (
                    path.startswith(HOSTS) and len(path) > len(HOSTS) and "/" not in path[len(HOSTS):]):
                try:
                    response = await _answer(Request(scope, receive), path)
                except Exception:  # noqa: BLE001 - the app answers it, errors included
                    response = None
                if response is not None:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _answer(request: Request, path: str) -> Response | None:
    """The answer, or None for the app to give (not a viewer, a download)."""
    principal = current_principal(request)
    if principal is None or principal.second_factor_pending or principal.must_change or principal.role < Role.VIEWER:
        return None
    if path == "/api/v1/events":
        from netwarden.web.api.events import answer_events

        return await answer_events(request)
    if path == "/api/v1/alerts":
        from netwarden.web.api.alerts import answer_alerts

        return await answer_alerts(request)
    from netwarden.web.api.hosts import answer_host

    return await answer_host(request, path[len(HOSTS):])
