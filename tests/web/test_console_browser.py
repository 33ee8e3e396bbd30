"""The console pages in Chromium: incidents (list, timeline, status change), a host page reached from an
address link, repeat offenders and visitors. Hostile user agents stay text. Screenshots go to tests/artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import ARTIFACTS, CHROMIUM, analyst_server, chromium_page
from tests.web.console_data import ATTACKER, fill

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with analyst_server(tmp_path_factory.mktemp("console"), fill) as running:
        yield running


@pytest.fixture(scope="module")
def page(server: tuple[str, str]):  # type: ignore[no-untyped-def]
    with chromium_page(*server) as pg:
        pg.set_default_timeout(15_000)
        yield pg


def _inert(page) -> None:  # type: ignore[no-untyped-def]
    assert page.dialogs == [] and page.errors == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def test_incident_timeline_and_status(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server[0]}/incidents")
    assert "1 in all" in page.inner_text("#incidents-total")
    page.click("#incidents-table a[href^='/incidents/']")
    rows = page.locator("#incident-timeline tbody tr")
    assert page.locator("#incident-timeline tr[data-type=alert]").count() == 2
    assert page.locator("#incident-timeline tr[data-type=event]").count() == 40
    assert rows.first.get_attribute("data-type") == "alert"  # the scan alert starts the story
    _shot(page, "incident")
    page.click("#incident-set-acknowledged")
    page.wait_for_url("**/incidents/*")
    assert page.inner_text("#incident-status") == "acknowledged"
    page.goto(f"{server[0]}/incidents?status=acknowledged")
    assert page.locator("#incidents-table tr[data-id]").count() == 1
    _inert(page)


def test_address_links_to_host_page(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server[0]}/alerts")
    page.click("#alerts-list tr[data-severity=critical] a[href^='/alerts/']")
    page.click("h1 a.nw-host")
    page.wait_for_url(f"**/hosts/{ATTACKER}")
    assert page.inner_text("#host-country").startswith("Netherlands")
    assert page.inner_text("#host-events") == "40"
    assert page.locator("#host-volume rect").count() >= 1
    assert page.locator("#host-ports tbody tr").count() == 2
    assert "yes: block" in page.inner_text("#host-blocked")
    assert page.locator("#host-blocks tbody tr").count() == 2
    assert "<script>" in page.inner_text("#host-agents")  # the hostile user agent, as text
    _shot(page, "host")
    page.click("#host-peers-out a.nw-host")  # peers link on to their own host pages
    page.wait_for_url("**/hosts/10.0.0.80")
    assert page.inner_text("#host-country") == "Local network"
    _inert(page)


def test_offenders_and_visitors(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server[0]}/offenders?days=7")
    first = page.locator("#offenders-table tbody tr").first
    assert first.get_attribute("data-source") == ATTACKER
    assert first.locator("[data-blocks]").inner_text() == "2"
    assert first.locator("[data-stage]").inner_text() == "step 2 of 3"
    _shot(page, "offenders")
    page.goto(f"{server[0]}/visitors?days=1")
    assert "50 web requests from 2 addresses" in page.inner_text("#visitors-summary")
    assert "Netherlands" in page.inner_text("#visitors-countries")
    assert "Mobile Safari 17" in page.inner_text("#visitors-browsers")
    assert "iPhone" in page.inner_text("#visitors-devices")
    _shot(page, "visitors")
    page.click(f"#visitors-top a.nw-host >> text={ATTACKER}")
    page.wait_for_url(f"**/hosts/{ATTACKER}")
    _inert(page)


def test_alert_page_and_bulk_actions(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server[0]}/alerts")
    assert page.inner_text("#alerts-total").startswith("3 alerts")
    row = page.locator("#alerts-list tr[data-severity=critical]")
    assert row.locator("[data-port]").inner_text() == "443"
    assert row.locator("[data-excerpt]").inner_text() == "' OR 1=1 --"
    row.locator("a[href^='/alerts/']").click()
    assert page.locator("#alert-samples mark").first.inner_text() == "' or 1=1 --"
    assert "<script>window.__pwned=5</script>" in page.inner_text("#alert-samples")  # text, not markup
    assert not page.locator("#alert-raw pre").is_visible()  # raw JSON folded away
    page.click("#alert-raw summary")
    assert page.locator("#alert-raw pre").is_visible()
    assert page.locator("#block-source").count() == 0 and "block #" in page.inner_text("#alert-blocked")
    _shot(page, "alert")
    page.goto(f"{server[0]}/alerts")
    page.check("#alerts-select-all")
    assert page.locator("#alerts-list .nw-pick:checked").count() == 3
    page.click("#bulk-resolved")
    page.wait_for_url("**/alerts")
    assert page.locator("#alerts-list tr[data-status=resolved]").count() == 3
    _inert(page)


def test_new_alerts_and_blocks_notify_every_page(page, server) -> None:  # type: ignore[no-untyped-def]
    """Kept last in this module: it adds an alert and a block."""
    import json
    from datetime import datetime, timezone

    base = server[0]
    page.goto(f"{base}/events")
    page.wait_for_selector("body[data-notify-ready='1']")
    csrf = page.get_attribute("meta[name=csrf-token]", "content")
    line = json.dumps({"timestamp": datetime.now(timezone.utc).isoformat(), "source_kind": "access_log",
                       "src_ip": "198.18.7.7", "dst_ip": "10.0.0.80", "dst_port": 80, "transport": "tcp",
                       "http_method": "GET", "http_status": 200,
                       "url": "/item.php?id=1' UNION SELECT password FROM users--<script>window.__pwned=3</script>"})
    sent = page.request.post(f"{base}/api/v1/intake", data=line,
                             headers={"X-CSRF-Token": csrf, "Content-Type": "application/x-ndjson"})
    assert sent.ok, sent.text()
    toast = page.locator("#nw-toasts .nw-toast[data-key^='alert-']")
    toast.wait_for()
    assert "web_attack" in toast.inner_text() and "198.18.7.7" in toast.inner_text()
    # the responder blocks it automatically (dry-run by default): that block is pushed too
    auto = page.locator("#nw-toasts .nw-toast[data-key^='block-']")
    auto.wait_for()
    assert "198.18.7.7 (dry-run)" in auto.inner_text()
    assert page.inner_text("#nw-notify-count") == "2"

    made = page.request.post(f"{base}/api/v1/blocks", data=json.dumps({"address": "198.18.7.8", "reason": "test"}),
                             headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert made.status == 201, made.text()
    page.locator("#nw-toasts .nw-toast", has_text="198.18.7.8").wait_for()  # a manual block, by hand
    assert page.inner_text("#nw-notify-count") == "3"
    _shot(page, "toasts")

    page.goto(f"{base}/incidents")  # the list stays with the tab
    page.wait_for_selector("body[data-notify-ready='1']")
    assert page.inner_text("#nw-notify-count") == "3"
    page.click("#nw-notify-button")
    assert page.locator("#nw-notify-list li[data-key]").count() == 3
    assert page.locator("#nw-notify-count").is_hidden()  # opened: seen
    page.click("#nw-notify-list li[data-key^='alert-'] a")
    page.wait_for_url("**/alerts/*")
    _inert(page)
