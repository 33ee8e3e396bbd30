"""The answer cache and the cache of callers (netwarden/web/cache.py): reuse, freshness, isolation, revocation."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from sqlalchemy import delete

from netwarden.store.database import Database
from netwarden.store.schema_web import users
from netwarden.web import cache
from tests.web.conftest import Web, make_settings


def _store_event(db: Database, port: int) -> None:
    """An event stored behind the web app's back, as the pipeline does."""
    from netwarden.records import Event
    from netwarden.store.events import insert_events

    event = Event(timestamp=datetime.now(timezone.utc), source_kind="netflow", src_ip="192.0.2.9",
                  dst_ip="10.0.0.1", src_port=port, dst_port=22, transport="tcp")
    with db.engine.begin() as conn:
        insert_events(conn, [event])


def _ports(client, **headers) -> set[int]:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/events", params={"limit": 500}, headers=headers)
    assert response.status_code == 200, response.text
    return {e["src_port"] for e in response.json()["events"]}


@pytest.fixture
def slow_web(tmp_path: Path) -> Iterator[Web]:
    """Answers kept for a minute: anything fresher came past the cache."""
    db = Database.open(f"sqlite:///{tmp_path / 'web.db'}")
    w = Web(db, make_settings(cache_seconds=60))
    yield w
    w.close()
    db.close()


def test_answers_are_reused_until_a_change_through_the_app_or_no_cache(slow_web: Web) -> None:
    client = slow_web.client("viewer")
    _store_event(slow_web.db, 40001)
    assert _ports(client) == {40001}
    _store_event(slow_web.db, 40002)
    assert _ports(client) == {40001}  # the kept answer
    assert _ports(client, **{"Cache-Control": "no-cache"}) == {40001, 40002}  # past the cache
    analyst = slow_web.client("analyst")
    # any state-changing request through the app empties the cache, even a refused one
    analyst.post("/api/v1/alerts/999/status", json={"status": "resolved"})
    assert _ports(client) == {40001, 40002}


def test_an_expired_answer_is_recomputed(sqlite_web: Web) -> None:
    sqlite_web.app.state.settings.web.cache_seconds = 1.0  # the default
    client = sqlite_web.client("viewer")
    _store_event(sqlite_web.db, 40001)
    assert _ports(client) == {40001}
    _store_event(sqlite_web.db, 40002)
    deadline = time.monotonic() + 10
    while _ports(client) != {40001, 40002}:  # the first call after expiry may still get the old answer
        assert time.monotonic() < deadline, "the expired answer was never recomputed"
        time.sleep(0.1)


def test_pages_are_kept_per_session(slow_web: Web) -> None:
    first, second, admin = slow_web.client("analyst"), slow_web.client("analyst"), slow_web.client("admin")
    tokens = []
    for client in (first, second, first, admin):
        page = client.get("/events")
        assert page.status_code == 200
        tokens.append(re.search(r'<meta name="csrf-token" content="([^"]*)"', page.text).group(1))  # type: ignore[union-attr]
    assert tokens[0] == tokens[2] and len(set(tokens)) == 3  # each session sees its own CSRF token only
    assert len({key[3] for key in _cache_of(slow_web).answers}) == 3  # three sessions' pages kept


def test_callers_are_checked_again_at_once_after_a_change_in_this_process(slow_web: Web) -> None:
    token = slow_web.token("viewer")
    api = slow_web.anonymous()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/events", headers=headers).status_code == 200
    admin = slow_web.client("admin")
    listed = admin.get("/api/v1/tokens", params={"all": "true"}).json()["tokens"]
    token_id = next(t["id"] for t in listed if t["name"] == "viewer-test")
    assert admin.delete(f"/api/v1/tokens/{token_id}").status_code in (200, 204)
    assert api.get("/api/v1/events", headers=headers).status_code == 401

    viewer = slow_web.client("viewer")
    assert viewer.get("/api/v1/events").status_code == 200
    assert viewer.post("/logout").status_code in (200, 303)
    assert viewer.get("/api/v1/events").status_code == 401


def test_a_change_made_by_another_process_applies_within_the_callers_cache_time(
        slow_web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slow_web.app.state.callers, "seconds", 0.3)
    token = slow_web.token("viewer")
    api = slow_web.anonymous()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/events", headers=headers).status_code == 200
    with slow_web.db.engine.begin() as conn:  # `netwarden user remove viewer` elsewhere: this process is not told
        conn.execute(delete(users).where(users.c.name == "viewer"))
    time.sleep(0.4)
    assert api.get("/api/v1/events", headers=headers).status_code == 401
    assert api.get("/api/v1/events").status_code == 401  # and nobody gets a kept answer without logging in


def test_concurrent_requests_for_one_answer_compute_it_once(slow_web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    import netwarden.web.api.events as events_api

    calls = []
    real_search = events_api.search

    def counting_search(conn, query):  # type: ignore[no-untyped-def]
        calls.append(1)
        time.sleep(0.2)  # slow enough for the other requests to arrive meanwhile
        return real_search(conn, query)

    monkeypatch.setattr(events_api, "search", counting_search)
    token = slow_web.token("viewer")

    async def many() -> list[int]:
        transport = httpx.ASGITransport(app=slow_web.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            replies = await asyncio.gather(*(client.get("/api/v1/events?limit=5") for _ in range(20)))
        return [r.status_code for r in replies]

    assert asyncio.run(many()) == [200] * 20
    assert len(calls) == 1


def _cache_of(web: Web) -> cache.ResponseCache:
    app = web.app.middleware_stack
    while app is not None and not isinstance(app, cache.ResponseCache):
        app = getattr(app, "app", None)
    assert app is not None, "the answer cache is not in the middleware stack"
    return app


def test_memory_is_bounded_whatever_is_asked(slow_web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_BYTES", 20_000)
    for i in range(30):
        _store_event(slow_web.db, 41000 + i)
    client = slow_web.client("viewer")
    kept = _cache_of(slow_web)
    for limit in range(1, 200):  # every limit is another answer
        assert client.get("/api/v1/events", params={"limit": limit}).status_code == 200
        assert kept.bytes == sum(len(a.body) for a in kept.answers.values()) <= 20_000
    assert kept.answers  # and it still keeps answers


def test_an_answer_computed_across_a_change_is_not_kept(slow_web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    import netwarden.web.api.events as events_api

    calls = []
    real_search = events_api.search

    def slow_search(conn, query):  # type: ignore[no-untyped-def]
        calls.append(1)
        time.sleep(0.3)
        return real_search(conn, query)

    monkeypatch.setattr(events_api, "search", slow_search)
    token = slow_web.token("analyst")

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=slow_web.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            reading = asyncio.create_task(client.get("/api/v1/events?limit=5"))
            await asyncio.sleep(0.1)  # the answer is being computed from the data before the change
            await client.post("/api/v1/alerts/999/status", json={"status": "resolved"})
            assert (await reading).status_code == 200
            assert (await client.get("/api/v1/events?limit=5")).status_code == 200

    asyncio.run(scenario())
    assert len(calls) == 2  # the second read computed afresh
