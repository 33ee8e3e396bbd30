"""The map, analysis and check pages in a real browser (Debian's chromium through Playwright): they draw
from the API, clicks drill down, and hostile values from logs (user agent, URL, user, addresses in text)
stay text: no script runs, no element is injected. Screenshots go to tests/artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.records import Alert, Event, Factor, Severity
from netwarden.store.alerts import save_alert
from netwarden.store.database import Database
from netwarden.store.events import insert_events
from netwarden.store.rollups import add_rollups
from tests.web.conftest import ARTIFACTS, CHROMIUM, analyst_server, chromium_page

HOSTILE = ['<script>window.__pwned=1</script>', '"><img src=x onerror="window.__pwned=2">',
           "<svg onload=window.__pwned=3>"]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


def _data(db: Database) -> None:
    now = datetime.now(timezone.utc)
    batch = []
    for i in range(40):
        batch.append(Event(timestamp=now - timedelta(minutes=10, seconds=i), source_kind="access_log",
                           src_ip="193.0.6.139" if i % 2 else "8.8.8.8", dst_ip="10.0.0.80", dst_port=443,
                           transport="tcp", http_method=HOSTILE[i % 3][:32], url="/" + HOSTILE[(i + 1) % 3],
                           http_status=200 if i % 4 else 404, user_agent=HOSTILE[i % 3], user=HOSTILE[(i + 2) % 3],
                           bytes_in=1000))
    for i in range(10):
        batch.append(Event(timestamp=now - timedelta(minutes=8, seconds=i), source_kind="netflow", src_ip="10.0.0.5",
                           dst_ip="1.1.1.1", dst_port=53, transport="udp", bytes_out=80))
    with db.engine.begin() as conn:
        insert_events(conn, batch)
        add_rollups(conn, batch)
        save_alert(conn, Alert(kind="web_attack", subkind=HOSTILE[0][:32], severity=Severity.HIGH, confidence=0.9,
                               factors=[Factor("x", 0.9, HOSTILE[1])], source="193.0.6.139", target=HOSTILE[2],
                               first_seen=now - timedelta(minutes=10), last_seen=now - timedelta(minutes=9),
                               count=3, evidence={}, recommendation=HOSTILE[1], detector="web_attack"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with analyst_server(tmp_path_factory.mktemp("browser"), _data) as running:
        yield running


@pytest.fixture(scope="module")
def page(server: tuple[str, str]):  # type: ignore[no-untyped-def]
    with chromium_page(*server) as pg:
        yield pg


def _inert(page) -> None:  # type: ignore[no-untyped-def]
    assert page.dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("main script").count() == 0
    assert page.locator("svg[onload]").count() == 0


def test_map_draws_countries_and_drills_down(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server[0]}/map")
    page.wait_for_selector("body[data-map-loaded='1']", timeout=20_000)
    assert page.locator("#countries path").count() > 150  # the world's shapes, from the local npm package
    assert page.locator("#points circle").count() >= 3  # US, NL, AU
    us = page.locator("#countries path[data-numeric='840']")
    assert "nw-heat" in (us.get_attribute("class") or "")
    page.click("#zoom-in")
    assert page.get_attribute("#world", "viewBox") != "0 0 1000 500"
    page.click("#zoom-reset")
    page.locator("#points circle[data-country='NL']").dispatch_event("click")
    page.wait_for_selector("#detail-addresses li")
    assert page.inner_text("#detail-title") == "Netherlands"
    assert "193.0.6.139" in page.inner_text("#detail-addresses")
    alerts = page.inner_text("#detail-alerts")
    assert "<script>" in alerts  # the hostile subkind shown as text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map.png"), full_page=True)
    _inert(page)
    page.click("#detail-addresses a:not(.nw-host)")
    page.wait_for_url("**/events?**")
    assert "193.0.6.139" in page.content()
    _inert(page)
    page.go_back()
    page.wait_for_selector("body[data-map-loaded='1']", timeout=20_000)
    page.locator("#points circle[data-country='NL']").dispatch_event("click")
    page.click("#detail-addresses a.nw-host")  # every address links to its host page
    page.wait_for_url("**/hosts/193.0.6.139")
    assert page.inner_text("#host-country").startswith("Netherlands")
    _inert(page)


def test_analysis_renders_hostile_values_as_text(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server[0]}/analysis")
    page.wait_for_selector("body[data-analysis-loaded='1']", timeout=20_000)
    assert "8.8.8.8" in page.inner_text("#talkers")
    methods = page.inner_text("#http-methods")
    assert "<script>" in methods and "onerror" in methods  # methods are attacker text: shown, not run
    assert page.locator("#matrix td a").count() >= 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analysis.png"), full_page=True)
    _inert(page)
    page.fill("#f-address", "not an address")
    page.click("#analysis-form button[type=submit]")
    page.wait_for_selector("#analysis-error:not(.d-none)")
    assert "address" in page.inner_text("#analysis-error")


def test_check_page_verdict(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server[0]}/check")
    page.click("#tab-line")
    page.fill("#l-line", '203.0.113.9 - - [21/Nov/2026:10:00:00 +0000] "GET /?id=1%27%20UNION%20SELECT%20pass%20FROM%20users-- '
                         'HTTP/1.1" 200 5 "-" "<img src=x onerror=window.__pwned=9>"')
    page.click("#check-line")
    page.wait_for_selector("body[data-checked='1']", timeout=20_000)
    assert page.inner_text("#verdict-label") == "malicious"
    assert "onerror" in page.inner_text("#verdict-event")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "check.png"), full_page=True)
    _inert(page)
