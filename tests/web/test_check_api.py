"""``POST /api/v1/check`` and the check page: verdicts, roles, CSRF, bad input as 4xx with a message."""

from __future__ import annotations

import pytest

SQLI = ('203.0.113.9 - - [21/Nov/2026:10:00:00 +0000] "GET /products?id=1%27%20UNION%20SELECT%20password'
        '%20FROM%20users-- HTTP/1.1" 200 5 "-" "<script>alert(1)</script>"')


def test_line_and_connection_verdicts(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    analyst = sqlite_web.client("analyst")
    r = analyst.post("/api/v1/check", json={"line": SQLI})
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["verdict"] == "malicious" and v["format"] == "access_log"
    assert v["reasons"][0]["source"] == "detector:web_attack"
    assert v["event"]["user_agent"] == "<script>alert(1)</script>"  # returned as data, shown with textContent
    r = analyst.post("/api/v1/check", json={"connection": {"src_ip": "45.1.2.3", "dst_ip": "10.0.0.5",
                                                            "protocol": "tcp", "dst_port": 23, "tcp_flags": "FPU"}})
    v = r.json()
    assert v["verdict"] == "suspicious" and any("XMAS" in x["detail"] for x in v["reasons"])
    assert v["places"]["10.0.0.5"]["country"] == "local" and v["places"]["45.1.2.3"]["country"] not in ("local", "")
    assert "no machine-learning model is active" in v["notes"]
    clean = analyst.post("/api/v1/check", json={"connection": {"src_ip": "10.0.0.5", "dst_ip": "142.250.185.78",
                                                                "dst_port": 443, "tcp_flags": "SA"}}).json()
    assert clean["verdict"] == "no known threat"
    # nothing was stored
    assert analyst.get("/api/v1/events").json()["events"] == []


def test_roles_and_csrf(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    body = {"line": SQLI}
    assert sqlite_web.anonymous().post("/api/v1/check", json=body).status_code == 401
    assert sqlite_web.client("viewer").post("/api/v1/check", json=body).status_code == 403
    assert sqlite_web.client("admin").post("/api/v1/check", json=body).status_code == 200
    analyst = sqlite_web.client("analyst")
    del analyst.headers["X-CSRF-Token"]
    assert analyst.post("/api/v1/check", json=body).status_code == 403  # a cookie without the CSRF header
    token = sqlite_web.token("analyst")
    anon = sqlite_web.anonymous()
    assert anon.post("/api/v1/check", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("body, status, message", [
    ({}, 400, "either a connection or a log line"),
    ({"line": SQLI, "connection": {"src_ip": "1.2.3.4", "dst_ip": "1.2.3.5"}}, 400, "either"),
    ({"line": ""}, 400, "empty"),
    ({"line": "certainly not a log line"}, 400, "recognise"),
    ({"line": SQLI, "format": "zeek_conn"}, 400, "cannot read"),
    ({"line": SQLI, "format": "nope"}, 400, "unknown format"),
    ({"connection": {"src_ip": "1.2.3", "dst_ip": "1.2.3.5"}}, 400, "not an IP address"),
    ({"connection": {"src_ip": "1.2.3.4", "dst_ip": "1.2.3.5", "protocol": "gre"}}, 400, "protocol"),
    ({"connection": {"src_ip": "1.2.3.4", "dst_ip": "1.2.3.5", "tcp_flags": "XYZZY"}}, 400, "unknown flag"),
    ({"connection": {"src_ip": "1.2.3.4", "dst_ip": "1.2.3.5", "dst_port": 65536}}, 422, None),
    ({"connection": {"src_ip": "1.2.3.4", "dst_ip": "1.2.3.5", "bytes_out": -5}}, 422, None),
    ({"connection": {"src_ip": "1.2.3.4"}}, 422, None),
    ({"connection": {"src_ip": "1.2.3.4", "dst_ip": "1.2.3.5", "evil": 1}}, 422, None),
    ({"line": "x" * 70_000}, 422, None),
])
def test_bad_input(sqlite_web, body, status, message) -> None:  # type: ignore[no-untyped-def]
    r = sqlite_web.client("analyst").post("/api/v1/check", json=body)
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    if message:
        assert message in r.json()["detail"]


def test_not_json_is_a_4xx(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    r = sqlite_web.client("analyst").post("/api/v1/check", content=b"\xff\xfe not json",
                                          headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and r.json()["detail"]


def test_check_page(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    analyst = sqlite_web.client("analyst")
    page = analyst.get("/check")
    assert page.status_code == 200 and 'id="pane-connection"' in page.text and 'value="access_log"' in page.text
    assert 'href="/check"' in page.text
    assert sqlite_web.client("viewer").get("/check").status_code == 403


def test_each_user_has_a_history_of_checks(web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    analyst, admin = web.client("analyst"), web.client("admin")
    analyst.post("/api/v1/check", json={"line": SQLI})
    analyst.post("/api/v1/check", json={"connection": {"src_ip": "45.1.2.3", "dst_ip": "10.0.0.5", "protocol": "icmp",
                                                       "tcp_flags": "SYN"}})
    admin.post("/api/v1/check", json={"connection": {"src_ip": "10.0.0.5", "dst_ip": "10.0.0.6"}})
    mine = analyst.get("/api/v1/check/history").json()["checks"]
    assert [c["verdict"] for c in mine][1] == "malicious" and mine[1]["input"]["line"] == SQLI
    assert mine[0]["input"]["connection"]["protocol"] == "icmp" and len(mine) == 2  # newest first, only mine
    assert len(admin.get("/api/v1/check/history").json()["checks"]) == 1
    assert analyst.post("/api/v1/check", json={"line": ""}).status_code == 400
    assert len(analyst.get("/api/v1/check/history").json()["checks"]) == 2  # refused input is not a check
    page = analyst.get("/check").text
    assert page.count('<li class="border-bottom py-1" data-id=') == 2 and "&lt;script&gt;alert(1)" in page
    assert web.client("viewer").get("/api/v1/check/history").status_code == 403
    from netwarden.web.api import check as check_api

    monkeypatch.setattr(check_api, "HISTORY_KEPT", 2)  # the newest are kept, the oldest go
    analyst.post("/api/v1/check", json={"connection": {"src_ip": "10.0.0.9", "dst_ip": "10.0.0.6"}})
    kept = analyst.get("/api/v1/check/history").json()["checks"]
    assert [c["input"].get("connection", {}).get("src_ip") for c in kept] == ["10.0.0.9", "45.1.2.3"]
