"""Rendering pages with the common layout (``base.html``), and the navigation entries pages declare.

    from netwarden.web.render import NavEntry, render

    NAV = NavEntry("Events", "/events", order=20)             # in a module of netwarden/web/pages/

    @router.get("/events", response_class=HTMLResponse)
    def events_page(request: Request, who: Principal = Depends(require("viewer"))):
        return render(request, "events.html", {"rows": rows})

Templates live in ``netwarden/web/templates``, extend ``base.html`` and fill ``{% block content %}`` and, for
scripts, ``{% block scripts %}`` with ``<script type="module" src="/static/js/….js">`` only: the CSP forbids
inline script and ``on…=`` handlers. Autoescaping is on; never mark log-derived text ``|safe``.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape

from netwarden import __version__
from netwarden.accounts.users import Role

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class NavEntry:
    """A link in the top navigation, shown to users with at least ``role``; lower ``order`` comes first."""

    title: str
    path: str
    order: int = 50
    role: str = "viewer"


TZ_COOKIE = "nw_tz"  # "utc": this browser wants UTC; otherwise the site's zone


def site_zone(request: Request) -> tzinfo:
    """The zone every time on a page is shown in: the site's (``[ingest] timezone``), or UTC when this
    browser asked for it with the toggle."""
    if request.cookies.get(TZ_COOKIE) == "utc":
        return timezone.utc
    try:
        return request.app.state.settings.local_tz()
    except Exception:  # settings without a zone
        return timezone.utc


def zone_name(zone: tzinfo) -> str:
    return "UTC" if zone is timezone.utc else getattr(zone, "key", None) or datetime.now(zone).strftime("%Z")


def format_time(value: datetime, zone: tzinfo) -> str:
    """The one time format: ``2026-12-04 15:03:07 CET`` (stored times without a zone are UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


@pass_context
def _when(context: Any, value: Any) -> str:
    if isinstance(value, datetime):
        return format_time(value, context.get("zone") or timezone.utc)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            return format_time(datetime.fromisoformat(value.replace("Z", "+00:00")), context.get("zone") or timezone.utc)
        except ValueError:
            pass
    return "" if value is None else str(value)


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)


def _host(value: Any) -> Markup:
    """An address as a link to its host page (anything else as plain, escaped text)."""
    text = "" if value is None else str(value)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return escape(text)
    return Markup('<a class="nw-host" href="/hosts/{}">{}</a>').format(str(address), text)


def _duration(seconds: Any) -> str:
    """A bucket size in words: 60 → "minute", 900 → "15 minutes", 86400 → "day"."""
    seconds = int(seconds)
    for size, unit in ((7 * 86400, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return unit if n == 1 else f"{n} {unit}s"
    return f"{seconds} seconds"


environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                          trim_blocks=True, lstrip_blocks=True)
environment.filters["when"] = _when
environment.filters["pretty_json"] = _pretty_json
environment.filters["host"] = _host
environment.filters["duration"] = _duration


def nav_for(request: Request, role: Role | None) -> list[NavEntry]:
    entries: list[NavEntry] = request.app.state.nav
    return [e for e in entries if role is not None and role >= Role.parse(e.role)]


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    from netwarden.web.auth import current_principal

    try:
        principal = current_principal(request)
    except Exception:  # a bad token on a page: render as logged out
        principal = None
    if principal is not None and principal.second_factor_pending:
        principal = None  # half logged in: no menu, no CSRF token
    csrf = principal.csrf if principal is not None and principal.csrf else ""
    values = {
        "request": request, "user": principal, "nav": nav_for(request, principal.role if principal else None),
        "csrf_token": csrf, "csrf_field": lambda: Markup('<input type="hidden" name="csrf" value="{}">').format(csrf),
        "version": __version__, "path": request.url.path,
        "nav_visible": principal is not None and not principal.must_change,
    }
    zone = site_zone(request)
    values.update(zone=zone, zone_name=zone_name(zone), utc_chosen=request.cookies.get(TZ_COOKIE) == "utc")
    values.update(context or {})
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})



class RedirectTo(Exception):
    """Raised by a dependency to answer with a 303 redirect (app.py turns it into the response)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


async def without_empty_fields(request: Request) -> None:
    """A dependency for pages with filter forms, listed FIRST: a form sends every field, empty ones too
    (``port=``), which the typed parameters would refuse; redirect to the same URL without them."""
    params = request.query_params.multi_items()
    kept = [(k, v) for k, v in params if v != ""]
    if len(kept) != len(params):
        from urllib.parse import urlencode

        raise RedirectTo(request.url.path + ("?" + urlencode(kept) if kept else ""))
