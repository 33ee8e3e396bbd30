"""``/api/v1/alerts``: list and filter, one alert with its evidence and related events, change its status."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import bindparam, func, select

from netwarden.records import Alert, AlertStatus
from netwarden.store import alerts as alert_store
from netwarden.store.database import Database
from netwarden.store.event_search import count_events, latest_events
from netwarden.store.events import EventFilter
from netwarden.store.incidents import get_incident
from netwarden.store.addresses import network_range
from netwarden.store.keyset import CursorError, encode_cursor
from netwarden.store.schema import alerts
from netwarden.web.auth import Principal, require
from netwarden.web.deps import RowId, checked_time, fast_json, get_db, json_bytes, json_response
from netwarden.web.export import EXPORT_PARAMS, EXPORT_RESPONSES, export_choice
from netwarden.web.query_params import CURSOR, LIMIT, Param, QueryParams
from netwarden.web.evidence import alert_port, excerpt

router = APIRouter(tags=["alerts"])
RELATED_EVENTS = 50


def alert_dict(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "subkind": a.subkind, "severity": str(a.severity),
            "confidence": a.confidence, "factors": [f.to_dict() for f in a.factors], "source": a.source,
            "target": a.target, "first_seen": a.first_seen, "last_seen": a.last_seen, "count": a.count,
            "evidence": a.evidence, "recommendation": a.recommendation, "detector": a.detector,
            "signature": a.signature, "status": str(a.status), "incident_id": a.incident_id,
            "model_version": a.model_version, "history": a.history, "port": alert_port(a), "excerpt": excerpt(a)}


ALERT_FILTER = QueryParams(
    Param("since", datetime), Param("until", datetime),
    Param("kind", max_length=32),
    Param("severity", pattern="^(critical|high|medium|low)$", description="this or worse"),
    Param("status", pattern="^(new|acknowledged|resolved|false_positive)$"),
    Param("source", max_length=64, description="address or network"),
    Param("q", max_length=200, description="text in kind, source, target or signature"),
)


def alert_filter_of(v: dict[str, Any]) -> alert_store.AlertFilter:
    source = v["source"]
    if source:
        try:
            ipaddress.ip_network(source, strict=False)
        except ValueError:
            raise HTTPException(400, f"source: {source!r} is not an address or network") from None
    return alert_store.AlertFilter(since=checked_time(v["since"], "since"), until=checked_time(v["until"], "until"),
                                   kind=v["kind"], severity=v["severity"], status=v["status"], source=source,
                                   text=v["q"])


async def alert_filter(request: Request) -> alert_store.AlertFilter:
    """The alerts list's filters (the alerts page's too): a bad value is a 4xx naming it."""
    return alert_filter_of(ALERT_FILTER.read(request))


def find_and_count(db: Database, flt: alert_store.AlertFilter, limit: int,
                   cursor: str | None = None) -> tuple[list[Alert], str | None, int]:
    """A page of alerts, the next page's cursor and how many match in all, on one connection (a second one per
    request cost ~0.3 ms of CPU beside ~2 ms for one source's alerts); a cursor this server did not give out is
    a 400."""
    try:
        with db.engine.connect() as conn:
            found, following = alert_store.page_of_alerts(conn, flt, limit=limit, cursor=cursor)
            return found, following, alert_store.count_alerts(conn, flt)
    except CursorError as exc:
        raise HTTPException(400, str(exc)) from None


ALERT_COLUMNS = ["id", "kind", "subkind", "severity", "confidence", "factors", "source", "target", "first_seen",
                 "last_seen", "count", "evidence", "recommendation", "detector", "signature", "status",
                 "incident_id", "model_version", "history", "port", "excerpt"]  # alert_dict's keys


_LIST_PARAMS = QueryParams(*ALERT_FILTER.params, LIMIT, CURSOR, *EXPORT_PARAMS)


@router.get("/alerts", responses=EXPORT_RESPONSES, response_model=dict[str, Any],
            openapi_extra=_LIST_PARAMS.openapi())
async def list_alerts(request: Request, who: Principal = Depends(require("viewer"))) -> Response:
    """Alerts, most recently seen first, and how many match in all (``total``); follow ``next_cursor``.
    ``format=csv|jsonl``: every matching alert as a download."""
    answer = await answer_alerts(request)
    if answer is not None:
        return answer
    values = _LIST_PARAMS.read(request)
    flt, export = alert_filter_of(values), export_choice(request, values["format"], values["bom"])
    db: Database = request.app.state.db
    return export.response("alerts", ALERT_COLUMNS, map(alert_dict, alert_store.every_alert(db.engine.connect, flt)))


async def answer_alerts(request: Request) -> Response | None:
    """A page of alerts as JSON; None for a download (also what netwarden.web.hot_routes answers with)."""
    values = _LIST_PARAMS.read(request)
    flt, export = alert_filter_of(values), export_choice(request, values["format"], values["bom"])
    if export.fmt:
        return None
    return json_response(await request.app.state.readers.run(alerts_page, flt, values["limit"], values["cursor"]))


def alerts_page(db: Database, flt: alert_store.AlertFilter, limit: int, cursor: str | None) -> bytes:
    """The alerts list's answer (run in a reader process: netwarden.web.readers)."""
    key = _one_source(flt) if cursor is None else None
    if key is None:
        found, following, total = find_and_count(db, flt, limit, cursor)
    else:  # the first page of one address's alerts (the host page's link, analysts' look-ups): built once
        with db.engine.connect() as conn:
            rows = conn.execute(_SOURCE_PAGE, {"key": key, "n": limit + 1}).all()
            total = int(conn.execute(_SOURCE_COUNT, {"key": key}).scalar_one())
        found = [alert_store.row_to_alert(r) for r in rows[:limit]]
        following = encode_cursor(found[-1].last_seen, int(found[-1].id or 0)) if len(rows) > limit else None
    return json_bytes({"total": total, "alerts": [alert_dict(a) for a in found], "next_cursor": following})


def _one_source(flt: alert_store.AlertFilter) -> bytes | None:
    """The address key when ``flt`` asks only for the alerts of one address, else None. Its statements are
    those ``page_of_alerts`` and ``count_alerts`` build for it, built once and run with the key bound: building
    them (filter, keyset page, count) cost more than running them."""
    if not flt.source or any(v is not None for v in (flt.since, flt.until, flt.kind, flt.severity, flt.status,
                                                     flt.min_confidence, flt.incident_id, flt.text)):
        return None
    try:
        lo, hi = network_range(flt.source)
    except ValueError:
        return None  # the general path says why
    return lo if lo == hi else None


_SOURCE_PAGE = select(alerts).where(alerts.c.source_addr == bindparam("key")) \
    .order_by(alerts.c.last_seen.desc(), alerts.c.id.desc()).limit(bindparam("n"))
_SOURCE_COUNT = select(func.count()).select_from(alerts).where(alerts.c.source_addr == bindparam("key"))


def related_filter(a: Alert) -> EventFilter | None:
    """The source's events within the alert's time span (at least a minute either side)."""
    if not a.source:
        return None
    try:
        ipaddress.ip_address(a.source)
    except ValueError:
        return None
    return EventFilter(since=a.first_seen - timedelta(minutes=1), until=a.last_seen + timedelta(minutes=1),
                       address=a.source)


def related_events(db: Database, a: Alert, limit: int = RELATED_EVENTS) -> list[dict[str, Any]]:
    flt = related_filter(a)
    if flt is None:
        return []
    with db.engine.connect() as conn:
        return latest_events(conn, flt, limit)


def related_count(db: Database, a: Alert) -> int:
    """How many events ``related_events`` draws from (it shows at most RELATED_EVENTS of them)."""
    flt = related_filter(a)
    if flt is None:
        return 0
    with db.engine.connect() as conn:
        return count_events(conn, flt)


def incident_of(db: Database, a: Alert) -> dict[str, Any] | None:
    if a.incident_id is None:
        return None
    with db.engine.connect() as conn:
        return get_incident(conn, a.incident_id)


@router.get("/alerts/{alert_id}", response_model=dict[str, Any])
def one_alert(alert_id: RowId, db: Database = Depends(get_db),
              who: Principal = Depends(require("viewer"))) -> Response:
    """One alert with evidence, confidence factors, recommendation, its incident and related events."""
    with db.engine.connect() as conn:
        a = alert_store.get_alert(conn, alert_id)
    if a is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    return fast_json({**alert_dict(a), "incident": incident_of(db, a),
                      "related_events": related_events(db, a)})


class StatusChange(BaseModel):
    status: str = Field(pattern="^(new|acknowledged|resolved|false_positive)$")
    note: str = Field("", max_length=2000)


@router.post("/alerts/{alert_id}/status")
def change_status(alert_id: RowId, change: StatusChange = Body(...), db: Database = Depends(get_db),
                  who: Principal = Depends(require("analyst"))) -> dict[str, Any]:
    """Acknowledge, resolve, mark a false positive (that pattern from that source is then suppressed)."""
    try:
        with db.engine.begin() as conn:
            a = alert_store.set_status(conn, alert_id, AlertStatus(change.status), by=who.name, note=change.note)
    except LookupError:
        raise HTTPException(404, f"no alert with id {alert_id}") from None
    return alert_dict(a)


class BulkStatus(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=500)
    status: str = Field(pattern="^(acknowledged|resolved)$")
    note: str = Field("", max_length=2000)


def change_many(db: Database, ids: list[int], status: str, by: str, note: str = "") -> list[int]:
    """Set the status of several alerts at once (all or none); the ids that were changed."""
    wanted = sorted({i for i in ids if 1 <= i < 2**63})
    if not wanted:
        raise HTTPException(400, "ids: give at least one alert id")
    with db.engine.begin() as conn:
        missing = alert_store.missing_alert_ids(conn, wanted)
        if missing:
            raise HTTPException(404, f"no alerts with ids {', '.join(map(str, missing[:20]))}")
        for alert_id in wanted:
            alert_store.set_status(conn, alert_id, AlertStatus(status), by=by, note=note)
    return wanted


@router.post("/alerts/bulk-status")
def bulk_status(change: BulkStatus = Body(...), db: Database = Depends(get_db),
                who: Principal = Depends(require("analyst"))) -> dict[str, Any]:
    """Acknowledge or resolve up to 500 alerts at once."""
    changed = change_many(db, change.ids, change.status, who.name, change.note)
    return {"changed": changed, "status": change.status}
