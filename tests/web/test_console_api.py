"""The console's API on every engine: incidents (totals, timeline, status), the host summary, repeat
offenders and web visitors; bad input is a 4xx with a message."""

from __future__ import annotations

from netwarden.useragent import parse_agent
from tests.web.console_data import ATTACKER, HOSTILE_AGENT, QUIET, fill


def test_incidents_list_timeline_and_status(web) -> None:  # type: ignore[no-untyped-def]
    ids = fill(web.db)
    viewer, analyst = web.client("viewer"), web.client("analyst")
    listed = viewer.get("/api/v1/incidents").json()
    assert listed["total"] == 1 and listed["incidents"][0]["id"] == ids["incident"]
    assert viewer.get("/api/v1/incidents?status=resolved").json() == {"total": 0, "incidents": [], "next_cursor": None}
    assert viewer.get("/api/v1/incidents?limit=1").json()["next_cursor"] is None  # one incident: one page

    one = viewer.get(f"/api/v1/incidents/{ids['incident']}").json()
    alerts = [i for i in one["timeline"] if i["type"] == "alert"]
    assert [a["id"] for a in alerts] == [ids["scan"], ids["sqli"]]  # in time order
    events = [i for i in one["timeline"] if i["type"] == "event"]
    assert len(events) == 40 and all(e["src_ip"] == ATTACKER for e in events)  # the quiet source's are not in it
    times = [i["time"] for i in one["timeline"]]
    assert times == sorted(times)

    assert viewer.post(f"/api/v1/incidents/{ids['incident']}/status", json={"status": "resolved"}).status_code == 403
    changed = analyst.post(f"/api/v1/incidents/{ids['incident']}/status", json={"status": "resolved"})
    assert changed.status_code == 200 and changed.json()["status"] == "resolved"
    assert viewer.get("/api/v1/incidents?status=resolved").json()["total"] == 1
    bad = analyst.post(f"/api/v1/incidents/{ids['incident']}/status", json={"status": "gone"})
    assert bad.status_code == 422 and "status" in bad.json()["detail"]
    assert analyst.post("/api/v1/incidents/999999/status", json={"status": "open"}).status_code == 404
    assert viewer.get("/api/v1/incidents/999999").status_code == 404


def test_host_summary(web) -> None:  # type: ignore[no-untyped-def]
    fill(web.db)
    viewer = web.client("viewer")
    host = viewer.get(f"/api/v1/hosts/{ATTACKER}").json()
    assert host["events"] == 40
    assert host["first_seen"] < host["last_seen"]
    assert {p["port"]: p["events"] for p in host["ports"]} == {443: 30, 80: 10}
    assert [p["address"] for p in host["peers_out"]] == ["10.0.0.80"] and host["peers_in"] == []
    assert {a["kind"] for a in host["alerts"]} == {"port_scan", "web_attack"}
    assert sorted(b["state"] for b in host["blocks"]) == ["active", "expired"]
    assert host["country"].startswith("Netherlands")
    agents = {a["user_agent"]: a for a in host["agents"]}
    assert agents["sqlmap/1.7"]["bot"] is True and agents[HOSTILE_AGENT]["events"] == 20
    assert sum(p["events"] for p in host["volume"]["points"]) == 40
    server = viewer.get("/api/v1/hosts/10.0.0.80").json()
    assert server["country"] == "Local network" and server["events"] == 50
    assert {p["address"] for p in server["peers_in"]} == {ATTACKER, QUIET}
    bad = viewer.get("/api/v1/hosts/not-an-address")
    assert bad.status_code == 400 and "not an IP address" in bad.json()["detail"]
    assert viewer.get(f"/api/v1/hosts/{ATTACKER}?days=0").status_code == 422


def test_repeat_offenders(web) -> None:  # type: ignore[no-untyped-def]
    fill(web.db)
    rows = web.client("viewer").get("/api/v1/offenders?days=7").json()["offenders"]
    assert [r["source"] for r in rows] == [ATTACKER, QUIET]  # two alerts and two blocks beat one alert
    worst = rows[0]
    assert worst["alerts"] == 2 and worst["blocks"] == 2 and worst["severity"] == "critical"
    assert worst["level"] == 1 and worst["block"]["state"] == "active" and worst["block"]["level"] == 1
    assert sorted(worst["kinds"]) == ["port_scan", "web_attack"]
    assert rows[1]["blocks"] == 0 and rows[1]["block"] is None


def test_visitors(web) -> None:  # type: ignore[no-untyped-def]
    fill(web.db)
    v = web.client("viewer").get("/api/v1/visitors?days=1").json()
    assert v["requests"] == 50 and v["visitors"] == 2 and v["bots"] == 20
    assert [t["address"] for t in v["top"]] == [ATTACKER, QUIET]
    assert v["top"][0]["bot"] is True and v["top"][1]["bot"] is False
    browsers = dict(v["browsers"])
    assert browsers["Firefox 120"] == 5 and browsers["Mobile Safari 17"] == 5
    assert dict(v["devices"])["iPhone"] == 5
    assert dict(v["countries"]) == {"Netherlands": 40, "United States": 10}


def test_user_agents_parsed() -> None:
    assert parse_agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").bot
    assert parse_agent("curl/8.4.0").bot and parse_agent("python-requests/2.31").bot
    firefox = parse_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0")
    assert (firefox.browser, firefox.os, firefox.device, firefox.bot) == ("Firefox 121", "Windows", "Desktop", False)
    assert parse_agent(None).browser == "Other" and not parse_agent(HOSTILE_AGENT).bot
    assert parse_agent("A" * 100_000).browser == "Other"  # cut before the rules see it
