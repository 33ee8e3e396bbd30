"""``/api/v1/incidents``: incidents (one source's alerts grouped by the engine) with totals, one incident's
timeline across its alerts and events, and its status (open, acknowledged, resolved)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from netwarden.store.alerts import INCIDENT_COLUMNS
from netwarden.store.database import Database
from netwarden.store.incidents import every_incident, get_incident, page_of_incidents, set_incident_status, timeline
from netwarden.store.keyset import CursorError
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId, fast_json, get_db
from netwarden.web.export import EXPORT_RESPONSES, Export, export_request

router = APIRouter(tags=["incidents"])
STATUS = "^(open|acknowledged|resolved)$"


@router.get("/incidents", responses=EXPORT_RESPONSES)
def list_incidents(status: str | None = Query(None, pattern=STATUS), source: str | None = Query(None, max_length=64),
                   limit: int = Query(50, ge=1, le=500),
                   cursor: str | None = Query(None, max_length=200, description="the next_cursor of the previous page"),
                   db: Database = Depends(get_db), export: Export = Depends(export_request),
                   who: Principal = Depends(require("viewer"))) -> Any:
    """Incidents, most recently active first, and how many match in all; follow ``next_cursor``
    (``format=csv|jsonl``: every matching incident as a download)."""
    if export.fmt:
        return export.response("incidents", INCIDENT_COLUMNS,
                               every_incident(db.engine.connect, status=status, source=source))
    total, rows, following = paged_incidents(db, status=status, source=source, limit=limit, cursor=cursor)
    return fast_json({"total": total, "incidents": rows, "next_cursor": following})


def paged_incidents(db: Database, **how: Any) -> tuple[int, list[dict[str, Any]], str | None]:
    """:func:`page_of_incidents`, a cursor this server did not give out answered with a 400."""
    try:
        with db.engine.connect() as conn:
            return page_of_incidents(conn, **how)
    except CursorError as exc:
        raise HTTPException(400, str(exc)) from None


def incident_with_timeline(db: Database, incident_id: int) -> dict[str, Any]:
    with db.engine.connect() as conn:
        incident = get_incident(conn, incident_id)
        if incident is None:
            raise HTTPException(404, f"no incident with id {incident_id}")
        items, cut = timeline(conn, incident)
    return {**incident, "timeline": items, "events_cut": cut}


@router.get("/incidents/{incident_id}")
def one_incident(incident_id: RowId, db: Database = Depends(get_db),
                 who: Principal = Depends(require("viewer"))) -> Any:
    """One incident with its timeline: its alerts and its source's events, oldest first."""
    return fast_json(incident_with_timeline(db, incident_id))


class IncidentStatus(BaseModel):
    status: str = Field(pattern=STATUS)


def change_incident(db: Database, incident_id: int, status: str) -> dict[str, Any]:
    try:
        with db.engine.begin() as conn:
            return set_incident_status(conn, incident_id, status)
    except LookupError:
        raise HTTPException(404, f"no incident with id {incident_id}") from None


@router.post("/incidents/{incident_id}/status")
def incident_status(incident_id: RowId, change: IncidentStatus = Body(...), db: Database = Depends(get_db),
                    who: Principal = Depends(require("analyst"))) -> Any:
    """Acknowledge, resolve or reopen an incident (a resolved one is not grown by new alerts)."""
    return fast_json(change_incident(db, incident_id, change.status))
