"""Live updates: the hub, the WebSocket (auth, origin) and the polling fallback."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from netwarden.store.schema_web import sessions
from netwarden.web.live import LiveHub
from netwarden.web.runtime import RateMeter
from tests.web.conftest import Web


def test_hub_history_and_bounded_queues() -> None:
    import asyncio

    async def scenario() -> None:
        hub = LiveHub(history=5, queue_size=3)
        hub.bind(asyncio.get_running_loop())
        queue = hub.subscribe()
        for i in range(10):
            hub.publish("alert", {"i": i})
        await asyncio.sleep(0)
        assert [m["data"]["i"] for m in hub.since(0)] == [5, 6, 7, 8, 9]  # history keeps the newest
        got = [queue.get_nowait()["data"]["i"] for _ in range(queue.qsize())]
        assert got == [7, 8, 9]  # a slow subscriber loses its oldest, never blocks the publisher
        # from another thread
        thread = threading.Thread(target=hub.publish, args=("events", {"count": 1}))
        thread.start()
        thread.join()
        message = await asyncio.wait_for(queue.get(), 2)
        assert message["topic"] == "events" and message["seq"] == 11
        waited = await hub.wait(11, 0.05)
        assert waited == []

    asyncio.run(scenario())


def test_rate_meter_counts_a_sliding_window() -> None:
    meter = RateMeter(window=10)
    meter.add(50, now=100.0)
    meter.add(50, now=105.0)
    assert meter.rate(now=106.0) == 10.0
    assert meter.rate(now=112.0) == 5.0  # the first batch left the window
    assert meter.total == 100


def test_websocket_delivers_published_messages(sqlite_web: Web) -> None:
    client = sqlite_web.client("viewer")
    hub = sqlite_web.app.state.runtime.hub
    with client.websocket_connect("/api/v1/live") as ws:
        hub.publish("alert", {"id": 1, "source": "<script>alert(1)</script>"})
        message = ws.receive_json()
    assert message["topic"] == "alert" and message["data"]["source"] == "<script>alert(1)</script>"


def test_websocket_refuses_anonymous_and_foreign_origins(sqlite_web: Web) -> None:
    anonymous = sqlite_web.anonymous()
    with pytest.raises(WebSocketDisconnect) as refused:
        with anonymous.websocket_connect("/api/v1/live") as ws:
            ws.receive_json()
    assert refused.value.code == 1008
    viewer = sqlite_web.client("viewer")
    with pytest.raises(WebSocketDisconnect):
        with viewer.websocket_connect("/api/v1/live", headers={"Origin": "https://evil.example"}) as ws:
            ws.receive_json()


def test_polling_fallback(sqlite_web: Web) -> None:
    client = sqlite_web.client("viewer")
    hub = sqlite_web.app.state.runtime.hub
    hub.publish("alert", {"id": 5})
    hub.publish("events", {"count": 2, "sample": []})
    first = client.get("/api/v1/live/poll", params={"after": 0, "timeout": 0}).json()
    assert [m["topic"] for m in first["messages"]] == ["alert", "events"] and first["seq"] == 2
    assert client.get("/api/v1/live/poll", params={"after": 2, "timeout": 0}).json()["messages"] == []
    # a client that remembers a number from before a restart starts over
    assert len(client.get("/api/v1/live/poll", params={"after": 999, "timeout": 0}).json()["messages"]) == 2
    assert sqlite_web.anonymous().get("/api/v1/live/poll").status_code == 401


def test_websocket_closes_when_the_session_ends(sqlite_web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from netwarden.web.api import live
    from netwarden.accounts.sessions import end_session

    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.2)
    client = sqlite_web.client("viewer")
    hub = sqlite_web.app.state.runtime.hub
    with client.websocket_connect("/api/v1/live") as ws:
        hub.publish("alert", {"id": 1})
        assert ws.receive_json()["data"] == {"id": 1}
        with sqlite_web.db.engine.connect() as conn:  # end the session as logout does
            for ident in conn.execute(select(sessions.c.id)).scalars().all():
                end_session(sqlite_web.db, ident)
        with pytest.raises(WebSocketDisconnect) as closed:
            for _ in range(50):
                ws.receive_json()
        assert closed.value.code == 1008
