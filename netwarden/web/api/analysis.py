"""``/api/v1/analysis``: traffic over time, protocols and ports, top talkers and destinations, who talks to
whom, HTTP mix — for a time range and optional filters. Every row carries ``events_url``: the events page
filtered to the events behind it (drill-down)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from netwarden.store import analysis
from netwarden.store.addresses import network_range
from netwarden.store.database import Database
from netwarden.store.events import EventFilter
from netwarden.web.auth import Principal, require
from netwarden.web.deps import get_db
from netwarden.web.export import EXPORT_RESPONSES, Export, export_request

router = APIRouter(tags=["analysis"])
MAX_MINUTES = 60 * 24 * 366
# EventFilter field -> the events page's query parameter
_EVENTS_PARAMS = {"since": "since", "until": "until", "src": "src", "dst": "dst", "address": "address",
                  "port": "port", "kind": "kind", "status": "status", "text": "q", "label": "label",
                  "protocol": "protocol"}


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


async def analysis_query(
    since: datetime | None = Query(None, description="start of the range (ISO 8601; UTC when no zone)"),
    until: datetime | None = Query(None, description="end of the range (default: now)"),
    minutes: int = Query(60, ge=1, le=MAX_MINUTES, description="range length when since is not given"),
    address: str | None = Query(None, max_length=64, description="address or network, either side"),
    src: str | None = Query(None, max_length=64, description="source address or network"),
    dst: str | None = Query(None, max_length=64, description="destination address or network"),
    port: int | None = Query(None, ge=0, le=65535, description="port, either side"),
    kind: str | None = Query(None, max_length=16, description="source kind: access_log, netflow ..."),
    limit: int = Query(10, ge=1, le=100, description="rows per list"),
) -> analysis.Query:
    until = _aware(until) or datetime.now(timezone.utc)
    try:
        since = _aware(since) or until - timedelta(minutes=minutes)
    except OverflowError:
        raise HTTPException(400, "the time range starts before the year 1") from None
    for name, value in (("address", address), ("src", src), ("dst", dst)):
        if value:
            try:
                network_range(value)
            except ValueError as exc:
                raise HTTPException(400, f"{name}: {exc}") from None
    flt = EventFilter(address=address or None, src=src or None, dst=dst or None, port=port, kind=kind or None)
    try:
        return analysis.Query(since=since, until=until, filter=flt, limit=limit)
    except analysis.AnalysisError as exc:
        raise HTTPException(400, str(exc)) from None


def events_url(flt: dict[str, Any]) -> str:
    params = {_EVENTS_PARAMS[k]: v for k, v in flt.items() if k in _EVENTS_PARAMS and v is not None}
    return "/events?" + urlencode(params)


def with_links(value: Any) -> Any:
    """Every dict with a ``filter`` also gets its ``events_url`` (a transport row filters by protocol)."""
    if isinstance(value, list):
        return [with_links(v) for v in value]
    if isinstance(value, dict):
        out = {k: with_links(v) for k, v in value.items()}
        flt = value.get("filter")
        if isinstance(flt, dict):
            if value.get("transport"):
                flt = {**flt, "protocol": value["transport"]}
            out["events_url"] = events_url(flt)
        return out
    return value


def tables_of(value: Any, prefix: str = "") -> dict[str, list[dict[str, Any]]]:
    """The lists of rows inside an answer, by dotted name (``rows``, ``protocols.ports`` ...)."""
    found: dict[str, list[dict[str, Any]]] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{prefix}{key}"
            if isinstance(item, list) and item and all(isinstance(r, dict) for r in item):
                found[name] = item
            elif isinstance(item, list) and not item:
                found[name] = []
            else:
                found.update(tables_of(item, name + "."))
    return found


def pick_table(answer: dict[str, Any], table: str | None) -> tuple[str, list[str], list[dict[str, Any]]]:
    """One table of an answer (the first unless named) as (name, columns, rows) for an export; ValueError
    says why there is none (also for ``netwarden analysis --csv``)."""
    tables = tables_of(answer)
    if not tables:
        raise ValueError("format: this answer has no table to export")
    chosen = table or next(iter(tables))
    if chosen not in tables:
        raise ValueError(f"table: {chosen!r} is not one of {', '.join(tables)}")
    rows = [{k: v for k, v in r.items() if k != "filter"} for r in tables[chosen]]
    return chosen, list(dict.fromkeys(k for r in rows for k in r)), rows


def _export_table(export: Export, name: str, answer: dict[str, Any], table: str | None) -> Response:
    try:
        chosen, columns, rows = pick_table(answer, table)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return export.response(f"{name}-{chosen.replace('.', '-')}", columns, iter(rows))


def _run(db: Database, q: analysis.Query, fn, export: Export | None = None,  # type: ignore[no-untyped-def]
         table: str | None = None) -> Any:
    try:
        with db.engine.connect() as conn:
            answer = with_links(fn(conn, q))
    except analysis.AnalysisError as exc:
        raise HTTPException(400, str(exc)) from None
    if export is not None and export.fmt:
        return _export_table(export, fn.__name__.replace("_", "-"), answer, table)
    return answer


TABLE = Query(None, max_length=64, pattern=r"^[a-z_.]+$",
              description="with format=csv|jsonl: which table of the answer (default: the first)")


# path under /analysis, route name, the store query it answers with, what it holds (the OpenAPI description)
_VIEWS = (
    ("", "overview", analysis.overview,
     "Everything the analysis page shows: volume, protocols, talkers, destinations, conversations, HTTP."),
    ("/volume", "volume", analysis.volume,
     "Events and bytes per time bucket (bucket size chosen from the range, at most 240 points)."),
    ("/protocols", "protocols", analysis.protocols, "Events and bytes by transport, destination port and source kind."),
    ("/talkers", "talkers", analysis.top_talkers, "The sources with the most events."),
    ("/destinations", "destinations", analysis.top_destinations, "The destinations with the most events."),
    ("/conversations", "conversations", analysis.conversations,
     "Who talks to whom: top source → destination pairs as nodes, links and a matrix."),
    ("/http", "http", analysis.http_mix, "HTTP requests by status, status class and method."),
)


def _view(fn):  # type: ignore[no-untyped-def]
    """The route answering with ``fn``: every view takes the same range, filters, export and role."""
    def view(q: analysis.Query = Depends(analysis_query), db: Database = Depends(get_db),
             export: Export = Depends(export_request), table: str | None = TABLE,
             who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
        return _run(db, q, fn, export, table)  # type: ignore[no-any-return]
    return view


for _path, _name, _fn, _doc in _VIEWS:
    router.add_api_route(f"/analysis{_path}", _view(_fn), methods=["GET"], name=_name, description=_doc,
                         responses=EXPORT_RESPONSES)
