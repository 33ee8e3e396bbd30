"""The download buttons in a real browser (Debian's chromium through Playwright): events (filtered), alerts,
blocks and an analysis table download as files whose rows are the page's rows, hostile cells escaped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.records import Alert, Event, Factor, Severity
from netwarden.report.export import BOM, read_csv
from netwarden.store.alerts import save_alert, save_incident
from netwarden.store.database import Database
from netwarden.store.events import insert_events
from netwarden.store.rollups import add_rollups
from tests.web.conftest import CHROMIUM, analyst_server, logged_in_context

HOSTILE = ["=HYPERLINK(\"http://evil.example\")", "+1+1", "@SUM(A1)", "-2-2", "<script>window.__pwned=1</script>"]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


def _data(db: Database) -> None:
    now = datetime.now(timezone.utc)
    batch = [Event(timestamp=now - timedelta(minutes=5, seconds=i), source_kind="access_log",
                   src_ip="198.51.100.7" if i % 2 else "192.0.2.1", dst_ip="10.0.0.80", dst_port=443, transport="tcp",
                   http_method="GET", url="/" + str(i), http_status=200, user_agent=HOSTILE[i % len(HOSTILE)])
             for i in range(60)]
    with db.engine.begin() as conn:
        insert_events(conn, batch)
        add_rollups(conn, batch)
        save_alert(conn, Alert(kind="web_attack", subkind="sqli", severity=Severity.HIGH, confidence=0.9,
                               factors=[Factor("x", 0.9, "y")], source="198.51.100.7", target=HOSTILE[0],
                               first_seen=now - timedelta(minutes=6), last_seen=now - timedelta(minutes=5),
                               count=3, evidence={}, recommendation=HOSTILE[1], detector="web_attack"))
        save_incident(conn, {"source": "198.51.100.7", "severity": "high", "status": "open", "kinds": ["web_attack"],
                             "alert_count": 1, "summary": HOSTILE[2], "first_seen": now, "last_seen": now})


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[type-arg]
    sync_api = pytest.importorskip("playwright.sync_api")
    with analyst_server(tmp_path_factory.mktemp("exports"), _data) as (url, session):
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = logged_in_context(browser, url, session)
            pg = context.new_page()
            pg.base = url  # type: ignore[attr-defined]
            yield pg
            browser.close()


def _download(page, selector: str) -> bytes:  # type: ignore[no-untyped-def]
    with page.expect_download(timeout=15_000) as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes()


def test_events_download_is_the_filtered_list(page) -> None:  # type: ignore[no-untyped-def]
    page.goto(page.base + "/events?address=198.51.100.7")
    shown = page.locator("table tbody tr").count()
    data = _download(page, "#events-csv")
    rows = read_csv(data)
    assert len(rows) == 30 and shown == 30  # the page shows 50 a page: all 30 fit
    assert {r["src_ip"] for r in rows} == {"198.51.100.7"}
    assert {r["user_agent"] for r in rows} <= set(HOSTILE)
    assert b"\n=" not in data and b",=" not in data and b',"=' not in data
    excel = _download(page, "#events-excel")
    assert excel.startswith(BOM.encode()) and read_csv(excel) == rows
    assert len(_download(page, "#events-jsonl").splitlines()) == 30


def test_alerts_blocks_and_analysis_downloads(page) -> None:  # type: ignore[no-untyped-def]
    page.goto(page.base + "/alerts")
    alerts = read_csv(_download(page, "#alerts-csv"))
    assert [(a["source"], a["target"], a["recommendation"]) for a in alerts] == \
        [("198.51.100.7", HOSTILE[0], HOSTILE[1])]
    page.goto(page.base + "/incidents")
    assert [(i["source"], i["summary"]) for i in read_csv(_download(page, "#incidents-csv"))] == \
        [("198.51.100.7", HOSTILE[2])]
    page.goto(page.base + "/blocks?state=all")
    assert read_csv(_download(page, "#blocks-csv")) == []
    page.goto(page.base + "/analysis")
    page.wait_for_selector("body[data-analysis-loaded='1']")
    talkers = read_csv(_download(page, "a.nw-csv[data-table='talkers.rows']"))
    assert {(t["address"], t["events"]) for t in talkers} == {("198.51.100.7", "30"), ("192.0.2.1", "30")}
    assert page.evaluate("window.__pwned") is None
