"""Settings → Try on history: the backtest API (admins only, a background job with progress, clear 4xx
errors, nothing stored) and the page in a real browser (Debian's chromium through Playwright): the
progress bar fills and the lost port scan is listed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.store.database import Database
from tests.test_backtest import row_counts
from tests.web.conftest import ARTIFACTS, CHROMIUM, Web, analyst_server, browser_page

SCANS = "zeek-conn-logs/port-scans_vertical_conn.log"
FEWER_PORTS = "detect.port_scan.vertical_ports=5000"


def _scans(db: Database, datasets: Path) -> None:
    pipeline = Pipeline.from_settings(db, load_settings(environ={}))
    try:
        pipeline.ingest_file(datasets / SCANS)
    finally:
        pipeline.close()


def _finish(client, job: dict) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/v1/backtest/{job['id']}").json()
    return job


def test_api_runs_a_backtest_for_admins_only(sqlite_web: Web, datasets: Path) -> None:
    _scans(sqlite_web.db, datasets)
    clients = {role: sqlite_web.client(role) for role in ("viewer", "analyst", "admin")}  # sessions first
    before = row_counts(sqlite_web.db)
    body = {"since": "1970-01-01T00:00:00Z", "set": [FEWER_PORTS]}
    for role in ("viewer", "analyst"):
        assert clients[role].post("/api/v1/backtest", json=body).status_code == 403
    admin = clients["admin"]
    started = admin.post("/api/v1/backtest", json=body)
    assert started.status_code == 202, started.text
    job = _finish(admin, started.json())
    assert job["state"] == "done" and job["fraction"] == 1.0 and job["done"] == job["total"] > 0
    alerts = job["result"]["alerts"]
    assert alerts["lost_count"] == 1 and alerts["lost"][0]["kind"] == "port_scan"
    assert row_counts(sqlite_web.db) == before
    for bad, message in (({"set": ["nonsense"]}, "SECTION.KEY=VALUE"), ({"since": "last tuesday"}, "since"),
                         ({"set": ["respond.threshold=7"]}, "threshold"), ({"threshold": 0.5}, "with a model"),
                         ({"since": "99999999999d"}, "too far"), ({"until": "0001-01-01T00:00:00-23:59"}, "until must be later")):
        answer = admin.post("/api/v1/backtest", json=bad)
        assert answer.status_code == 400 and message in answer.text, answer.text
    assert admin.get("/api/v1/backtest/" + "0" * 32).status_code == 404


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, datasets: Path):  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    with analyst_server(tmp_path_factory.mktemp("bt"), lambda db: _scans(db, datasets), role="admin") as running:
        with browser_page(*running) as pg:
            yield pg


def test_try_on_history_in_the_browser(page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{page.base}/settings")
    page.fill("#bt-since", "1970-01-01T00:00:00Z")
    page.fill("#bt-set", FEWER_PORTS)
    page.click("#bt-run")
    page.wait_for_selector("#bt-progress:not(.d-none)")
    page.wait_for_selector("body[data-backtest-done='1']", timeout=60_000)
    assert page.inner_text("#bt-bar") == "100%"
    assert "−1 lost" in page.inner_text("#bt-alerts .bt-lost-count")
    lost = page.inner_text("#bt-alerts li.bt-lost")
    assert "port_scan/vertical" in lost and "192.168.1.9" in lost
    assert page.locator("#bt-alerts li.bt-lost a[href^='/alerts/']").count() == 1  # the stored alert, linked
    assert "nothing was stored" in page.inner_text("#bt-result")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "backtest.png"), full_page=True)
    # a bad change is a message, not a broken page
    page.fill("#bt-set", "nonsense")
    page.click("#bt-run")
    page.wait_for_selector("#bt-error:not(.d-none)")
    assert "SECTION.KEY=VALUE" in page.inner_text("#bt-error")
