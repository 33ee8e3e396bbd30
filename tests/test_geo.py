"""Offline geolocation with the bundled DB-IP Lite database (installed by npm) and the map shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.enrich import geo


@pytest.fixture(scope="module")
def locator() -> geo.GeoLocator:
    try:
        return geo.GeoLocator.bundled()
    except geo.GeoError as exc:
        pytest.fail(f"{exc} (scripts/setup installs it)")


@pytest.mark.parametrize("address, country", [
    ("8.8.8.8", "US"),  # Google public DNS
    ("193.0.6.139", "NL"),  # RIPE NCC, Amsterdam
    ("1.1.1.1", "AU"),  # APNIC research prefix, registered in Australia
    ("2001:67c:2e8::1", "NL"),  # RIPE NCC over IPv6
])
def test_public_addresses_have_a_country_and_a_point(locator, address, country) -> None:  # type: ignore[no-untyped-def]
    place = locator.lookup(address)
    assert place.country == country
    assert place.numeric and place.name
    assert place.latitude is not None and place.longitude is not None


def test_country_only_database_uses_the_mainland_centroid(locator) -> None:  # type: ignore[no-untyped-def]
    # Australia has extra shapes (reefs) under the same code, France has overseas departments:
    # the point must be on the mainland, not on an island or in the Indian Ocean
    au = locator.lookup("1.1.1.1")
    assert not au.exact and -32 < au.latitude < -18 and 125 < au.longitude < 145
    fr = geo.country_centroids(geo.vendor_dir() / geo.SHAPES)["250"]
    assert 44 < fr[0] < 49 and 0 < fr[1] < 5


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.1", "172.16.5.5", "127.0.0.1", "169.254.1.1",
                                     "::1", "fe80::1", "fd00::1", "::ffff:10.0.0.1", "224.0.0.1", "0.0.0.0"])
def test_private_and_reserved_addresses_are_local(locator, address) -> None:  # type: ignore[no-untyped-def]
    place = locator.lookup(address)
    assert place.country == geo.LOCAL and place.latitude is None


@pytest.mark.parametrize("text", ["", "not-an-ip", "<script>alert(1)</script>", "999.1.1.1", "1.2.3.4/24"])
def test_garbage_is_unknown_not_an_error(locator, text) -> None:  # type: ignore[no-untyped-def]
    assert locator.lookup(text).country == geo.UNKNOWN


def test_maxmind_nested_records_with_city_and_coordinates(locator) -> None:  # type: ignore[no-untyped-def]
    # what GeoLite2-City / DB-IP City (MaxMind format) return, when configured instead of the bundled file
    record = {"country": {"iso_code": "de", "names": {"en": "Germany"}}, "city": {"names": {"en": "Berlin"}},
              "location": {"latitude": 52.52, "longitude": 13.405}}
    place = locator._place(record)
    assert (place.country, place.numeric, place.city, place.exact) == ("DE", "276", "Berlin", True)
    assert (place.latitude, place.longitude) == (52.52, 13.405)
    flat = locator._place({"country_code": "JP", "city": "Tokyo", "latitude": 35.68, "longitude": 139.69})
    assert (flat.country, flat.city, flat.exact) == ("JP", "Tokyo", True)
    assert locator._place({"city": "nowhere"}).country == geo.UNKNOWN


def test_missing_or_broken_database_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(geo.GeoError, match="scripts/setup"):
        geo.GeoLocator(tmp_path / "absent.mmdb")
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"this is not a maxmind database" * 100)
    with pytest.raises(geo.GeoError, match="not a MaxMind DB"):
        geo.GeoLocator(bad)


def test_settings_pick_the_configured_database(tmp_path: Path) -> None:
    class Web:
        vendor_dir = ""
        geo_database = str(tmp_path / "GeoLite2-City.mmdb")

    with pytest.raises(geo.GeoError, match="GeoLite2-City.mmdb"):
        geo.GeoLocator.from_settings(Web())
    Web.geo_database = ""
    assert geo.GeoLocator.from_settings(Web()).path.name == "dbip-country.mmdb"


def test_documentation_and_reserved_ranges_are_not_called_local_network() -> None:
    import ipaddress

    from netwarden.enrich.geo import local_name

    names = {a: local_name(ipaddress.ip_address(a)) for a in (
        "10.1.2.3", "192.168.0.1", "fd00::1", "::ffff:172.16.0.9", "192.0.2.7", "203.0.113.5", "2001:db8::1",
        "240.0.0.1", "127.0.0.1")}
    assert {a for a, n in names.items() if n == "Local network"} == {"10.1.2.3", "192.168.0.1", "fd00::1",
                                                                    "::ffff:172.16.0.9"}
    assert names["192.0.2.7"] == names["2001:db8::1"] == "Documentation range (not routed)"
    assert names["240.0.0.1"] == "Reserved range (not routed)" and names["127.0.0.1"] == "Loopback"
