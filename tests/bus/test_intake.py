"""The HTTP intake with a ``[bus]``: ``serve`` parses what is posted and publishes it; a worker detects and
stores it, each event once. A bus that stays full answers 503 with what was dropped, counted in the metrics."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import func, select

from netwarden import metrics
from netwarden.accounts import users as accounts
from netwarden.accounts.sessions import create_token
from netwarden.bus.redis_bus import RedisBus
from netwarden.bus.worker import Worker
from netwarden.config import Settings
from netwarden.serve import Server
from netwarden.store.database import Database
from netwarden.store.schema import alerts, events, quarantine
from netwarden.store.schema_bus import bus_batches
from tests.bus.test_workers import scalar
from tests.waiting import wait_for

ATTACKER = "203.0.113.66"


def lines(n: int) -> list[str]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    out = [json.dumps({"timestamp": (now - timedelta(seconds=i)).isoformat(), "source_kind": "access_log",
                       "src_ip": f"192.0.2.{i % 40}", "src_port": 40000 + i, "dst_ip": "10.0.0.5", "dst_port": 443,
                       "http_method": "GET", "url": f"/page/{i}", "http_status": 200}) for i in range(n)]
    out.append(json.dumps({"timestamp": now.isoformat(), "source_kind": "access_log", "src_ip": ATTACKER,
                           "src_port": 39999, "http_method": "GET", "http_status": 200,
                           "url": "/item.php?id=1' UNION SELECT password FROM users--"}))
    return out + ["not json", '{"no_kind": 1}']


def serve_with_bus(settings: Settings, pg_url: str) -> tuple[Server, str]:
    """``serve`` on the bus, without listeners; an analyst's API token."""
    db = Database.open(pg_url)
    accounts.add_user(db, "analyst", "correct horse battery staple", "analyst")
    user = accounts.get_user(db, "analyst")
    token = create_token(db, user.id, "intake-test")[1]  # type: ignore[union-attr]
    db.close()
    server = Server(settings, host="127.0.0.1", port=0, syslog_udp=[], syslog_tcp=[], netflow_udp=[],
                    use_writer_process=False)
    server.start()
    return server, token


def post(server: Server, token: str, body: list[str]) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/intake", content="\n".join(body).encode(), timeout=60,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})


def test_intake_publishes_and_a_worker_stores_each_event_once(bus_settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings()
    settings.database.url = pg_url
    settings.bus = bus_settings
    server, token = serve_with_bus(settings, pg_url)
    db = Database.open(pg_url)
    bus = RedisBus(bus_settings)
    worker = None
    try:
        sent = lines(120)
        answer = post(server, token, sent)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"lines": 123, "queued": 121, "dropped": 0, "quarantined": 2,
                                 "quarantined_by_reason": {"bad_json": 1, "missing_field": 1}}
        # published, not processed here: nothing is stored before a worker runs
        assert scalar(db, select(func.count()).select_from(events)) == 0
        messages = sum(bus.redis.xlen(bus.stream(p)) for p in range(bus.partitions))
        assert messages >= bus.partitions  # 121 events over 4 partitions, at most 25 per message

        worker = Worker(settings, Database.open(pg_url), RedisBus(bus_settings), name="intake-worker")
        thread = threading.Thread(target=worker.run, kwargs={"max_seconds": 120}, daemon=True)
        thread.start()
        wait_for(lambda: all(bus.backlog(p) == 0 for p in range(bus.partitions)), 90, "every batch acknowledged")
        with db.engine.connect() as conn:
            ports = Counter(r.src_port for r in conn.execute(select(events.c.src_port)))
            assert ports == Counter([*range(40000, 40120), 39999])  # each event once
            assert conn.execute(select(func.count()).select_from(quarantine)).scalar_one() == 2
            assert conn.execute(select(func.count()).select_from(bus_batches)).scalar_one() == messages
            found = conn.execute(select(alerts.c.kind, alerts.c.subkind).where(alerts.c.source == ATTACKER)).all()
        assert ("web_attack", "sqli") in {(k, s) for k, s in found}  # the worker detected it
    finally:
        if worker is not None:
            worker.stop.set()
            thread.join(30)
        server.stop()
        bus.close()
        db.close()


def test_intake_answers_503_with_what_a_full_bus_dropped(bus_settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings()
    settings.database.url = pg_url
    settings.bus = bus_settings.model_copy(update={"partitions": 1, "max_backlog": 2, "max_wait": 0.3})
    server, token = serve_with_bus(settings, pg_url)
    label = metrics.source_label("api/intake/analyst")
    before = metrics.BUS_DROPPED.labels(label)._value.get()
    try:
        assert post(server, token, lines(40)).status_code == 202  # two messages: the backlog limit, no worker
        answer = post(server, token, lines(10))
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
        body = answer.json()
        assert (body["queued"], body["dropped"]) == (0, 11) and "the bus is full" in body["detail"]
        assert metrics.BUS_DROPPED.labels(label)._value.get() - before == 11 + 2  # and the quarantined lines
        assert server.runtime.intake.dropped == 11  # type: ignore[union-attr]
    finally:
        server.stop()
