"""Safe response in a real browser (Debian's chromium through Playwright): a wide block asks for a
confirmation before anything is decided, a shorter block leaves the longer one in place and says so,
refusals are listed under "refused", and alerts from history carry a badge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.records import Alert, Factor, Severity
from netwarden.store.alerts import save_alert
from netwarden.store.database import Database
from tests.web.conftest import ARTIFACTS, CHROMIUM, analyst_server, browser_page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


def _history_alert(db: Database) -> None:
    old = datetime.now(timezone.utc) - timedelta(days=300)
    with db.engine.begin() as conn:
        save_alert(conn, Alert(kind="brute_force", subkind="ssh", severity=Severity.HIGH, confidence=0.95,
                               factors=[Factor("failures", 0.95, "30 failures")], source="198.51.100.77",
                               target="gw", first_seen=old, last_seen=old, count=30, evidence={},
                               recommendation="", detector="brute_force", history=True))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with analyst_server(tmp_path_factory.mktemp("safe"), _history_alert) as running:
        with browser_page(*running) as pg:
            yield pg


def _block(page, address: str, duration: str = "") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{page.base}/blocks")
    page.fill("#b-address", address)
    page.fill("#b-duration", duration)
    page.click("#block-submit")


def test_a_wide_block_needs_a_confirmation(page) -> None:  # type: ignore[no-untyped-def]
    _block(page, "198.18.0.0/15", "2h")
    page.wait_for_selector("#block-confirm")
    assert "131,072 addresses" in page.inner_text("#block-confirm")
    assert page.locator("#blocks-table tr[data-state='active']").count() == 0  # nothing decided yet
    page.click("#block-confirm-cancel")
    page.wait_for_selector("#blocks-table")
    assert page.locator("#block-confirm").count() == 0 and "198.18.0.0/15" not in page.inner_text("#blocks-table")
    _block(page, "198.18.0.0/15", "2h")
    page.click("#block-confirm-submit")
    page.wait_for_selector("#blocks-table tr[data-state='active']")
    assert "198.18.0.0/15" in page.inner_text("#blocks-table")


def test_a_shorter_block_leaves_the_longer_one_and_says_so(page) -> None:  # type: ignore[no-untyped-def]
    _block(page, "203.0.113.44", "1d")
    page.wait_for_selector("#blocks-table tr[data-state='active']")
    _block(page, "203.0.113.44", "1h")
    page.wait_for_selector("#blocks-notice")
    assert "stays" in page.inner_text("#blocks-notice")
    rows = page.locator("#blocks-table tr[data-state='active']", has_text="203.0.113.44")
    assert rows.count() == 1


def test_refusals_are_listed(page) -> None:  # type: ignore[no-untyped-def]
    _block(page, "10.1.2.3")
    page.wait_for_selector("#blocks-error")
    assert "never blocked" in page.inner_text("#blocks-error")
    page.click("#blocks-states >> text=refused")
    page.wait_for_selector("#blocks-table tr[data-state='refused']")
    row = page.inner_text("#blocks-table tr[data-state='refused']")
    assert "10.1.2.3" in row and "never blocked" in row and "home network" in row
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "blocks-refused.png"), full_page=True)


def test_history_alerts_carry_a_badge(page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{page.base}/alerts")
    item = page.locator("#alerts-list tr", has_text="198.51.100.77")
    assert item.locator(".alert-history").inner_text() == "history"
    item.locator("a[href^='/alerts/']").click()
    page.wait_for_selector("#alert-history-note")
    assert "does not block or notify" in page.inner_text("#alert-history-note")
