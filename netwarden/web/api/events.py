"""``/api/v1/events``: search, filter and page through events; one event with its raw line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from netwarden.store.database import Database
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId, checked_time, fast_json, get_db, json_bytes, json_response
from netwarden.store.event_search import LIST_PLAN, EventQuery, get_event, search, search_all
from netwarden.web.export import EXPORT_PARAMS, EXPORT_RESPONSES, export_choice
from netwarden.web.query_params import CURSOR, LIMIT, Param, QueryParams

router = APIRouter(tags=["events"])


EVENT_PARAMS = QueryParams(
    Param("since", datetime, description="from this time (ISO 8601; UTC when no zone is given)"),
    Param("until", datetime, description="before this time"),
    Param("address", max_length=64, description="address or network (CIDR), either side"),
    Param("src", max_length=64, description="source address or network"),
    Param("dst", max_length=64, description="destination address or network"),
    Param("port", int, ge=0, le=65535, description="port, either side"),
    Param("protocol", max_length=32, description="tcp, udp, icmp ... or http, ssh, dns ..."),
    Param("kind", max_length=16, description="source kind: access_log, syslog, netflow ..."),
    Param("status", int, ge=100, le=599, description="HTTP status"),
    Param("q", max_length=200, description="text in the raw line, message, URL, user agent, user"),
    Param("label", max_length=128),
    Param("order", str, "newest", pattern="^(newest|oldest)$"),
    CURSOR, LIMIT,
)


def event_query_of(v: dict[str, Any]) -> EventQuery:
    return EventQuery(since=checked_time(v["since"], "since"), until=checked_time(v["until"], "until"),
                      address=v["address"], src=v["src"], dst=v["dst"], port=v["port"], protocol=v["protocol"],
                      kind=v["kind"], status=v["status"], text=v["q"], label=v["label"],
                      oldest_first=v["order"] == "oldest", cursor=v["cursor"], limit=v["limit"])


async def event_query(request: Request) -> EventQuery:
    """The events list's filters (the events page's too): a bad value is a 422 naming it."""
    return event_query_of(EVENT_PARAMS.read(request))


_LIST_PARAMS = QueryParams(*EVENT_PARAMS.params, *EXPORT_PARAMS)


@router.get("/events", responses=EXPORT_RESPONSES, response_model=dict[str, Any],
            openapi_extra=_LIST_PARAMS.openapi())
async def list_events(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    """A page of events, newest first (``order=oldest`` for the other way); follow ``next_cursor``.
    ``format=csv|jsonl``: every matching event (from ``cursor`` on) as a download."""
    answer = await answer_events(request)
    if answer is not None:
        return answer
    values = _LIST_PARAMS.read(request)
    query, export = event_query_of(values), export_choice(request, values["format"], values["bom"])
    query.to_filter()  # a bad filter is a 400 before the download starts
    return export.driver_response("events", LIST_PLAN, _streamed(request.app.state.db, query))


async def answer_events(request: Request) -> Response | None:
    """A page of events as JSON; None for a download (also what netwarden.web.hot_routes answers with)."""
    values = _LIST_PARAMS.read(request)
    query, export = event_query_of(values), export_choice(request, values["format"], values["bom"])
    if export.fmt:
        return None
    return json_response(await request.app.state.readers.run(events_page, query))


def events_page(db: Database, query: EventQuery) -> bytes:
    """The events list's answer (run in a reader process: netwarden.web.readers)."""
    with db.engine.connect() as conn:
        rows, next_cursor = search(conn, query)
    return json_bytes({"events": rows, "next_cursor": next_cursor})


@router.get("/events/{event_id}", response_model=dict[str, Any])
def one_event(event_id: RowId, db: Database = Depends(get_db),
              who: Principal = Depends(require("viewer"))) -> Response:
    """One event with every field, its raw line and vendor extras."""
    with db.engine.connect() as conn:
        row = get_event(conn, event_id)
    if row is None:
        raise HTTPException(404, f"no event with id {event_id}")
    return fast_json(row)


def _streamed(db: Database, query: EventQuery) -> Iterator[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        yield from search_all(conn, query)
