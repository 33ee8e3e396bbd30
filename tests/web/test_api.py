"""The REST API: events, alerts, dashboard, intake, users, settings — behaviour and bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from netwarden.records import Alert, Factor, Severity
from netwarden.store import alerts as alert_store
from netwarden.store.schema import events, quarantine, suppressions
from tests.web.conftest import PASSWORD, Web

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _now() -> None:
    """Each test's events are relative to when it runs: the API's "last 60 minutes" is the real clock's, and a
    loaded suite can reach this file's later tests more than an hour after importing it."""
    global NOW
    NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _event(i: int, **fields) -> str:  # type: ignore[no-untyped-def]
    base = {"timestamp": (NOW - timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
            "source_kind": "access_log", "src_ip": f"192.0.2.{i % 50}", "src_port": 40000 + i,
            "dst_ip": "10.0.0.5", "dst_port": 443 if i % 2 else 80, "transport": "tcp", "app_protocol": "http",
            "http_method": "GET", "url": f"/page/{i}", "http_status": 200 if i % 3 else 404,
            "user_agent": "Mozilla/5.0", "raw": f"raw line {i}", "bytes_out": 100}
    base.update(fields)
    return json.dumps(base)


def _intake(web: Web, lines: list[str], role: str = "analyst"):  # type: ignore[no-untyped-def]
    token = web.token(role)
    client = web.anonymous()
    return client.post("/api/v1/intake", content="\n".join(lines).encode(),
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})


def test_intake_stores_good_lines_quarantines_bad_ones_and_runs_detection(web: Web) -> None:
    lines = [_event(i) for i in range(20)]
    lines += ["not json", '{"no_kind": 1}', _event(99, src_port="eighty")]
    lines.append(_event(100, src_ip="203.0.113.66", url="/item.php?id=1' UNION SELECT password FROM users--"))
    response = _intake(web, lines)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lines"] == 24 and body["stored"] == 21 and body["quarantined"] == 3
    assert sum(body["quarantined_by_reason"].values()) == 3
    with web.db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 21
        assert conn.execute(select(func.count()).select_from(quarantine)).scalar_one() == 3
    found = web.client("viewer").get("/api/v1/alerts", params={"source": "203.0.113.66"}).json()["alerts"]
    assert [a["subkind"] for a in found if a["kind"] == "web_attack"] == ["sqli"]


def test_intake_refuses_an_empty_body_and_viewers(sqlite_web: Web) -> None:
    assert _intake(sqlite_web, []).status_code == 400
    assert _intake(sqlite_web, [_event(1)], role="viewer").status_code == 403


def test_event_filters(web: Web) -> None:
    _intake(web, [_event(i) for i in range(60)] + [
        _event(61, source_kind="syslog", transport="udp", app_protocol=None, message="sshd: Failed password",
               url=None, http_status=None, dst_port=22, user="root")])
    client = web.client("viewer")

    def ids(**params) -> list[int]:  # type: ignore[no-untyped-def]
        response = client.get("/api/v1/events", params={"limit": 500, **params})
        assert response.status_code == 200, response.text
        return [e["src_port"] - 40000 for e in response.json()["events"]]

    assert len(ids()) == 61
    assert ids(address="192.0.2.7") == [7, 57]  # newest first (57 minutes old)
    assert len(ids(src="192.0.2.0/29")) == len([i for i in [*range(60), 61] if i % 50 < 8])
    assert ids(address="192.0.2.7", order="oldest") == [57, 7]
    assert set(ids(port=22)) == {61}
    assert set(ids(protocol="udp")) == {61} and len(ids(protocol="http")) == 60
    assert set(ids(kind="syslog")) == {61}
    assert set(ids(status=404)) == {i for i in range(60) if i % 3 == 0}
    assert set(ids(q="FAILED PASSWORD")) == {61}  # any case
    assert set(ids(q="page/1")) == {1} | set(range(10, 20))
    since = (NOW - timedelta(minutes=5, seconds=30)).isoformat()
    until = (NOW - timedelta(minutes=1, seconds=30)).isoformat()
    assert ids(since=since, until=until) == [2, 3, 4, 5]


def test_keyset_pages_walk_every_event_once(web: Web) -> None:
    # equal timestamps in a row: the id breaks the tie, so no event is skipped or repeated across pages
    _intake(web, [_event(i, timestamp=NOW.isoformat()) for i in range(15)] + [_event(i) for i in range(15, 40)])
    client = web.client("viewer")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/events", params=params).json()
        seen += [e["id"] for e in page["events"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 6 and len(seen) == len(set(seen)) == 40
    times = [e["timestamp"] for e in client.get("/api/v1/events", params={"limit": 500}).json()["events"]]
    assert times == sorted(times, reverse=True)


def test_event_detail_has_the_raw_line(sqlite_web: Web) -> None:
    _intake(sqlite_web, [_event(3, extra={"vendor": "x"})])
    client = sqlite_web.client("viewer")
    listed = client.get("/api/v1/events").json()["events"][0]
    assert "raw" not in listed  # lists stay small
    detail = client.get(f"/api/v1/events/{listed['id']}").json()
    assert detail["raw"] == "raw line 3" and detail["extra"] == {"vendor": "x"}
    assert client.get("/api/v1/events/999999").status_code == 404
    page = client.get(f"/events/{listed['id']}")
    assert page.status_code == 200 and "raw line 3" in page.text


@pytest.mark.parametrize("params, status, words", [
    ({"address": "10.0.0.0/33"}, 400, "not an address or network"),
    ({"src": "host.example"}, 400, "not an address"),
    ({"port": 70000}, 422, "port"),
    ({"status": "abc"}, 422, "status"),
    ({"cursor": "garbage!"}, 400, "cursor"),
    ({"order": "sideways"}, 422, "order"),
    ({"since": "yesterday"}, 422, "since"),
    ({"limit": 0}, 422, "limit"),
    ({"since": "2026-01-02T00:00:00", "until": "2026-01-01T00:00:00"}, 400, "before"),
])
def test_bad_event_queries_are_4xx_with_a_message(sqlite_web: Web, params: dict, status: int, words: str) -> None:
    client = sqlite_web.client("viewer")
    response = client.get("/api/v1/events", params=params)
    assert response.status_code == status and words in response.json()["detail"]
    page = client.get("/events", params=params)
    assert page.status_code == status and words in page.text


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/alerts"])
def test_list_parameters_are_checked_together_and_described(sqlite_web: Web, path: str) -> None:
    # the hot lists read their query parameters themselves (netwarden.web.query_params), not one Query each
    anonymous = sqlite_web.anonymous()
    assert anonymous.get(path, params={"limit": 0}).status_code == 401  # who asks comes before what is asked
    client = sqlite_web.client("viewer")
    both = client.get(path, params={"limit": "many", "format": "pdf"})
    assert both.status_code == 422
    assert "query.limit: Input should be a valid integer" in both.json()["detail"] and "query.format" in both.json()["detail"]
    assert client.get(path, params={"limit": "", "since": "", "format": ""}).status_code == 200  # empty: absent
    described = {p["name"]: p for p in client.get("/api/v1/openapi.json").json()["paths"][path]["get"]["parameters"]}
    assert described["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
    assert described["since"]["schema"]["format"] == "date-time" and "bom" in described


def _alert(db, source: str, severity: Severity, **kw) -> Alert:  # type: ignore[no-untyped-def]
    a = Alert(kind=kw.pop("kind", "port_scan"), subkind="vertical", severity=severity, confidence=0.8,
              factors=[Factor("ports", 0.5, "40 ports in 10 s")], source=source, target="10.0.0.5",
              first_seen=NOW - timedelta(minutes=10), last_seen=NOW - timedelta(minutes=1), count=40,
              evidence={"ports": [22, 80]}, recommendation="Block it.", detector="port_scan",
              signature=kw.pop("signature", "tcp"), **kw)
    with db.engine.begin() as conn:
        alert_store.save_alert(conn, a)
    return a


def test_alert_list_detail_and_status_changes(web: Web) -> None:
    _intake(web, [_event(i, src_ip="192.0.2.9") for i in range(1, 4)])
    crit = _alert(web.db, "192.0.2.9", Severity.CRITICAL)
    _alert(web.db, "192.0.2.1", Severity.LOW, kind="brute_force", signature="ssh")
    viewer, analyst = web.client("viewer"), web.client("analyst")
    assert [a["id"] for a in viewer.get("/api/v1/alerts", params={"severity": "high"}).json()["alerts"]] == [crit.id]
    assert len(viewer.get("/api/v1/alerts").json()["alerts"]) == 2
    assert [a["kind"] for a in viewer.get("/api/v1/alerts", params={"q": "BRUTE"}).json()["alerts"]] == ["brute_force"]
    detail = viewer.get(f"/api/v1/alerts/{crit.id}").json()
    assert detail["factors"] == [{"name": "ports", "weight": 0.5, "detail": "40 ports in 10 s"}]
    assert detail["recommendation"] == "Block it." and detail["evidence"] == {"ports": [22, 80]}
    assert len(detail["related_events"]) == 3
    for status in ("acknowledged", "resolved", "false_positive"):
        changed = analyst.post(f"/api/v1/alerts/{crit.id}/status", json={"status": status, "note": "lab"})
        assert changed.status_code == 200 and changed.json()["status"] == status
    with web.db.engine.connect() as conn:
        rows = conn.execute(select(suppressions)).all()
    assert [(r.kind, r.source, r.created_by) for r in rows] == [("port_scan", "192.0.2.9", "analyst")]
    assert analyst.post(f"/api/v1/alerts/{crit.id}/status", json={"status": "gone"}).status_code == 422
    assert analyst.post("/api/v1/alerts/424242/status", json={"status": "resolved"}).status_code == 404
    assert viewer.get("/api/v1/alerts/424242").status_code == 404
    assert viewer.get("/api/v1/alerts", params={"source": "nope"}).status_code == 400
    # the page's buttons do the same through a form
    page = analyst.get(f"/alerts/{crit.id}")
    assert "Block it." in page.text and 'id="set-new"' in page.text
    assert 'id="alert-actions"' not in viewer.get(f"/alerts/{crit.id}").text


def test_dashboard_cards_and_traffic(web: Web) -> None:
    _intake(web, [_event(i) for i in range(30)])
    _alert(web.db, "192.0.2.1", Severity.CRITICAL)
    _alert(web.db, "192.0.2.2", Severity.HIGH, signature="b")
    resolved = _alert(web.db, "192.0.2.3", Severity.HIGH, signature="c")
    with web.db.engine.begin() as conn:
        alert_store.set_status(conn, resolved.id, alert_store.AlertStatus.RESOLVED)  # type: ignore[arg-type]
    client = web.client("viewer")
    cards = client.get("/api/v1/dashboard").json()
    today = sum(1 for i in range(30) if NOW - timedelta(minutes=i) >= NOW.astimezone().replace(
        hour=0, minute=0, second=0))
    assert cards["events_today"] == today
    assert cards["alerts_open"] == {"critical": 1, "high": 1, "medium": 0, "low": 0}
    assert cards["blocked"] == 0
    traffic = client.get("/api/v1/traffic", params={"minutes": 60}).json()
    assert traffic["step_minutes"] == 1 and len(traffic["points"]) == 60
    assert sum(p["events"] for p in traffic["points"]) == 30
    assert sum(p["bytes"] for p in traffic["points"]) == 3000
    week = client.get("/api/v1/traffic", params={"minutes": 7 * 24 * 60}).json()
    assert len(week["points"]) <= 240 and sum(p["events"] for p in week["points"]) == 30
    assert client.get("/api/v1/traffic", params={"minutes": 0}).status_code == 422


def test_users_api(web: Web) -> None:
    admin = web.client("admin")
    made = admin.post("/api/v1/users", json={"name": "carol", "password": PASSWORD, "role": "viewer"})
    assert made.status_code == 201 and made.json()["must_change"] is True
    assert admin.post("/api/v1/users", json={"name": "carol", "password": PASSWORD, "role": "viewer"}).status_code == 409
    assert admin.post("/api/v1/users", json={"name": "bad name!", "password": PASSWORD,
                                             "role": "viewer"}).status_code == 400
    assert admin.post("/api/v1/users", json={"name": "dave", "password": "short", "role": "viewer"}).status_code == 422
    assert admin.patch("/api/v1/users/carol", json={"role": "analyst"}).json()["role"] == "analyst"
    names = [u["name"] for u in admin.get("/api/v1/users").json()["users"]]
    assert names == ["admin", "analyst", "carol", "viewer"]
    assert admin.delete("/api/v1/users/carol").status_code == 204
    assert admin.delete("/api/v1/users/carol").status_code == 404
    last = admin.patch("/api/v1/users/admin", json={"role": "viewer"})
    assert last.status_code == 400 and "last admin" in last.json()["detail"]
    assert admin.delete("/api/v1/users/admin").status_code == 400


def test_settings_api_shows_detectors_and_feeds(sqlite_web: Web) -> None:
    view = sqlite_web.client("admin").get("/api/v1/settings").json()
    names = {d["name"] for d in view["detectors"]}
    assert {"port_scan", "brute_force", "web_attack"} <= names
    brute = next(d for d in view["detectors"] if d["name"] == "brute_force")
    assert brute["settings"]["min_failures"] == 10
    assert view["intel"]["feeds"] and view["intel"]["feeds"][0]["exists"] is True
    page = sqlite_web.client("admin").get("/settings")
    assert page.status_code == 200 and "min_failures" in page.text


def test_security_headers_everywhere(sqlite_web: Web) -> None:
    client = sqlite_web.client("viewer")
    for path in ("/", "/login", "/api/v1/me", "/static/js/nw.js", "/api/v1/nothing-here",
                 "/static/vendor/bootstrap/dist/css/bootstrap.min.css"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"  # nothing leaves for other sites


def test_unknown_routes_and_bad_bodies_are_4xx_json(sqlite_web: Web) -> None:
    client = sqlite_web.client("admin")
    assert client.get("/api/v1/nothing").status_code == 404
    broken = client.post("/api/v1/users", content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 422 and "detail" in broken.json()
    assert client.get("/api/v1/events/notanumber").status_code == 422
    assert client.get("/api/v1/events/99999999999999999999999").status_code in (404, 422)


def test_blocked_card_counts_active_blocks(sqlite_web: Web) -> None:
    from sqlalchemy import insert

    from netwarden.store.addresses import address_key
    from netwarden.store.schema import metadata

    blocks = metadata.tables["blocks"]  # the respond package's table
    with sqlite_web.db.engine.begin() as conn:
        for network, state in (("203.0.113.7", "active"), ("203.0.113.8", "active"), ("203.0.113.9", "removed")):
            key = address_key(network)
            conn.execute(insert(blocks).values(network=network, addr_lo=key, addr_hi=key, reason="test", backend="nft",
                                               mode="dry-run", created_by="test", created=NOW, level=0, state=state,
                                               detail=""))
    assert sqlite_web.client("viewer").get("/api/v1/dashboard").json()["blocked"] == 2


def test_address_filter_pages_through_both_sides_in_time_order(web: Web) -> None:
    lines = [_event(i, src_ip="192.0.2.200") for i in range(0, 30, 2)]
    lines += [_event(i, dst_ip="192.0.2.200", src_ip="192.0.2.3") for i in range(1, 30, 2)]
    lines += [_event(i, src_ip="192.0.2.4") for i in range(30, 40)]
    lines.append(_event(40, src_ip="192.0.2.200", dst_ip="192.0.2.200"))  # both sides: listed once
    _intake(web, lines)
    client = web.client("viewer")
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/events", params={"limit": 7, "address": "192.0.2.200"} | (
            {"cursor": cursor} if cursor else {})).json()
        seen += [e["src_port"] - 40000 for e in page["events"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [*range(30), 40]  # newest first: minute 0 is the newest
