"""``/api/v1/dashboard`` (the cards) and ``/api/v1/traffic`` (events and bytes over time, from rollups)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from netwarden.store.database import Database
from netwarden.store.schema import alerts, metadata, rollups
from netwarden.web.auth import Principal, require
from netwarden.web.deps import checked_time, fast_json, get_db, get_runtime
from netwarden.web.runtime import Runtime

router = APIRouter(tags=["dashboard"])
OPEN = ("new", "acknowledged")
MAX_POINTS = 240


def _start_of_today(runtime: Runtime) -> datetime:
    try:
        zone = runtime.settings.local_tz()
    except Exception:  # settings without a zone: UTC
        zone = timezone.utc
    now = datetime.now(zone)
    return now.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


def cards(db: Database, runtime: Runtime) -> dict[str, Any]:
    today = _start_of_today(runtime)
    with db.engine.connect() as conn:
        events_today = conn.execute(select(func.coalesce(func.sum(rollups.c.events), 0))
                                    .where(rollups.c.minute >= today)).scalar_one()
        by_severity = dict(conn.execute(select(alerts.c.severity, func.count()).where(
            alerts.c.status.in_(OPEN)).group_by(alerts.c.severity)).all())
        blocks = metadata.tables.get("blocks")
        blocked = 0
        if blocks is not None and "state" in blocks.c:  # the respond package's table, when installed
            blocked = conn.execute(select(func.count()).select_from(blocks)
                                   .where(blocks.c.state == "active")).scalar_one()
    return {"events_today": int(events_today),
            "alerts_open": {s: int(by_severity.get(s, 0)) for s in ("critical", "high", "medium", "low")},
            "blocked": int(blocked), "events_per_second": round(runtime.rate.rate(), 2),
            "live_clients": runtime.hub.subscribers}


CARDS_TTL = 2.0  # seconds; every open dashboard asks every few seconds, the counts need not be fresher


@router.get("/dashboard")
def dashboard(db: Database = Depends(get_db), runtime: Runtime = Depends(get_runtime),
              who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The dashboard's cards: events today, open alerts by severity, blocked addresses, events per second."""
    now = time.monotonic()
    cached = runtime.extras.get("dashboard_cards")
    if cached is None or now - cached[0] > CARDS_TTL:
        cached = runtime.extras["dashboard_cards"] = (now, cards(db, runtime))
    return {**cached[1], "events_per_second": round(runtime.rate.rate(), 2), "live_clients": runtime.hub.subscribers}


@router.get("/traffic")
def traffic(minutes: int = Query(60, ge=1, le=60 * 24 * 31, description="how far back"),
            until: datetime | None = Query(None, description="end of the range (default: now)"),
            db: Database = Depends(get_db), who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Events and bytes per time bucket (a minute or more, at most 240 points), from the per-minute rollups."""
    end = checked_time(until, "until") or datetime.now(timezone.utc)
    step = max(1, -(-minutes // MAX_POINTS))  # minutes per bucket
    count_points = -(-minutes // step)
    last = end.replace(second=0, microsecond=0)  # the current, still filling minute is the last point
    base = last - timedelta(minutes=count_points * step - 1)
    with db.engine.connect() as conn:
        rows = conn.execute(select(rollups.c.minute, func.sum(rollups.c.events), func.sum(rollups.c.bytes))
                            .where(rollups.c.minute >= base, rollups.c.minute <= last)
                            .group_by(rollups.c.minute).order_by(rollups.c.minute)).all()
    buckets: dict[int, list[int]] = {}
    for minute, count, size in rows:
        index = int((minute - base).total_seconds() // 60) // step
        bucket = buckets.setdefault(index, [0, 0])
        bucket[0] += int(count or 0)
        bucket[1] += int(size or 0)
    points = []
    now = datetime.now(timezone.utc)
    for index in range(count_points):
        count, size = buckets.get(index, (0, 0))
        start = base + timedelta(minutes=index * step)
        # a bucket still filling is marked: its low count is not a collapse of traffic
        points.append({"time": start, "events": count, "bytes": size,
                       "partial": start + timedelta(minutes=step) > now})
    return fast_json({"step_minutes": step, "points": points})  # type: ignore[return-value]
