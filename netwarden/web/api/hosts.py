"""``/api/v1/hosts/{address}`` (one address from every side), ``/api/v1/offenders`` (repeat offenders) and
``/api/v1/visitors`` (web visitors: addresses, browsers, systems, devices, bots, countries)."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from netwarden.store.database import Database
from netwarden.store.hosts import host_summary, offenders
from netwarden.store.visitors import visitors
from netwarden.web.api.alerts import alert_dict
from netwarden.web.auth import Principal, require
from netwarden.web.deps import fast_json, get_db, get_settings, json_bytes, json_response
from netwarden.web.places import as_installed, as_of, country_label, place_of
from netwarden.web.query_params import Param, QueryParams
from netwarden.web.readers import connection

router = APIRouter(tags=["hosts"])
_DAYS = {"ge": 1, "le": 366, "description": "the time range: this many days up to now"}
Days = Query(7, **_DAYS)


def checked_address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        raise HTTPException(400, f"address: {address[:64]!r} is not an IP address") from None


def window(days: int) -> tuple[datetime, datetime]:
    now = datetime.now(timezone.utc)
    return now - timedelta(days=days), now + timedelta(seconds=1)


def host_data(db: Database, settings: Any, address: str, days: int) -> dict[str, Any]:
    since, until = window(days)
    with db.engine.connect() as conn:
        data = host_summary(conn, checked_address(address), since, until)
    return with_place(settings, data)


def with_place(settings: Any, data: dict[str, Any]) -> dict[str, Any]:
    """A host's data with where its address is (the web process's geolocation and AS data)."""
    data.update(place_fields(settings, data["address"]))
    return data


def place_fields(settings: Any, address: str) -> dict[str, Any]:
    place = place_of(settings, address)
    return {"place": place.to_dict() if place else None, "country": country_label(place),
            "as": as_of(settings, address), "as_installed": as_installed(settings)}


_HOST_PARAMS = QueryParams(Param("days", int, 7, **_DAYS))


@router.get("/hosts/{address}", openapi_extra=_HOST_PARAMS.openapi())
async def host(address: str, request: Request, who: Principal = Depends(require("viewer"))) -> Any:
    """One address: events over time, ports, peers, user agents, first/last seen, country, AS, alerts, blocks."""
    return await answer_host(request, address)


async def answer_host(request: Request, address: str) -> Response:
    """A host's data as JSON (also what netwarden.web.hot_routes answers with)."""
    state = request.app.state
    days = _HOST_PARAMS.read(request)["days"]
    checked, body = await state.readers.run(host_facts, address[:64], days)
    # the reader's JSON object, closed by where the address is: what fast_json(with_place(...)) gives
    return json_response(body[:-1] + b"," + json_bytes(place_fields(state.settings, checked))[1:])


def host_facts(db: Database, address: str, days: int) -> tuple[str, bytes]:
    """The address and the JSON of what the store knows of it, without where it is (run in a reader process:
    netwarden.web.readers; the web process holds the geolocation data and adds it)."""
    since, until = window(days)
    with connection(db) as conn:  # a reader process's own
        data = host_summary(conn, checked_address(address), since, until)
    data["alerts"] = [alert_dict(a) for a in data["alerts"]]
    data["blocks"] = [b.to_dict() for b in data["blocks"]]
    return data["address"], json_bytes(data)


def offender_rows(db: Database, days: int, limit: int) -> list[dict[str, Any]]:
    since, _ = window(days)
    with db.engine.connect() as conn:
        return offenders(conn, since, limit)


@router.get("/offenders")
def repeat_offenders(days: int = Query(30, ge=1, le=366), limit: int = Query(50, ge=1, le=500),
                     db: Database = Depends(get_db), who: Principal = Depends(require("viewer"))) -> Any:
    """The sources with the most alerts and blocks, their latest block and escalation level."""
    rows = offender_rows(db, days, limit)
    for r in rows:
        r["block"] = r["block"].to_dict() if r["block"] else None
    return fast_json({"days": days, "offenders": rows})


def visitor_data(db: Database, settings: Any, days: int, limit: int) -> dict[str, Any]:
    since, until = window(days)

    def country_of(address: str) -> str:
        place = place_of(settings, address)
        return place.name if place else "unknown"

    with db.engine.connect() as conn:
        return visitors(conn, since, until, limit=limit, country_of=country_of)


@router.get("/visitors")
def web_visitors(days: int = Days, limit: int = Query(20, ge=1, le=200), db: Database = Depends(get_db),
                 settings: Any = Depends(get_settings), who: Principal = Depends(require("viewer"))) -> Any:
    """Web visitors (events with a user agent): top addresses, browsers, systems, devices, countries."""
    return fast_json(visitor_data(db, settings, days, limit))
