"""The Reports page and ``/api/v1/reports``: generate (analysts), download and preview (viewers), schedule
(admins only); bad requests are 4xx; in Chromium the buttons work for each role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.records import Alert, Factor, Severity
from netwarden.store import alerts as alert_store
from netwarden.store.database import Database
from tests.web.conftest import CHROMIUM, PASSWORD, Web, _fast_argon2, logged_in_context  # noqa: F401

HOSTILE = "<img src=x onerror=window.__pwned=1>"


def _alert(db: Database) -> None:
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    with db.engine.begin() as conn:
        alert_store.save_alert(conn, Alert(kind="web_attack", subkind="sqli", severity=Severity.HIGH, confidence=0.9,
                                           factors=[Factor("x", 0.9, HOSTILE)], source="198.51.100.9", target=HOSTILE,
                                           first_seen=now, last_seen=now, count=2, evidence={"matched": HOSTILE},
                                           recommendation=HOSTILE, detector="web_attack"))


def test_roles_generate_download_schedule(web: Web) -> None:
    _alert(web.db)
    viewer, analyst, admin = web.client("viewer"), web.client("analyst"), web.client("admin")
    assert viewer.post("/api/v1/reports", json={"kind": "daily"}).status_code == 403
    made = analyst.post("/api/v1/reports", json={"kind": "daily", "since": "1d"})
    assert made.status_code == 201, made.text
    report = made.json()
    assert report["kind"] == "daily" and report["created_by"] == "analyst" and report["size"] > 10_000
    pdf = viewer.get(f"/api/v1/reports/{report['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and len(pdf.content) == report["size"]
    assert pdf.headers["content-disposition"].startswith("attachment")
    assert viewer.get(f"/api/v1/reports/{report['id']}/pdf?inline=true").headers["content-disposition"] \
        .startswith("inline")
    listed = viewer.get("/api/v1/reports").json()
    assert [r["id"] for r in listed["archive"]] == [report["id"]] and len(listed["kinds"]) == 5
    new = {"kind": "weekly", "cron": "0 7 * * MON", "emails": ["boss@example.org"]}
    assert viewer.post("/api/v1/reports/schedules", json=new).status_code == 403
    assert analyst.post("/api/v1/reports/schedules", json=new).status_code == 403
    scheduled = admin.post("/api/v1/reports/schedules", json=new)
    assert scheduled.status_code == 201, scheduled.text
    sid = scheduled.json()["id"]
    assert viewer.get("/api/v1/reports").json()["schedules"][0]["cron"] == "0 7 * * MON"
    assert analyst.delete(f"/api/v1/reports/schedules/{sid}").status_code == 403
    assert admin.delete(f"/api/v1/reports/schedules/{sid}").status_code == 200
    assert admin.delete(f"/api/v1/reports/schedules/{sid}").status_code == 404


def test_bad_report_requests_are_4xx(sqlite_web: Web) -> None:
    analyst, admin = sqlite_web.client("analyst"), sqlite_web.client("admin")
    assert analyst.post("/api/v1/reports", json={"kind": "yearly"}).status_code == 400
    assert analyst.post("/api/v1/reports", json={"kind": "daily", "since": "forever"}).status_code == 400
    assert analyst.post("/api/v1/reports", json={"kind": "incident"}).status_code == 404  # none in the period
    assert analyst.post("/api/v1/reports", json={"kind": "model", "model": "nope"}).status_code == 404
    assert analyst.get("/api/v1/reports/99/pdf").status_code == 404
    bad = admin.post("/api/v1/reports/schedules", json={"kind": "daily", "cron": "every monday"})
    assert bad.status_code == 400 and "cron" in bad.json()["detail"]
    bad = admin.post("/api/v1/reports/schedules", json={"kind": "daily", "cron": "0 7 * * *", "emails": ["x"]})
    assert bad.status_code == 400 and "email" in bad.json()["detail"]


def test_preview_is_the_report_escaped_and_script_free(sqlite_web: Web) -> None:
    _alert(sqlite_web.db)
    page = sqlite_web.client("viewer").get("/reports/preview", params={"kind": "daily"})
    assert page.status_code == 200 and "Daily operations report" in page.text
    assert HOSTILE not in page.text and "&lt;img src=x" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_the_page_shows_each_role_what_it_may_do(sqlite_web: Web) -> None:
    viewer, admin = sqlite_web.client("viewer").get("/reports").text, sqlite_web.client("admin").get("/reports").text
    assert 'id="preview-daily"' in viewer
    assert 'id="report-generate"' not in viewer and 'id="schedule-form"' not in viewer
    assert 'id="report-generate"' in admin and 'id="schedule-form"' in admin
    viewer_client = sqlite_web.client("viewer")
    assert viewer_client.post("/reports/generate", data={"kind": "daily"}).status_code == 403


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    from netwarden.config import Settings
    from netwarden.accounts import users as accounts
    from netwarden.serve import Server
    from netwarden.accounts.sessions import create_session

    folder = tmp_path_factory.mktemp("reports-web")
    url = f"sqlite:///{folder / 'nw.db'}"
    db = Database.open(url)
    _alert(db)
    sessions = {}
    settings = Settings()
    for role in ("admin", "viewer"):
        accounts.add_user(db, f"{role}1", PASSWORD, role)
        user = accounts.get_user(db, f"{role}1")
        sessions[role] = create_session(db, user.id, "127.0.0.1", settings.web)  # type: ignore[union-attr]
    db.close()
    web = Server(settings, db_url=url, port=0, syslog_udp=[], syslog_tcp=[], netflow_udp=[],
                    use_writer_process=False)
    web.start()
    try:
        yield web.url, sessions
    finally:
        web.stop()


def test_in_chromium_admin_generates_downloads_schedules_and_viewer_downloads(browser, server) -> None:  # type: ignore[no-untyped-def]
    url, sessions = server
    admin = logged_in_context(browser, url, sessions["admin"]).new_page()
    admin.goto(url + "/reports")
    admin.select_option("#r-kind", "weekly")
    admin.click("#report-generate")
    admin.wait_for_selector("#report-archive a[id^=report-download-]", timeout=60_000)
    assert "Weekly management summary" in admin.inner_text("#report-archive")
    with admin.expect_download(timeout=15_000) as info:
        admin.click("#report-archive a[id^=report-download-]")
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF")
    with admin.context.expect_page(timeout=30_000) as opened:
        admin.click("#preview-blocked")
    preview = opened.value
    preview.wait_for_load_state()
    assert "Blocked addresses" in preview.inner_text("h1")
    admin.fill("#s-cron", "0 7 * * MON")
    admin.fill("#s-emails", "boss@example.org")
    admin.click("#schedule-add")
    admin.wait_for_selector("#report-schedules code")
    assert "0 7 * * MON" in admin.inner_text("#report-schedules")
    viewer = logged_in_context(browser, url, sessions["viewer"]).new_page()
    viewer.goto(url + "/reports")
    assert viewer.locator("#report-generate").count() == 0 and viewer.locator("#schedule-form").count() == 0
    assert viewer.locator("[id^=schedule-remove-]").count() == 0
    with viewer.expect_download(timeout=15_000) as info:
        viewer.click("#report-archive a[id^=report-download-]")
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF")
    admin.click("[id^=schedule-remove-]")
    admin.wait_for_selector("text=No schedules.")
    assert admin.evaluate("window.__pwned") is None and viewer.evaluate("window.__pwned") is None
