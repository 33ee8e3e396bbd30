"""Login, sessions, lockout, TOTP, CSRF, roles and API tokens — through HTTP, on every database engine
where the store is involved."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from netwarden.store.schema_web import api_tokens, sessions, users
from netwarden.accounts import users as accounts
from netwarden.web.auth import SESSION_COOKIE
from tests.web.conftest import PASSWORD, Web, csrf_of, login, make_settings


def test_pages_and_api_need_a_login(sqlite_web: Web) -> None:
    client = sqlite_web.anonymous()
    page = client.get("/events?port=22", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fevents%3Fport%3D22"
    api = client.get("/api/v1/events")
    assert api.status_code == 401 and api.json()["detail"] == "login required"


def test_login_sets_a_strict_http_only_session_stored_only_as_a_digest(web: Web) -> None:
    client = web.anonymous()
    response = login(client, "viewer", follow=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over TLS the flag is set (test below)
    secret = client.cookies[SESSION_COOKIE]
    with web.db.engine.connect() as conn:
        stored = conn.execute(select(sessions.c.token_hash)).scalars().all()
        hashes = conn.execute(select(users.c.password_hash)).scalars().all()
    assert len(stored) == 1 and secret not in stored[0] and len(stored[0]) == 64
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert client.get("/api/v1/me").json() == {"name": "viewer", "role": "viewer", "via": "session"}


def test_wrong_password_and_unknown_user_look_the_same(sqlite_web: Web) -> None:
    client = sqlite_web.anonymous()
    wrong = login(client, "viewer", "not the password")
    unknown = login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong user name or password." in wrong.text and "Wrong user name or password." in unknown.text
    assert SESSION_COOKIE not in client.cookies


def test_login_form_needs_its_own_token(sqlite_web: Web) -> None:
    """Login CSRF: a foreign page cannot post the form (it has neither the cookie nor the token)."""
    client = sqlite_web.anonymous()
    response = client.post("/login", data={"username": "viewer", "password": PASSWORD, "login_token": "x"})
    assert response.status_code == 400 and SESSION_COOKIE not in client.cookies


def test_lockout_per_user_refuses_even_the_right_password(web: Web) -> None:
    client = web.anonymous()
    for _ in range(web.settings.web.lockout_failures):
        assert login(client, "analyst", "guess guess guess").status_code == 401
    locked = login(client, "analyst", PASSWORD)
    assert locked.status_code == 429 and "too many failed logins" in locked.text.lower()
    assert login(web.anonymous(), "viewer").status_code == 200  # other users are not affected


def test_concurrent_wrong_passwords_get_no_more_checks_than_the_limit(web: Web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """60 wrong passwords at once: only lockout_failures of them reach the password check."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from argon2 import PasswordHasher

    checks = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):  # type: ignore[no-untyped-def]  # noqa: A002
            checks.append(threading.get_ident())
            time.sleep(0.05)  # a real argon2 check takes this long: the window the race needs
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "_hasher", Counting(time_cost=1, memory_cost=1024, parallelism=1))
    settings = web.settings.web

    def attempt(i: int) -> str:
        try:
            return "ok" if accounts.check_login(web.db, "analyst", f"wrong {i}", f"192.0.2.{i}", settings) \
                else "wrong"
        except accounts.LockedOut:
            return "locked"

    with ThreadPoolExecutor(60) as pool:
        answers = list(pool.map(attempt, range(60)))
    assert len(checks) == settings.lockout_failures
    assert answers.count("wrong") == settings.lockout_failures and answers.count("locked") == 55
    with pytest.raises(accounts.LockedOut):
        accounts.check_login(web.db, "analyst", PASSWORD, "192.0.2.200", settings)
    assert accounts.check_login(web.db, "viewer", PASSWORD, "192.0.2.201", settings) is not None


def test_lockout_per_address_across_user_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from netwarden.store.database import Database

    db = Database.open(f"sqlite:///{tmp_path / 'w.db'}")
    w = Web(db, make_settings(lockout_address_failures=4, lockout_failures=100))
    client = w.anonymous()
    for name in ("a1", "a2", "a3", "a4"):
        assert login(client, name, "whatever whatever").status_code == 401
    assert login(client, "viewer").status_code == 429  # same address, right password, still refused
    w.close()
    db.close()


def test_logout_deletes_the_session(web: Web) -> None:
    client = web.client("viewer")
    old = client.cookies[SESSION_COOKIE]
    response = client.post("/logout", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    with web.db.engine.connect() as conn:
        assert conn.execute(select(sessions)).first() is None
    replay = web.anonymous()
    replay.cookies.set(SESSION_COOKIE, old)
    assert replay.get("/api/v1/me").status_code == 401


def test_state_changes_need_the_csrf_token_and_same_origin(sqlite_web: Web) -> None:
    client = sqlite_web.client("analyst")
    token = client.headers.pop("X-CSRF-Token")
    body = {"name": "x"}
    missing = client.post("/api/v1/tokens", json=body)
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    wrong = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    foreign = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": token,
                                                                 "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "cross-site" in foreign.json()["detail"]
    form = client.post("/logout", data={"csrf": "wrong"})
    assert form.status_code == 403
    ok = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": token, "Origin": "http://testserver"})
    assert ok.status_code == 201


def test_roles_are_enforced_on_pages_and_api(sqlite_web: Web) -> None:
    viewer, analyst, admin = (sqlite_web.client(r) for r in ("viewer", "analyst", "admin"))
    for client, allowed in ((viewer, False), (analyst, False), (admin, True)):
        assert (client.get("/settings").status_code == 200) is allowed
        assert (client.get("/api/v1/users").status_code == 200) is allowed
        assert (client.get("/api/v1/settings").status_code == 200) is allowed
    denied = viewer.post("/api/v1/alerts/1/status", json={"status": "resolved"})
    assert denied.status_code == 403 and "analyst" in denied.json()["detail"]
    assert viewer.post("/api/v1/intake", content=b"{}").status_code == 403
    assert analyst.post("/api/v1/users", json={"name": "x", "password": PASSWORD, "role": "admin"}).status_code == 403
    # the menu shows Settings to admins only
    assert 'href="/settings"' in admin.get("/").text and 'href="/settings"' not in viewer.get("/").text


def test_api_token_bearer_no_csrf_needed_revocable_and_hashed(web: Web) -> None:
    admin = web.client("admin")
    created = admin.post("/api/v1/tokens", json={"name": "backup script", "days": 30})
    assert created.status_code == 201
    secret = created.json()["token"]
    script = web.anonymous()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert script.get("/api/v1/me", headers=bearer).json() == {"name": "admin", "role": "admin", "via": "token"}
    assert script.post("/api/v1/tokens", json={"name": "second"}, headers=bearer).status_code == 201
    with web.db.engine.connect() as conn:
        assert secret not in str(conn.execute(select(api_tokens)).all())
    listed = admin.get("/api/v1/tokens").json()["tokens"]
    assert {t["name"] for t in listed} == {"backup script", "second"} and "token" not in listed[0]
    assert admin.delete(f"/api/v1/tokens/{created.json()['id']}").status_code == 204
    revoked = script.get("/api/v1/me", headers=bearer)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert script.get("/api/v1/me", headers={"Authorization": "Bearer nwt_made_up"}).status_code == 401


def test_a_viewer_cannot_revoke_someone_elses_token(sqlite_web: Web) -> None:
    secret = sqlite_web.token("admin")
    viewer = sqlite_web.client("viewer")
    admin_tokens = sqlite_web.client("admin").get("/api/v1/tokens").json()["tokens"]
    assert viewer.delete(f"/api/v1/tokens/{admin_tokens[0]['id']}").status_code == 404
    assert viewer.get("/api/v1/tokens?all=true").status_code == 403
    assert sqlite_web.anonymous().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_totp_enrolment_then_login_needs_the_code(web: Web) -> None:
    client = web.client("analyst")
    page = client.post("/account/totp", data={"csrf": csrf_of(client)})
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)  # type: ignore[union-attr]
    assert "otpauth://totp/NetWarden:analyst?secret=" + secret in page.text
    bad = client.post("/account/totp/confirm", data={"csrf": csrf_of(client), "code": "000000"})
    assert bad.status_code == 400 and accounts.totp_secret(web.db, accounts.get_user(web.db, "analyst").id) is None
    ok = client.post("/account/totp/confirm", data={"csrf": csrf_of(client), "code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200 and "Two-factor login is on" in ok.text

    browser = web.anonymous()
    step1 = login(browser, "analyst", follow=False)
    assert step1.headers["location"].startswith("/login/totp")
    half = browser.cookies[SESSION_COOKIE]
    assert browser.get("/api/v1/me").status_code == 401  # password alone is not a login
    assert browser.get("/", follow_redirects=False).headers["location"] == "/login/totp"
    form = browser.get("/login/totp")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    wrong = browser.post("/login/totp", data={"csrf": csrf, "code": "123456" if pyotp.TOTP(secret).now() != "123456"
                                              else "654321"})
    assert wrong.status_code == 401
    right = browser.post("/login/totp", data={"csrf": csrf, "code": pyotp.TOTP(secret).now()}, follow_redirects=False)
    assert right.status_code == 303
    assert browser.cookies[SESSION_COOKIE] != half  # a new session secret after the second factor
    assert browser.get("/api/v1/me").json()["name"] == "analyst"


def test_first_admin_gets_a_one_time_password_that_must_be_changed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from netwarden.store.database import Database
    from netwarden.web.app import create_app

    db = Database.open(f"sqlite:///{tmp_path / 'first.db'}")
    password = accounts.ensure_first_admin(db)
    assert password and len(password) >= 12
    assert accounts.ensure_first_admin(db) is None  # only on an empty user table
    assert accounts.ensure_first_admin(Database.open(f"sqlite:///{tmp_path / 'other.db'}")) != password
    with TestClient(create_app(make_settings(), db)) as client:
        response = login(client, "admin", password, follow=False)
        assert response.headers["location"] == "/account/password"
        assert client.get("/", follow_redirects=False).headers["location"] == "/account/password"
        assert client.get("/api/v1/events").status_code == 403
        csrf = csrf_of(client) if False else re.search(  # the password page carries the token
            r'name="csrf" value="([^"]+)"', client.get("/account/password").text).group(1)  # type: ignore[union-attr]
        short = client.post("/account/password", data={"csrf": csrf, "current": password, "new": "short",
                                                        "again": "short"})
        assert short.status_code == 400 and "at least 10" in short.text
        done = client.post("/account/password", data={"csrf": csrf, "current": password, "new": PASSWORD,
                                                      "again": PASSWORD}, follow_redirects=False)
        assert done.status_code == 303
        assert client.get("/api/v1/me").status_code == 200
    db.close()


def test_session_cookie_is_secure_over_tls(sqlite_web: Web) -> None:
    from fastapi.testclient import TestClient

    with TestClient(sqlite_web.app, base_url="https://testserver") as client:
        response = login(client, "viewer", follow=False)
        assert "Secure" in response.headers["set-cookie"]


def test_login_redirects_only_within_the_site(sqlite_web: Web) -> None:
    client = sqlite_web.anonymous()
    for target, expected in (("/alerts?severity=high", "/alerts?severity=high"), ("//evil.example/x", "/"),
                             ("https://evil.example/", "/"), ("/\\evil.example", "/")):
        page = client.get("/login", params={"next": target})
        token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        response = client.post("/login", data={"username": "viewer", "password": PASSWORD, "login_token": token,
                                               "next": target}, follow_redirects=False)
        assert response.headers["location"] == expected
