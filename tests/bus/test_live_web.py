"""A web process (``serve --web-only``) shows, live in Chromium, the alerts a worker makes: the worker
publishes them on the bus, the web process pushes them to its browsers."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.bus.produce import publish_lines
from netwarden.bus.redis_bus import RedisBus
from netwarden.bus.worker import Worker
from netwarden.config import Settings
from netwarden.pipeline import Pipeline
from netwarden.serve import Server
from netwarden.store.database import Database
from netwarden.accounts import users as accounts
from netwarden.accounts.sessions import create_session
from tests.web.conftest import CHROMIUM, PASSWORD, chromium_page

ATTACKER = "203.0.113.66"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                                                    "(scripts/system-packages installs it)")


def test_web_process_shows_a_workers_alert_live(bus_settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings()
    settings.database.url = pg_url
    settings.bus = bus_settings
    db = Database.open(pg_url)
    accounts.add_user(db, "analyst", PASSWORD, "analyst")
    user = accounts.get_user(db, "analyst")
    session = create_session(db, user.id, "127.0.0.1", settings.web)
    web = Server(settings, host="127.0.0.1", port=0, syslog_udp=[], syslog_tcp=[], netflow_udp=[],
                 use_writer_process=False, web_only=True)
    web.start()
    worker = Worker(settings, Database.open(pg_url), RedisBus(bus_settings), name="live-test")
    thread = threading.Thread(target=worker.run, kwargs={"max_seconds": 90}, daemon=True)
    thread.start()
    producer = RedisBus(bus_settings)
    try:
        with chromium_page(web.url, session) as page:
            page.goto(f"{web.url}/")
            page.wait_for_selector("#live-mode:text-is('websocket')")
            page.evaluate("window.__same_page = true")
            now = datetime.now(timezone.utc) - timedelta(seconds=30)
            lines = [f"<38>{(now + timedelta(seconds=i)).strftime('%b %d %H:%M:%S').replace(' 0', '  ', 1)} gw "
                     f"sshd[9]: Failed password for invalid user u{i} from {ATTACKER} port {40000 + i} ssh2"
                     for i in range(15)]
            publish_lines(Pipeline(db, stages=()), producer, lines, "syslog", source="syslog")
            page.wait_for_selector(f"#alert-feed li:has-text('brute_force'):has-text('{ATTACKER}')", timeout=30_000)
            page.wait_for_selector(f"#event-feed li:has-text('{ATTACKER}')", timeout=10_000)
            assert page.evaluate("window.__same_page") is True  # pushed live, no reload
            assert not page.errors and not page.dialogs
    finally:
        worker.stop.set()
        thread.join(30)
        producer.close()
        web.stop()
        db.close()
