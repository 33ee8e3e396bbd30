"""Rendering a report: the kind's figures into its Jinja2 template (HTML), then WeasyPrint (PDF).

Templates are looked up first in ``[report] templates_dir`` (an administrator's edited copies), then in
the built-in ``netwarden/report/templates``. Autoescape is on: everything from a log is text. Resources are
only ever read from the template folders or ``data:`` URIs — never from the network.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Connection

from netwarden import __version__
from netwarden.report.data import Period
from netwarden.report.kinds import get_kind

BUILTIN = Path(__file__).with_name("templates")


class ReportError(ValueError):
    """The report cannot be made as asked (unknown incident or model, bad period ...)."""


@dataclass
class Job:
    """What a kind's ``context()`` works with."""

    conn: Connection
    period: Period
    settings: Any
    options: dict[str, Any] = field(default_factory=dict)

    def locator(self) -> Any:
        from netwarden.enrich.geo import GeoError, GeoLocator

        try:
            return GeoLocator.from_settings(self.settings.web)
        except GeoError:
            return None


@dataclass
class Report:
    kind: str
    title: str
    period: Period
    html: str
    created: datetime
    pdf: bytes = b""


def _svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def environment(settings: Any) -> Environment:
    folders = [BUILTIN]
    custom = getattr(getattr(settings, "report", None), "templates_dir", "")
    if custom:
        folders.insert(0, Path(custom))
    env = Environment(loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
                      autoescape=select_autoescape(default=True, default_for_string=True), undefined=StrictUndefined)
    zone = settings.site_tz()
    env.filters["svg_uri"] = _svg_uri
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    env.filters["local"] = lambda when, fmt="%Y-%m-%d %H:%M": "–" if when is None else when.astimezone(zone).strftime(fmt)
    return env


def render_html(conn: Connection, settings: Any, kind_name: str, period: Period,
                options: dict[str, Any] | None = None, *, now: datetime | None = None) -> Report:
    kind = get_kind(kind_name)
    job = Job(conn, period, settings, dict(options or {}))
    variables = kind.context(job)
    created = now or datetime.now(timezone.utc)
    title = variables.pop("title", kind.TITLE)
    common = {"title": title, "kind": kind.NAME, "period": period, "organisation": settings.report.organisation,
              "generated": created, "version": __version__, "zone": period.local(created).tzname()}
    html = environment(settings).get_template(kind.TEMPLATE).render(**common, **variables)
    return Report(kind.NAME, title, period, html, created)


def _fetcher(folders: list[Path]) -> Any:
    """WeasyPrint's resource reader: data: URIs and files inside the template folders only."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    from weasyprint.urls import URLFetcher

    roots = [f.resolve() for f in folders]

    class LocalOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:"):
                path = Path(url2pathname(urlsplit(url).path)).resolve()
                if not any(path.is_relative_to(r) for r in roots):
                    raise ValueError(f"report resources come from the template folders only, not {path}")
            return super().fetch(url, headers)

    return LocalOnly(allowed_protocols={"data", "file"})


def to_pdf(report: Report, settings: Any) -> Report:
    from weasyprint import HTML

    folders = [BUILTIN] + ([Path(settings.report.templates_dir)] if settings.report.templates_dir else [])
    document = HTML(string=report.html, base_url=str(BUILTIN) + "/", url_fetcher=_fetcher(folders))
    report.pdf = document.write_pdf()
    return report


def generate(conn: Connection, settings: Any, kind_name: str, period: Period,
             options: dict[str, Any] | None = None, *, now: datetime | None = None) -> Report:
    """The report as HTML and PDF."""
    return to_pdf(render_html(conn, settings, kind_name, period, options, now=now), settings)
