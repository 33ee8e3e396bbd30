"""The HTML pages' own forms: settings (users, roles, tokens) and account (API tokens), with roles and CSRF."""

from __future__ import annotations

import re

from netwarden.accounts import users as accounts
from netwarden.accounts.sessions import list_tokens
from tests.web.conftest import PASSWORD, Web, csrf_of, login


def test_settings_page_manages_users_with_one_time_passwords(sqlite_web: Web) -> None:
    admin = sqlite_web.client("admin")
    csrf = csrf_of(admin)
    added = admin.post("/settings/users", data={"csrf": csrf, "name": "dora", "role": "analyst"})
    assert added.status_code == 200
    one_time = re.search(r'id="one-time-password">([^<]+)<', added.text).group(1)  # type: ignore[union-attr]
    dora = accounts.get_user(sqlite_web.db, "dora")
    assert dora is not None and dora.must_change and str(dora.role) == "analyst"
    browser = sqlite_web.anonymous()
    assert login(browser, "dora", one_time, follow=False).headers["location"] == "/account/password"

    assert admin.post("/settings/users/dora/role", data={"csrf": csrf, "role": "viewer"},
                      follow_redirects=False).status_code == 303
    assert str(accounts.get_user(sqlite_web.db, "dora").role) == "viewer"  # type: ignore[union-attr]
    reset = admin.post("/settings/users/dora/password", data={"csrf": csrf})
    assert "New one-time password for dora" in reset.text
    assert browser.get("/api/v1/me").status_code == 401  # a reset ends the user's sessions
    bad = admin.post("/settings/users", data={"csrf": csrf, "name": "no spaces", "role": "viewer"})
    assert bad.status_code == 400 and "user name" in bad.text
    last = admin.post("/settings/users/admin/delete", data={"csrf": csrf})
    assert last.status_code == 400 and "last admin" in last.text
    assert admin.post("/settings/users/dora/delete", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert accounts.get_user(sqlite_web.db, "dora") is None
    # without the token, or as an analyst, nothing changes
    assert admin.post("/settings/users", data={"name": "eve", "role": "admin"},
                      headers={"X-CSRF-Token": ""}).status_code == 403
    analyst = sqlite_web.client("analyst")
    assert analyst.post("/settings/users", data={"csrf": csrf_of(analyst), "name": "eve", "role": "admin"}
                        ).status_code == 403
    assert accounts.get_user(sqlite_web.db, "eve") is None


def test_account_page_tokens(sqlite_web: Web) -> None:
    viewer = sqlite_web.client("viewer")
    made = viewer.post("/account/tokens", data={"csrf": csrf_of(viewer), "name": "grafana", "days": "30"})
    secret = re.search(r'id="new-token"[^>]*>([^<]+)<', made.text).group(1)  # type: ignore[union-attr]
    assert secret.startswith("nwt_")
    assert sqlite_web.anonymous().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    token_id = list_tokens(sqlite_web.db)[0]["id"]
    other = sqlite_web.client("analyst")  # someone else's token is not theirs to revoke
    other.post(f"/account/tokens/{token_id}/delete", data={"csrf": csrf_of(other)})
    assert len(list_tokens(sqlite_web.db)) == 1
    viewer.post(f"/account/tokens/{token_id}/delete", data={"csrf": csrf_of(viewer)})
    assert list_tokens(sqlite_web.db) == []
    assert sqlite_web.anonymous().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_alert_status_form_and_viewer_refusal(sqlite_web: Web) -> None:
    from datetime import datetime, timezone

    from netwarden.records import Alert, Severity
    from netwarden.store import alerts as alert_store

    now = datetime.now(timezone.utc)
    alert = Alert(kind="port_scan", subkind="", severity=Severity.HIGH, confidence=0.9, factors=[],
                  source="192.0.2.5", target=None, first_seen=now, last_seen=now, count=1, evidence={},
                  recommendation="", detector="port_scan")
    with sqlite_web.db.engine.begin() as conn:
        alert_store.save_alert(conn, alert)
    viewer = sqlite_web.client("viewer")
    refused = viewer.post(f"/alerts/{alert.id}/status", data={"csrf": csrf_of(viewer), "status": "resolved"})
    assert refused.status_code == 403
    analyst = sqlite_web.client("analyst")
    done = analyst.post(f"/alerts/{alert.id}/status", data={"csrf": csrf_of(analyst), "status": "resolved"})
    assert done.status_code == 200 and 'id="alert-status">resolved<' in done.text
    page = viewer.get("/alerts", params={"status": "resolved", "port": ""}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/alerts?status=resolved"  # empty fields dropped
    assert f'data-id="{alert.id}"' in viewer.get("/alerts?status=resolved").text


def test_pages_render_for_every_role(sqlite_web: Web) -> None:
    for role in ("viewer", "analyst", "admin"):
        client = sqlite_web.client(role)
        for path in ("/", "/events", "/alerts", "/account", "/account/password"):
            response = client.get(path)
            assert response.status_code == 200, (role, path)
            assert '<meta name="csrf-token" content="' in response.text
    assert PASSWORD not in sqlite_web.client("admin").get("/settings").text
