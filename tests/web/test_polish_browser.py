"""Polish a user notices, in Chromium: one time format on every page (the site's zone, or UTC with the
toggle), the dashboard chart's legend follows its bucket and marks the bucket still filling, and on a phone
the Blocked, Models and Settings pages do not overflow sideways."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.store.database import Database
from netwarden.accounts import users as accounts
from tests.web.conftest import ARTIFACTS, CHROMIUM, PASSWORD, analyst_server, chromium_page
from tests.web.console_data import fill

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
SITE_ZONE = "Europe/Prague"
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z][A-Za-z0-9+:-]+$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    import os

    folder = tmp_path_factory.mktemp("polish")
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = SITE_ZONE  # the site's zone ([ingest] timezone = "local"), not this machine's UTC

    def prepare(db: Database) -> None:
        fill(db)
        accounts.add_user(db, "boss", PASSWORD, "admin")

    with analyst_server(folder, prepare) as (url, session):
        from netwarden.config import Settings
        from netwarden.accounts.sessions import create_session

        db = Database.open(f"sqlite:///{folder / 'nw.db'}")
        boss = accounts.get_user(db, "boss")
        assert boss is not None
        admin_session = create_session(db, boss.id, "127.0.0.1", Settings().web)
        db.close()
        yield url, session, admin_session
    if old_tz is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old_tz


def test_one_time_format_and_the_utc_toggle(server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url, session, _ = server
    with chromium_page(url, session) as page:
        page.goto(f"{url}/alerts")
        assert page.get_attribute("body", "data-tz") == SITE_ZONE
        shown = page.locator("#alerts-list tbody tr td.small").nth(1).inner_text()
        assert TIME.match(shown) and shown.endswith(" CET"), shown
        page.goto(f"{url}/")  # the dashboard draws its times in the browser: the same format and zone
        page.wait_for_selector("#alert-feed li")
        feed = page.inner_text("#alert-feed li >> nth=0")
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CET", feed), feed  # the same zone as the server's
        page.click("#nw-tz-toggle")
        page.wait_for_selector("body[data-tz='UTC']")
        page.goto(f"{url}/alerts")
        assert page.locator("#alerts-list tbody tr td.small").nth(1).inner_text().endswith(" UTC")
        assert "show site time" in page.inner_text("#nw-tz-toggle")
        page.click("#nw-tz-toggle")
        page.wait_for_selector(f"body[data-tz='{SITE_ZONE}']")
        assert page.errors == []


def test_dashboard_legend_follows_the_bucket(server) -> None:  # type: ignore[no-untyped-def]
    url, session, _ = server
    with chromium_page(url, session) as page:
        page.goto(f"{url}/")
        canvas = page.locator("#traffic-chart")
        page.wait_for_selector("#traffic-chart[data-legend]")
        assert canvas.get_attribute("data-legend") == "events per 1 min (dashed: still filling)"
        assert canvas.get_attribute("data-partial") == "1"
        page.select_option("#traffic-range", "10080")  # 7 days: 42-minute buckets
        page.wait_for_selector("#traffic-chart[data-legend^='events per 42']")
        assert page.evaluate("Chart.getChart('traffic-chart').data.datasets[0].label").startswith("events per 42 min")
        assert page.errors == []


@pytest.mark.parametrize("path", ["/blocks?state=all", "/models", "/settings", "/alerts", "/hosts/193.0.6.139",
                                  "/incidents", "/offenders", "/visitors"])
def test_phone_width_does_not_overflow(server, path: str) -> None:  # type: ignore[no-untyped-def]
    url, _, admin_session = server
    with chromium_page(url, admin_session) as page:
        page.set_viewport_size({"width": 375, "height": 800})
        page.goto(f"{url}{path}")
        page.wait_for_load_state("networkidle")
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        if width[0] > width[1]:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"phone-{path.strip('/').split('?')[0].replace('/', '-')}.png"),
                            full_page=True)
        assert width[0] <= width[1], f"{path} is {width[0]} px wide on a {width[1]} px phone"


def test_check_page_points(server) -> None:  # type: ignore[no-untyped-def]
    url, session, _ = server
    with chromium_page(url, session) as page:
        page.goto(f"{url}/check")
        page.fill("#c-src", "192.0.2.7")  # a documentation address: not "Local network"
        page.fill("#c-dst", "10.0.0.5")
        page.select_option("#c-proto", "icmp")
        page.fill("#c-flags", "SYN")  # as single-record datasets give it
        page.fill("#c-size", "64")
        page.click("#check-connection")
        page.wait_for_selector("body[data-checked='1']")
        body = page.inner_text("#verdict-body")
        assert "TCP flags SYN ignored: icmp has no TCP header" in body
        assert "192.0.2.7: Documentation range" in body and "10.0.0.5: Local network" in body
        assert page.inner_text("#verdict-score").endswith(" of 1")
        assert "icmp 192.0.2.7 → 10.0.0.5 SYN" in page.inner_text("#check-history li >> nth=0")
        again = page.context.new_page()  # a fresh load: the server kept it in the user's history
        again.goto(f"{url}/check")
        assert "icmp 192.0.2.7 → 10.0.0.5 SYN" in again.inner_text("#check-history li >> nth=0")
        again.close()
        page.fill("#c-dst", "not-an-address")
        page.click("#check-connection")
        page.wait_for_selector("#check-error:not(.d-none)")
        assert "not an IP address" in page.inner_text("#check-error")
        assert page.locator("#verdict-label").count() == 0  # the old verdict is gone
        assert "No verdict" in page.inner_text("#verdict-body")
        assert [e for e in page.errors if "400 (Bad Request)" not in e] == []  # the 400 is the point
