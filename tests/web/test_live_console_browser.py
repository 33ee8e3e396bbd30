"""The Settings page's live forms in Chromium: a detector turned off, e-mail set up and "send test" to a real
SMTP server, a feed by URL refreshed (a hostile URL's error shown as text), listeners stored with "restart
needed" for the firewall backend while the listeners move at once, a bad JSON refused with its message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notify.conftest import free_port
from tests.web.conftest import ARTIFACTS, CHROMIUM, analyst_server, chromium_page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


def test_live_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.controller import Controller

    from tests.notify.conftest import Mailbox

    monkeypatch.chdir(tmp_path)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        with analyst_server(tmp_path, role="admin") as (url, session), chromium_page(url, session) as page:
            page.goto(f"{url}/settings")
            with page.expect_navigation():
                page.uncheck("#det-on-port_scan")
            assert "web app (admin" in page.inner_text("tr[data-detector='port_scan'] [data-origin-of]")
            assert not page.is_checked("#det-on-port_scan")

            page.click("tr[data-detector='dos'] summary")
            page.fill("#det-json-dos", "{not json")
            page.click("#det-apply-dos")
            page.wait_for_selector("#live-error:has-text('not valid JSON')")
            page.fill("#det-json-dos", '{"enabled": true, "bogus": 1}')
            page.click("#det-apply-dos")
            page.wait_for_selector("#live-error:has-text('detect.dos.bogus')")

            page.fill("#ns-host", "127.0.0.1")
            page.fill("#ns-port", str(smtp.port))
            page.select_option("#ns-security", "none")
            page.fill("#ns-to", "soc@example.org")
            with page.expect_navigation():
                page.click("#ns-apply")
            assert page.input_value("#ns-host") == "127.0.0.1"
            page.click("#test-smtp")
            page.wait_for_selector("#send-test-result:has-text('Sent through smtp')")
            assert "test message sent by admin" in mailbox.wait(1)[0]["Subject"]

            hostile = f"http://127.0.0.1:{free_port()}/<img src=x onerror=alert(1)>.netset"
            page.fill("#lf-feeds", hostile)
            with page.expect_navigation():
                page.click("#lf-apply")
            page.click("#feeds-refresh")
            page.wait_for_selector("#feeds-refresh-result:has-text('failed')")
            page.wait_for_selector("#feeds-table [data-feed-error]:has-text('ConnectError')")
            assert page.locator("#feeds-table code").first.inner_text() == hostile

            port = free_port()
            page.fill("#ll-syslog_udp", f"127.0.0.1:{port}")
            page.select_option("#ll-backend", "iptables")
            with page.expect_navigation():
                page.click("#ll-apply")
            # the server listens on the new address at once, and the new firewall backend is in force at once
            assert f"127.0.0.1:{port}" in page.inner_text("#listeners-table")
            assert "web app (admin" in page.inner_text("[data-origin-of='web.syslog_udp']")
            assert page.input_value("#ll-backend") == "iptables"
            assert page.locator("[data-restart='respond.backend']").count() == 0
            page.locator("#live-notify").scroll_into_view_if_needed()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "settings-live.png"), full_page=True)
            assert page.dialogs == []
            assert [e for e in page.errors if "400" not in e] == []
    finally:
        smtp.stop()
