"""The analysis and geo APIs: sums, drill-down links that the events API honours, roles, bad input (4xx
with a message, never 500), and the pages rendering for each role."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from netwarden.records import Alert, Event, Factor, Severity
from netwarden.store.alerts import save_alert
from netwarden.store.events import insert_events
from netwarden.store.rollups import add_rollups

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _load(db) -> None:  # type: ignore[no-untyped-def]
    batch = []
    for i in range(30):  # 30 requests from a US address, 10 from the Netherlands, 5 from inside
        batch.append(Event(timestamp=NOW - timedelta(minutes=5, seconds=i), source_kind="access_log",
                           src_ip="8.8.8.8", dst_ip="10.0.0.80", dst_port=443, transport="tcp",
                           http_method="GET", http_status=200, url=f"/p{i}", bytes_in=1000))
    for i in range(10):
        batch.append(Event(timestamp=NOW - timedelta(minutes=4, seconds=i), source_kind="access_log",
                           src_ip="193.0.6.139", dst_ip="10.0.0.80", dst_port=443, transport="tcp",
                           http_method="POST", http_status=404, url="/login", bytes_in=300,
                           user_agent='"><img src=x onerror=alert(1)>'))
    for i in range(5):
        batch.append(Event(timestamp=NOW - timedelta(minutes=3, seconds=i), source_kind="netflow",
                           src_ip="10.0.0.5", dst_ip="1.1.1.1", dst_port=53, transport="udp", bytes_out=70))
    with db.engine.begin() as conn:
        insert_events(conn, batch)
        add_rollups(conn, batch)
        save_alert(conn, Alert(kind="web_attack", subkind="sqli", severity=Severity.HIGH, confidence=0.9,
                               factors=[Factor("signature", 0.9, "UNION SELECT")], source="193.0.6.139",
                               target="www", first_seen=NOW - timedelta(minutes=4), last_seen=NOW - timedelta(minutes=3),
                               count=10, evidence={}, recommendation="block it", detector="web_attack"))


def test_overview_on_every_engine(web) -> None:  # type: ignore[no-untyped-def]
    _load(web.db)
    viewer = web.client("viewer")
    r = viewer.get("/api/v1/analysis", params={"minutes": 60})
    assert r.status_code == 200, r.text
    data = r.json()
    assert sum(p["events"] for p in data["volume"]["points"]) == 45
    assert [(t["address"], t["events"]) for t in data["talkers"]["rows"]] == [
        ("8.8.8.8", 30), ("193.0.6.139", 10), ("10.0.0.5", 5)]
    assert {m["method"]: m["events"] for m in data["http"]["methods"]} == {"GET": 30, "POST": 10}
    # the drill-down link of a row lists exactly its events through the events API
    link = data["talkers"]["rows"][1]["events_url"]
    assert link.startswith("/events?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    listed = viewer.get("/api/v1/events", params={**query, "limit": 500}).json()["events"]
    assert len(listed) == 10 and {e["src_ip"] for e in listed} == {"193.0.6.139"}
    udp = next(t for t in data["protocols"]["transports"] if t["transport"] == "udp")
    assert "protocol=udp" in udp["events_url"]


def test_each_part_and_filters(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    _load(sqlite_web.db)
    c = sqlite_web.client("viewer")
    assert c.get("/api/v1/analysis/talkers", params={"src": "10.0.0.0/8"}).json()["rows"][0]["address"] == "10.0.0.5"
    ports = c.get("/api/v1/analysis/protocols", params={"kind": "netflow"}).json()["ports"]
    assert [(p["port"], p["events"]) for p in ports] == [(53, 5)]
    conv = c.get("/api/v1/analysis/conversations").json()
    assert len(conv["links"]) == 3 and len(conv["matrix"]) == len(conv["nodes"])
    assert c.get("/api/v1/analysis/http").json()["classes"] == {"2xx": 30, "4xx": 10}
    assert c.get("/api/v1/analysis/destinations", params={"limit": 1}).json()["rows"][0]["address"] == "10.0.0.80"
    assert c.get("/api/v1/analysis/volume", params={"minutes": 1440}).json()["bucket_seconds"] == 900


@pytest.mark.parametrize("params, message", [
    ({"src": "not-an-address"}, "src"),
    ({"address": "10.0.0.0/99"}, "address"),
    ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "after its start"),
    ({"until": "0001-01-01T00:10:00Z", "minutes": 60}, "year 1"),
    ({"minutes": 0}, None), ({"limit": 1000}, None), ({"port": 70000}, None), ({"since": "yesterday"}, None),
])
def test_bad_input_is_a_4xx_with_a_message(sqlite_web, params, message) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_web.client("viewer")
    for path in ("/api/v1/analysis", "/api/v1/geo/countries"):
        r = c.get(path, params=params)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
        assert r.json()["detail"]
        if message:
            assert message in str(r.json()["detail"])


def test_anonymous_callers_are_refused(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    anon = sqlite_web.anonymous()
    for path in ("/api/v1/analysis", "/api/v1/analysis/talkers", "/api/v1/geo/countries", "/api/v1/geo/countries/US",
                 "/api/v1/geo/lookup?address=8.8.8.8"):
        assert anon.get(path).status_code == 401, path
    token = sqlite_web.token("viewer")
    assert anon.get("/api/v1/analysis", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_geo_countries_and_drill_down(web) -> None:  # type: ignore[no-untyped-def]
    _load(web.db)
    c = web.client("viewer")
    data = c.get("/api/v1/geo/countries", params={"minutes": 60}).json()
    by = {x["country"]: x for x in data["countries"]}
    assert by["US"]["sources"] == 30 and by["US"]["numeric"] == "840" and by["US"]["latitude"] is not None
    assert by["NL"]["sources"] == 10
    assert by["AU"]["destinations"] == 5  # 1.1.1.1
    assert by["local"]["sources"] == 5 and by["local"]["destinations"] == 40 and by["local"]["latitude"] is None
    only_src = {x["country"] for x in c.get("/api/v1/geo/countries", params={"side": "src"}).json()["countries"]}
    assert "AU" not in only_src
    nl = c.get("/api/v1/geo/countries/nl").json()
    assert nl["country"] == "NL" and [a["address"] for a in nl["addresses"]] == ["193.0.6.139"]
    assert [a["kind"] for a in nl["alerts"]] == ["web_attack"] and nl["alerts"][0]["url"].startswith("/alerts/")
    assert c.get(nl["addresses"][0]["events_url"].replace("/events?", "/api/v1/events?")).json()["events"]
    assert c.get("/api/v1/geo/countries/US").json()["alerts"] == []


@pytest.mark.parametrize("path, status", [
    ("/api/v1/geo/countries/U$", 400), ("/api/v1/geo/countries/USA", 400),
    ("/api/v1/geo/lookup?address=<script>", 400), ("/api/v1/geo/lookup", 422),
    ("/api/v1/geo/countries?side=sideways", 422),
])
def test_geo_bad_input(sqlite_web, path, status) -> None:  # type: ignore[no-untyped-def]
    r = sqlite_web.client("viewer").get(path)
    assert r.status_code == status and r.json()["detail"]


@pytest.mark.parametrize("params", [
    {"since": "0001-01-01T00:00:00Z", "until": "0001-01-02T00:00:00Z"},
    {"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"},
    {"since": "2026-01-01T00:00:00+14:00", "until": "2026-01-01T00:00:00-12:00"},
])
def test_extreme_ranges_answer(sqlite_web, params) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_web.client("viewer")
    for path in ("/api/v1/analysis", "/api/v1/geo/countries", "/api/v1/geo/countries/US"):
        assert c.get(path, params=params).status_code == 200, path


def test_widest_range_on_every_engine(web) -> None:  # type: ignore[no-untyped-def]
    _load(web.db)
    c = web.client("viewer")
    params = {"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}
    assert c.get("/api/v1/analysis", params=params).json()["protocols"]["total"] == 45
    for path in ("/api/v1/analysis", "/api/v1/geo/countries", "/api/v1/geo/countries/US"):
        assert c.get(path, params=params).status_code == 200, path


def test_geo_lookup(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_web.client("viewer")
    assert c.get("/api/v1/geo/lookup", params={"address": "8.8.8.8"}).json()["country"] == "US"
    local = c.get("/api/v1/geo/lookup", params={"address": "192.168.1.1"}).json()
    assert local["local"] is True and local["country"] == "local"


def test_missing_geo_database_is_a_503_with_advice(sqlite_web, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sqlite_web.settings.web.geo_database = str(tmp_path / "GeoLite2-City.mmdb")  # the app's own settings
    r = sqlite_web.client("viewer").get("/api/v1/geo/countries")
    assert r.status_code == 503 and "GeoLite2-City.mmdb" in r.json()["detail"]


def test_pages_render_for_viewers(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    viewer = sqlite_web.client("viewer")
    for path, marker in (("/analysis", 'id="analysis-form"'), ("/map", 'id="world"')):
        r = viewer.get(path)
        assert r.status_code == 200 and marker in r.text
        assert "<script>" not in r.text  # scripts only from files (CSP)
    nav = viewer.get("/analysis").text
    assert 'href="/analysis"' in nav and 'href="/map"' in nav and 'href="/check"' not in nav
    assert sqlite_web.anonymous().get("/map", follow_redirects=False).status_code in (302, 303, 401)
    for asset in ("/static/js/analysis.js", "/static/js/map.js", "/static/css/map.css",
                  "/static/vendor/world-atlas/countries-110m.json",
                  "/static/vendor/topojson-client/dist/topojson-client.min.js"):
        assert viewer.get(asset).status_code == 200, asset
