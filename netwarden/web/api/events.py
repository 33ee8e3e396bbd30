"""``/api/v1/events``: search, filter and page through events; one event with its raw line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from netwarden.store.database import Database
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId, checked_time, fast_json, get_db
from netwarden.store.event_search import LIST_PLAN, EventQuery, get_event, search, search_all
from netwarden.web.export import EXPORT_RESPONSES, Export, export_request

router = APIRouter(tags=["events"])


async def event_query(
    since: datetime | None = Query(None, description="from this time (ISO 8601; UTC when no zone is given)"),
    until: datetime | None = Query(None, description="before this time"),
    address: str | None = Query(None, max_length=64, description="address or network (CIDR), either side"),
    src: str | None = Query(None, max_length=64, description="source address or network"),
    dst: str | None = Query(None, max_length=64, description="destination address or network"),
    port: int | None = Query(None, ge=0, le=65535, description="port, either side"),
    protocol: str | None = Query(None, max_length=32, description="tcp, udp, icmp ... or http, ssh, dns ..."),
    kind: str | None = Query(None, max_length=16, description="source kind: access_log, syslog, netflow ..."),
    status: int | None = Query(None, ge=100, le=599, description="HTTP status"),
    q: str | None = Query(None, max_length=200, description="text in the raw line, message, URL, user agent, user"),
    label: str | None = Query(None, max_length=128),
    order: str = Query("newest", pattern="^(newest|oldest)$"),
    cursor: str | None = Query(None, max_length=200, description="the next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=500),
) -> EventQuery:
    return EventQuery(since=checked_time(since, "since"), until=checked_time(until, "until"), address=address or None, src=src or None,
                      dst=dst or None, port=port, protocol=protocol or None, kind=kind or None, status=status,
                      text=q or None, label=label or None, oldest_first=order == "oldest", cursor=cursor or None,
                      limit=limit)


@router.get("/events", responses=EXPORT_RESPONSES, response_model=dict[str, Any])
def list_events(query: EventQuery = Depends(event_query), db: Database = Depends(get_db),
                export: Export = Depends(export_request),
                who: Principal = Depends(require("viewer"))) -> Response:
    """A page of events, newest first (``order=oldest`` for the other way); follow ``next_cursor``.
    ``format=csv|jsonl``: every matching event (from ``cursor`` on) as a download."""
    if export.fmt:
        query.to_filter()  # a bad filter is a 400 before the download starts
        return export.driver_response("events", LIST_PLAN, _streamed(db, query))
    with db.engine.connect() as conn:
        rows, next_cursor = search(conn, query)
    return fast_json({"events": rows, "next_cursor": next_cursor})


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
