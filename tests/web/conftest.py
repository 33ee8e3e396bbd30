"""Fixtures for the web application: an app on each database engine, logged-in clients per role."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=".*httpx2.*")
from fastapi.testclient import TestClient  # noqa: E402

from netwarden.config import Settings  # noqa: E402
from netwarden.store.database import Database  # noqa: E402
from netwarden.accounts import users as accounts  # noqa: E402
from netwarden.web.app import create_app  # noqa: E402

PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by scripts/system-packages (never a downloaded browser)


@contextmanager
def analyst_server(folder: Path, prepare: Callable[[Database], None] | None = None, *,
                   role: str = "analyst") -> Iterator[tuple[str, str]]:
    """A running Server on a SQLite file in ``folder`` (filled by ``prepare``), with its URL and a session
    of the user named ``role`` with that role (browser tests start logged in; the login form has its own tests)."""
    from netwarden.serve import Server
    from netwarden.accounts.sessions import create_session

    url = f"sqlite:///{folder / 'nw.db'}"
    settings = Settings()
    db = Database.open(url)
    if prepare is not None:
        prepare(db)
    if accounts.get_user(db, role) is None:
        accounts.add_user(db, role, PASSWORD, role)
    user = accounts.get_user(db, role)
    assert user is not None
    session = create_session(db, user.id, "127.0.0.1", settings.web)
    db.close()
    web = Server(settings, db_url=url, port=0, syslog_udp=[], syslog_tcp=[], netflow_udp=[],
                    use_writer_process=False)
    web.start()
    try:
        yield web.url, session
    finally:
        web.stop()


def logged_in_context(browser, url: str, session: str):  # type: ignore[no-untyped-def]
    """A browser context carrying the session cookie, as the login would have set it."""
    from netwarden.web.auth import SESSION_COOKIE

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": SESSION_COOKIE, "value": session, "url": url, "httpOnly": True,
                          "sameSite": "Strict"}])
    return context


@contextmanager
def chromium_page(url: str, session: str):  # type: ignore[no-untyped-def]
    """A logged-in page in Debian's Chromium; ``page.dialogs`` and ``page.errors`` (page errors and console
    errors, CSP refusals among them) collect what a hostile value might have caused."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = logged_in_context(browser, url, session).new_page()
        page.dialogs, page.errors = [], []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        try:
            yield page
        finally:
            browser.close()


@contextmanager
def browser_page(url: str, session: str):  # type: ignore[no-untyped-def]
    """A chromium page logged in with ``session``; ``page.base`` is the server's URL."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = logged_in_context(browser, url, session).new_page()
        page.base = url
        try:
            yield page
        finally:
            browser.close()


def make_settings(**web) -> Settings:  # type: ignore[no-untyped-def]
    settings = Settings()
    for key, value in web.items():
        setattr(settings.web, key, value)
    return settings


def login(client: TestClient, name: str, password: str = PASSWORD, *, follow: bool = True):  # type: ignore[no-untyped-def]
    """The browser's login: fetch the form (its token and cookie), post it."""
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client.post("/login", data={"username": name, "password": password, "login_token": token, "next": "/"},
                       follow_redirects=follow)


def csrf_of(client: TestClient) -> str:
    page = client.get("/account")
    return re.search(r'<meta name="csrf-token" content="([^"]*)"', page.text).group(1)  # type: ignore[union-attr]


class Web:
    """An app on one database with a user per role; ``client(role)`` is a logged-in browser-like client."""

    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or make_settings()
        self.app = create_app(self.settings, db)
        for role in ("admin", "analyst", "viewer"):
            accounts.add_user(db, role, PASSWORD, role)
        self._clients: list[TestClient] = []

    def anonymous(self) -> TestClient:
        client = TestClient(self.app)
        client.__enter__()
        self._clients.append(client)
        return client

    def client(self, role: str) -> TestClient:
        client = self.anonymous()
        response = login(client, role)
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = csrf_of(client)
        return client

    def token(self, role: str) -> str:
        from netwarden.accounts.sessions import create_token

        user = accounts.get_user(self.db, role)
        assert user is not None
        return create_token(self.db, user.id, f"{role}-test")[1]

    def close(self) -> None:
        for client in self._clients:
            client.__exit__(None, None, None)
        # what the app started on first use (the intake's pipeline and its block-expiry sweeper, the manual
        # responder): left running, a sweeper outlived the test's database ("no such table: blocks" in CI)
        self.app.state.runtime.close()


@pytest.fixture
def web(db: Database) -> Iterator[Web]:
    """The app on SQLite, MariaDB and PostgreSQL."""
    w = Web(db)
    yield w
    w.close()


@pytest.fixture
def sqlite_web(tmp_path: Path) -> Iterator[Web]:
    """The app on SQLite only (for tests of the web layer itself)."""
    db = Database.open(f"sqlite:///{tmp_path / 'web.db'}")
    w = Web(db)
    yield w
    w.close()
    db.close()


@pytest.fixture(autouse=True)
def _fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with small costs: a test logs in dozens of times (production keeps the library's
    recommended parameters, about a quarter second per hash here)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
