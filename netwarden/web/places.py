"""Where an address is, for pages: the offline geolocation database when it is installed, else nothing
(pages then show no country; the map page explains how to install the database)."""

from __future__ import annotations

from typing import Any

from netwarden.enrich.geo import LOCAL, UNKNOWN, GeoError, Place


def place_of(settings: Any, address: str | None) -> Place | None:
    if not address:
        return None
    from netwarden.web.api.geo import locator as shared_locator

    try:
        locator = shared_locator(settings.web.geo_database, settings.web.vendor_dir)
    except GeoError:
        return None
    place = locator.lookup(address)
    return None if place.country == UNKNOWN and place.name == "Not an address" else place


def country_label(place: Place | None) -> str:
    if place is None:
        return ""
    if place.country in (LOCAL, UNKNOWN):
        return place.name
    return f"{place.name} ({place.country})" + (f", {place.city}" if place.city else "")


def as_of(settings: Any, address: str | None) -> dict[str, Any] | None:
    """The autonomous system of an address (offline data, netwarden.enrich.asn); None when unknown or the
    data is not installed."""
    if not address:
        return None
    from netwarden.enrich.asn import shared

    database = shared(settings.web.vendor_dir or None)
    found = database.lookup(address) if database is not None else None
    return {"number": found.number, "organisation": found.organisation, "label": found.label()} if found else None


def as_installed(settings: Any) -> bool:
    from netwarden.enrich.asn import shared

    return shared(settings.web.vendor_dir or None) is not None
