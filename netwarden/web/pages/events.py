"""The events page: filters, keyset pages, one event with its raw line."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from netwarden.web.api.events import event_query
from netwarden.web.deps import RowId
from netwarden.web.auth import Principal, require
from netwarden.store.event_search import EventQuery, QueryError, get_event, search
from netwarden.web.places import country_label, place_of
from netwarden.web.render import NavEntry, render, without_empty_fields

router = APIRouter(include_in_schema=False)
NAV = NavEntry("Events", "/events", order=20)
FILTERS = ("since", "until", "address", "src", "dst", "port", "protocol", "kind", "status", "q", "label", "order")


@router.get("/events", response_class=HTMLResponse)
def events_page(request: Request, _: None = Depends(without_empty_fields), who: Principal = Depends(require("viewer")),
                query: EventQuery = Depends(event_query)) -> Response:
    # ``who`` before ``query``: a caller not logged in is sent to the login page, whatever the filters
    error = ""
    rows: list = []
    next_cursor = None
    try:
        with request.app.state.db.engine.connect() as conn:
            rows, next_cursor = search(conn, query)
    except QueryError as exc:
        error = str(exc)
    params = {k: v for k, v in request.query_params.items() if k in FILTERS and v}
    return render(request, "events.html", {"rows": rows, "next_cursor": next_cursor, "filters": params,
                                           "error": error, "first_page": not query.cursor},
                  status_code=400 if error else 200)


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(request: Request, event_id: RowId, who: Principal = Depends(require("viewer"))) -> Response:
    with request.app.state.db.engine.connect() as conn:
        row = get_event(conn, event_id)
    if row is None:
        raise HTTPException(404, f"no event with id {event_id}")
    settings = request.app.state.settings
    places = [(side, country_label(place_of(settings, row.get(field)))) for side, field in
              (("Source", "src_ip"), ("Destination", "dst_ip"))]
    return render(request, "event.html", {"event": row, "places": [(s, c) for s, c in places if c]})
