"""Incidents for the console: a page of them with the total, one with its timeline (its alerts and the
source's events in its time span, in time order), and status changes.

The detection engine creates and grows incidents (netwarden.detect.engine); a resolved incident is never
grown again, a new alert of that source opens a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Select, func, select, update

from netwarden.store import keyset
from netwarden.store.alerts import row_to_alert
from netwarden.store.events import EventFilter
from netwarden.store.schema import alerts, events, incidents

STATUSES = ("open", "acknowledged", "resolved")
TIMELINE_EVENTS = 200
TIMELINE_ALERTS = 500


def _plain(row: Any) -> dict[str, Any]:
    return {str(k): v for k, v in row._mapping.items()}


def _incidents_query(status: str | None, source: str | None, since: datetime | None = None) -> Select:
    stmt = select(incidents) if since is None else select(incidents).where(incidents.c.last_seen >= since)
    if status:
        stmt = stmt.where(incidents.c.status == status)
    if source:
        stmt = stmt.where(incidents.c.source == source)
    return stmt


def page_of_incidents(conn: Connection, *, status: str | None = None, source: str | None = None, limit: int = 50,
                      cursor: str | None = None) -> tuple[int, list[dict[str, Any]], str | None]:
    """(total matching, one page most recently active first from ``cursor`` on, the next page's cursor)."""
    stmt = _incidents_query(status, source)
    total = int(conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    rows, following = keyset.page(conn, stmt, incidents.c.last_seen, incidents.c.id, limit=limit, cursor=cursor)
    return total, [_plain(r) for r in rows], following


def every_incident(connect: Callable[[], Any], *, status: str | None = None, source: str | None = None,
                   since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every matching incident (active since ``since``), most recently active first, in keyset pages (exports)."""
    return map(_plain, keyset.every(connect, _incidents_query(status, source, since), incidents.c.last_seen,
                                    incidents.c.id))


def get_incident(conn: Connection, incident_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    return _plain(row) if row else None


def set_incident_status(conn: Connection, incident_id: int, status: str) -> dict[str, Any]:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    if get_incident(conn, incident_id) is None:
        raise LookupError(f"no incident with id {incident_id}")
    conn.execute(update(incidents).where(incidents.c.id == incident_id).values(status=status))
    return get_incident(conn, incident_id)  # type: ignore[return-value]


def timeline(conn: Connection, incident: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The incident's alerts and its source's events (within a minute of its span), oldest first; and
    whether the events were cut at TIMELINE_EVENTS."""
    items: list[dict[str, Any]] = []
    for row in conn.execute(select(alerts).where(alerts.c.incident_id == incident["id"])
                            .order_by(alerts.c.first_seen).limit(TIMELINE_ALERTS)):
        a = row_to_alert(row)
        items.append({"type": "alert", "time": a.first_seen, "id": a.id, "kind": a.kind, "subkind": a.subkind,
                      "severity": str(a.severity), "status": str(a.status), "count": a.count,
                      "last_seen": a.last_seen, "target": a.target, "source": a.source})
    cut = False
    try:
        flt = EventFilter(since=incident["first_seen"] - timedelta(minutes=1),
                          until=incident["last_seen"] + timedelta(minutes=1), address=incident["source"])
        where = flt.clauses()
    except ValueError:  # the source is not an address (a detector's own name): no events to show
        where = None
    if where is not None:
        stmt = select(events.c.id, events.c.timestamp, events.c.source_kind, events.c.src_ip, events.c.src_port,
                      events.c.dst_ip, events.c.dst_port, events.c.transport, events.c.http_method, events.c.url,
                      events.c.http_status, events.c.user, events.c.outcome, events.c.action) \
            .where(*where).order_by(events.c.timestamp.desc()).limit(TIMELINE_EVENTS + 1)
        found = [_plain(r) for r in conn.execute(stmt)]
        cut = len(found) > TIMELINE_EVENTS
        for e in found[:TIMELINE_EVENTS]:
            items.append({"type": "event", "time": e.pop("timestamp"), **e})
    items.sort(key=lambda i: (_aware(i["time"]), i["type"] != "alert"))
    return items, cut


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)
