"""``/api/v1/dashboard`` (the cards) and ``/api/v1/traffic`` (events and bytes over time, from rollups)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from netwarden.store.alerts import open_by_severity
from netwarden.store.blocks import count_active
from netwarden.store.database import Database
from netwarden.store.rollups import events_since, per_minute
from netwarden.web.auth import Principal, require
from netwarden.web.deps import checked_time, fast_json, get_db, get_runtime
from netwarden.web.runtime import Runtime

router = APIRouter(tags=["dashboard"])
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
        events_today, alerts_open, blocked = events_since(conn, today), open_by_severity(conn), count_active(conn)
    return {"events_today": events_today, "alerts_open": alerts_open,
            "blocked": blocked, "events_per_second": round(runtime.rate.rate(), 2),
            "live_clients": runtime.hub.subscribers}


CARDS_TTL = 2.0  # seconds; every open dashboard asks every few seconds, the counts need not be fresher


@router.get("/dashboard")
def dashboard(db: Database = Depends(get_db), runtime: Runtime = Depends(get_runtime),
              who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The dashboard's cards: events today, open alerts by severity, blocked addresses, events per second."""
    now = time.monotonic()
    cached = runtime.dashboard_cards
    if cached is None or now - cached[0] > CARDS_TTL:
        cached = runtime.dashboard_cards = (now, cards(db, runtime))
    return {**cached[1], "events_per_second": round(runtime.rate.rate(), 2), "live_clients": runtime.hub.subscribers}


@router.get("/traffic", response_model=dict[str, Any])
def traffic(minutes: int = Query(60, ge=1, le=60 * 24 * 31, description="how far back"),
            until: datetime | None = Query(None, description="end of the range (default: now)"),
            db: Database = Depends(get_db), who: Principal = Depends(require("viewer"))) -> Response:
    """Events and bytes per time bucket (a minute or more, at most 240 points), from the per-minute rollups."""
    end = checked_time(until, "until") or datetime.now(timezone.utc)
    step = max(1, -(-minutes // MAX_POINTS))  # minutes per bucket
    count_points = -(-minutes // step)
    last = end.replace(second=0, microsecond=0)  # the current, still filling minute is the last point
    base = last - timedelta(minutes=count_points * step - 1)
    with db.engine.connect() as conn:
        rows = per_minute(conn, base, last)
    buckets: dict[int, list[int]] = {}
    for minute, count, size in rows:
        index = int((minute - base).total_seconds() // 60) // step
        bucket = buckets.setdefault(index, [0, 0])
        bucket[0] += count
        bucket[1] += size
    points = []
    now = datetime.now(timezone.utc)
    for index in range(count_points):
        count, size = buckets.get(index, (0, 0))
        start = base + timedelta(minutes=index * step)
        # a bucket still filling is marked: its low count is not a collapse of traffic
        points.append({"time": start, "events": count, "bytes": size,
                       "partial": start + timedelta(minutes=step) > now})
    return fast_json({"step_minutes": step, "points": points})
