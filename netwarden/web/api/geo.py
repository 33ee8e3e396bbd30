"""``/api/v1/geo``: where traffic comes from and goes to, by country (offline geolocation), and one
country's addresses and alerts for the map's drill-down."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from netwarden.enrich.geo import LOCAL, UNKNOWN, GeoError, GeoLocator
from netwarden.store import analysis
from netwarden.store.alerts import alerts_of_sources
from netwarden.store.database import Database
from netwarden.web.api.analysis import analysis_query, events_url
from netwarden.web.auth import Principal, require
from netwarden.web.deps import get_db, get_settings

router = APIRouter(tags=["geo"])
MAX_ADDRESSES = 2000  # per side: the busiest addresses of the range are located
COUNTRY = re.compile(r"^(?:[A-Za-z]{2}|local|unknown)$")


_BUILDING = threading.Lock()


def locator(database: str, vendor: str) -> GeoLocator:
    """The shared locator of these settings (GeoError when its database is missing or not one). Made once:
    it takes seconds (the country shapes), and requests arriving meanwhile wait for it instead of each making
    their own."""
    with _BUILDING:
        return _made_locator(database, vendor)


@lru_cache(maxsize=4)
def _made_locator(database: str, vendor: str) -> GeoLocator:
    class _Web:
        geo_database = database
        vendor_dir = vendor

    return GeoLocator.from_settings(_Web())


def get_locator(settings: Any = Depends(get_settings)) -> GeoLocator:
    try:
        return locator(settings.web.geo_database, settings.web.vendor_dir)
    except GeoError as exc:
        raise HTTPException(503, str(exc)) from None


def _located(db: Database, q: analysis.Query, geo: GeoLocator, sides: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """(side, address, events, bytes, place) for the busiest addresses of each side."""
    out = []
    sampled = False
    with db.engine.connect() as conn:
        for side in sides:
            rows, capped = analysis.address_counts(conn, q, side, MAX_ADDRESSES)
            sampled = sampled or capped
            out += [(side, a, n, b, geo.lookup(a)) for a, n, b in rows]
    return out, sampled


def _sides(side: str) -> tuple[str, ...]:
    return ("src", "dst") if side == "both" else (side,)


@router.get("/geo/countries")
def countries(q: analysis.Query = Depends(analysis_query),
              side: str = Query("both", pattern="^(both|src|dst)$", description="sources, destinations or both"),
              db: Database = Depends(get_db), geo: GeoLocator = Depends(get_locator),
              who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Events by country of the source and of the destination, with the country's point on the map."""
    located, sampled = _located(db, q, geo, _sides(side))
    by_country: dict[str, dict[str, Any]] = {}
    for s, address, n, size, place in located:
        entry = by_country.get(place.country)
        if entry is None:
            entry = by_country[place.country] = {
                "country": place.country, "name": place.name, "numeric": place.numeric,
                "latitude": place.latitude, "longitude": place.longitude,
                "sources": 0, "destinations": 0, "bytes": 0, "addresses": 0}
        entry["sources" if s == "src" else "destinations"] += n
        entry["bytes"] += size
        entry["addresses"] += 1
    rows = sorted(by_country.values(), key=lambda e: (-(e["sources"] + e["destinations"]), e["country"]))
    return {"since": q.drill()["since"], "until": q.drill()["until"], "sampled": sampled,
            "database": f"{geo.path.name} ({geo.database_type})", "countries": rows}


@router.get("/geo/countries/{code}")
def country(code: str, q: analysis.Query = Depends(analysis_query),
            side: str = Query("both", pattern="^(both|src|dst)$"),
            db: Database = Depends(get_db), geo: GeoLocator = Depends(get_locator),
            who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """One country's addresses (with links to their events) and the alerts about them in the range."""
    if not COUNTRY.match(code):
        raise HTTPException(400, "country: an ISO 3166 alpha-2 code (e.g. DE), local or unknown")
    code = code.upper() if len(code) == 2 else code
    located, sampled = _located(db, q, geo, _sides(side))
    mine = [(s, a, n, b, p) for s, a, n, b, p in located if p.country == code]
    name = mine[0][4].name if mine else code
    addresses = [{"address": a, "side": "source" if s == "src" else "destination", "events": n, "bytes": b,
                  "city": p.city, "events_url": events_url(q.drill(**{s: a}))} for s, a, n, b, p in mine[:200]]
    sources = sorted({a for _s, a, _n, _b, _p in mine})
    with db.engine.connect() as conn:
        found = alerts_of_sources(conn, sources, q.since, q.until, limit=100)
    about = [{"id": a.id, "kind": a.kind, "subkind": a.subkind, "severity": str(a.severity), "source": a.source,
              "target": a.target, "count": a.count, "status": str(a.status), "last_seen": a.last_seen.isoformat(),
              "url": f"/alerts/{a.id}"} for a in found]
    return {"country": code, "name": name, "sampled": sampled, "addresses": addresses, "alerts": about}


@router.get("/geo/lookup")
def lookup(address: str = Query(..., max_length=64, description="an IPv4 or IPv6 address"),
           geo: GeoLocator = Depends(get_locator), who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Where one address is: country, city and coordinates when the database has them."""
    place = geo.lookup(address)
    if place.country == UNKNOWN and place.name == "Not an address":
        raise HTTPException(400, f"address: {address[:64]!r} is not an IP address")
    return {"address": address, **place.to_dict(), "local": place.country == LOCAL}
