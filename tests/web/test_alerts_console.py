"""The alerts list and alert page as the console shows them, on every engine: totals with paging, port and
matched-text excerpt, bulk acknowledge/resolve, evidence in sections, a blocked source's block."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import re

from sqlalchemy import func, select

from netwarden.records import Alert, Severity
from netwarden.store.alerts import save_alert
from netwarden.store.schema import events
from tests.web.console_data import ATTACKER, fill


def _many(db, n: int) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(timezone.utc)
    with db.engine.begin() as conn:
        for i in range(n):
            save_alert(conn, Alert(kind="port_scan", subkind="tcp", severity=Severity.LOW, confidence=0.5, factors=[],
                                   source=f"198.51.100.{i + 1}", target="10.0.0.1", first_seen=now - timedelta(hours=2),
                                   last_seen=now - timedelta(hours=1, seconds=i), count=1,
                                   evidence={"port": 22}, recommendation="", detector="port_scan"))


def test_list_has_totals_port_and_excerpt(web) -> None:  # type: ignore[no-untyped-def]
    ids = fill(web.db)
    _many(web.db, 60)
    viewer = web.client("viewer")
    page = viewer.get("/api/v1/alerts?limit=50").json()
    assert page["total"] == 63 and len(page["alerts"]) == 50
    rest = viewer.get("/api/v1/alerts", params={"limit": 50, "cursor": page["next_cursor"]}).json()
    assert rest["total"] == 63 and len(rest["alerts"]) == 13 and rest["next_cursor"] is None
    assert {a["id"] for a in page["alerts"]}.isdisjoint(a["id"] for a in rest["alerts"])
    assert viewer.get("/api/v1/alerts?kind=port_scan&severity=low").json()["total"] == 61  # low or worse
    sqli = viewer.get(f"/api/v1/alerts/{ids['sqli']}").json()
    assert sqli["port"] == 443 and sqli["excerpt"] == "' OR 1=1 --"
    assert viewer.get("/api/v1/alerts?source=198.51.100.1").json()["alerts"][0]["port"] == 22

    html = viewer.get("/alerts").text
    assert "63 alerts" in html and 'id="alerts-next"' in html and 'id="alerts-first"' not in html
    assert "&#39; OR 1=1 --" in html  # the excerpt, escaped
    second = viewer.get("/alerts", params={"cursor": page["next_cursor"]}).text
    assert second.count('<tr class="sev-') == 13 and 'id="alerts-next"' not in second and 'id="alerts-first"' in second
    assert viewer.get("/alerts", params={"cursor": "garbage"}).status_code == 400


def test_bulk_acknowledge_and_resolve(web) -> None:  # type: ignore[no-untyped-def]
    ids = fill(web.db)
    analyst, viewer = web.client("analyst"), web.client("viewer")
    chosen = [ids["scan"], ids["quiet"]]
    assert viewer.post("/api/v1/alerts/bulk-status", json={"ids": chosen, "status": "resolved"}).status_code == 403
    done = analyst.post("/api/v1/alerts/bulk-status", json={"ids": chosen, "status": "resolved"})
    assert done.status_code == 200 and done.json()["changed"] == sorted(chosen)
    statuses = {a["id"]: a["status"] for a in viewer.get("/api/v1/alerts").json()["alerts"]}
    assert statuses == {ids["scan"]: "resolved", ids["quiet"]: "resolved", ids["sqli"]: "new"}
    missing = analyst.post("/api/v1/alerts/bulk-status", json={"ids": [ids["sqli"], 999999], "status": "acknowledged"})
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    assert viewer.get(f"/api/v1/alerts/{ids['sqli']}").json()["status"] == "new"  # all or nothing
    assert analyst.post("/api/v1/alerts/bulk-status", json={"ids": [], "status": "resolved"}).status_code == 422
    assert analyst.post("/api/v1/alerts/bulk-status", json={"ids": [1], "status": "false_positive"}).status_code == 422
    form = analyst.post("/alerts/bulk", data={"ids": [str(ids["sqli"])], "status": "acknowledged",
                                              "back": "severity=low&cursor=abc&evil=x"}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/alerts?severity=low&cursor=abc"
    assert viewer.get(f"/api/v1/alerts/{ids['sqli']}").json()["status"] == "acknowledged"


def test_alert_page_sections_block_and_counts(web) -> None:  # type: ignore[no-untyped-def]
    ids = fill(web.db)
    analyst = web.client("analyst")
    html = analyst.get(f"/alerts/{ids['sqli']}").text
    assert 'id="alert-samples"' in html and "<mark>&#39; or 1=1 --</mark>" in html  # marked, and escaped
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned=5" in html
    assert 'id="alert-raw"' in html and 'id="alert-facts"' in html and "sqli-tautology" in html
    assert 'id="block-source"' not in html and 'id="alert-blocked"' in html  # already blocked: the block shown
    assert 'id="alert-port">443<' in html
    sqli = analyst.get(f"/api/v1/alerts/{ids['sqli']}").json()
    window = {"address": ATTACKER, "since": sqli["first_seen"], "until": sqli["last_seen"]}
    with web.db.engine.connect() as conn:  # the attacker's events from a minute before to a minute after
        expected = conn.execute(select(func.count()).select_from(events).where(
            events.c.src_ip == ATTACKER,
            events.c.timestamp >= datetime.fromisoformat(window["since"]) - timedelta(minutes=1),
            events.c.timestamp < datetime.fromisoformat(window["until"]) + timedelta(minutes=1))).scalar_one()
    assert 0 < expected < 40
    assert f"{expected} stored from" in html and f"These {expected} events" in html  # the count and the link agree
    link = re.search(r'href="(/events\?[^"]+)" id="alert-related-link"', html).group(1).replace("&amp;", "&")
    assert analyst.get(link).text.count('href="/events/') == expected
    quiet = analyst.get(f"/alerts/{ids['quiet']}").text
    assert 'id="block-source"' in quiet and 'id="alert-blocked"' not in quiet
    assert f"/hosts/{ATTACKER}" in html
