"""The hot read-only API answers computed in reader processes (netwarden.web.readers) are the very answers the web
process computes itself: the same JSON for events of an address (either side, from a source), alerts of a source
and a host's data, the same errors (a bad cursor, a bad address, a bad filter), and the answers keep coming when a
reader dies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from benchmarks.bench_web import build_database
from netwarden.accounts import users as accounts
from netwarden.accounts.sessions import create_token
from netwarden.store.database import Database
from netwarden.web.app import create_app
from netwarden.web.readers import Readers, default_processes
from tests.web.conftest import PASSWORD, make_settings
from tests.web.conftest import _fast_argon2  # noqa: F401 - an autouse fixture

ADDRESSES = [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(250, 5000, 97)] + ["192.0.2.2", "10.0.0.7"]
PATHS = [p.format(a=a) for a in ADDRESSES for p in (
    "/api/v1/events?limit=50&address={a}", "/api/v1/events?limit=7&src={a}&order=oldest",
    "/api/v1/events?limit=50&dst={a}", "/api/v1/alerts?limit=50&source={a}", "/api/v1/alerts?limit=1&source={a}",
    "/api/v1/hosts/{a}", "/api/v1/hosts/{a}?days=1")] + [
    "/api/v1/events?limit=20&address=198.18.0.0/16&port=22", "/api/v1/alerts?limit=5&severity=high",
    "/api/v1/events?limit=500&address=192.0.2.2", "/api/v1/events?limit=500"]  # answers longer than a socket buffer
BAD = ["/api/v1/events?cursor=not-a-cursor", "/api/v1/alerts?cursor=not-a-cursor", "/api/v1/hosts/not-an-address",
       "/api/v1/events?address=300.1.1.1", "/api/v1/events?port=70000", "/api/v1/hosts/10.0.0.7?days=0"]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    path: Path = tmp_path_factory.mktemp("readers") / "web.db"
    build_database(path, 20_000, 300, lambda _: None)
    url = f"sqlite:///{path}"
    db = Database.open(url)
    accounts.add_user(db, "viewer", PASSWORD, "viewer")
    user = accounts.get_user(db, "viewer")
    assert user is not None
    token = create_token(db, user.id, "readers")[1]
    db.close()
    yield url, token


def _timeless(body: object) -> object:
    """An answer without the instants a host's time window ("the last N days up to now") puts in it: they
    differ between two runs. Stripped: any since/until naming this hour or the hour of the window's start."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    hours = tuple((t - timedelta(days=d)).strftime("%Y-%m-%dT%H:")
                  for t in (now, now - timedelta(hours=1)) for d in (0, 1, 7))
    if isinstance(body, dict):
        return {k: _timeless(v) for k, v in body.items()
                if not (k in ("since", "until") and isinstance(v, str) and v.startswith(hours))}
    if isinstance(body, list):
        return [_timeless(v) for v in body]
    return body


def test_readers_answer_as_the_web_process_does(database: tuple[str, str]) -> None:
    url, token = database
    headers = {"Authorization": f"Bearer {token}", "Cache-Control": "no-cache"}
    readers = Readers(url, 2).start()
    here_db, there_db = Database.open(url), Database.open(url)
    try:
        with TestClient(create_app(make_settings(), here_db)) as here, \
                TestClient(create_app(make_settings(), there_db, readers=readers),
                           backend_options={"use_uvloop": True}) as there:  # as uvicorn serves it
            def both(path: str) -> tuple[tuple[int, object], tuple[int, object]]:
                # back to back: a host's window moves with the clock, and an event may leave it in between
                a, b = here.get(path, headers=headers), there.get(path, headers=headers)
                return (a.status_code, _timeless(a.json())), (b.status_code, _timeless(b.json()))

            pairs = {}
            for path in PATHS + BAD:
                pairs[path] = both(path)
                if pairs[path][0] != pairs[path][1]:
                    pairs[path] = both(path)  # once more, for an event that left the window meanwhile
            assert readers.running == 2  # both still up: they answered, nothing fell back
    finally:
        readers.close()
        here_db.close(), there_db.close()
    assert [pairs[p][0][0] for p in PATHS] == [200] * len(PATHS)
    listed = [row for p in PATHS for key in ("events", "alerts") if isinstance(pairs[p][0][1].get(key), list)
              for row in pairs[p][0][1][key]]
    assert len(listed) > 100  # real answers compared
    assert [pairs[p][0][0] for p in BAD] == [400, 400, 400, 400, 422, 422]
    for path, (a, b) in pairs.items():
        assert a == b, path


def test_a_dead_reader_is_replaced_by_the_web_process(database: tuple[str, str]) -> None:
    url, token = database
    readers = Readers(url, 1).start()
    try:
        db = Database.open(url)
        with TestClient(create_app(make_settings(), db, readers=readers)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            first = client.get(PATHS[0], headers=headers)
            readers._readers[0].proc.kill()
            readers._readers[0].proc.join(5)
            after = [client.get(PATHS[0], headers={**headers, "Cache-Control": "no-cache"}) for _ in range(3)]
        db.close()
    finally:
        readers.close()
    assert first.status_code == 200
    assert after[0].status_code in (200, 500)  # the job the dead reader held is an error, not a hang
    assert [r.status_code for r in after[1:]] == [200, 200]
    assert after[-1].json() == first.json()
    assert readers.running == 0


def test_default_processes() -> None:
    assert default_processes("sqlite:///x.db", 2) == 2
    assert default_processes("sqlite:///x.db", 16) == 4
    assert default_processes("sqlite:///x.db", 1) == 0
    assert default_processes("sqlite:///:memory:", 8) == 0
    assert default_processes("sqlite://", 8) == 0
    assert Readers("sqlite://", 3).processes == 0


def test_one_source_alerts_built_once_answer_as_the_general_path(database: tuple[str, str]) -> None:
    """The first page of one address's alerts runs statements built once; the same bytes as the filter and
    keyset page built per request (total, rows, order, next cursor)."""
    from netwarden.store.alerts import AlertFilter
    from netwarden.web.api.alerts import _one_source, alert_dict, alerts_page, find_and_count
    from netwarden.web.deps import json_bytes

    url, _ = database
    db = Database.open(url)
    try:
        compared = with_cursor = 0
        from datetime import datetime, timezone

        from sqlalchemy import text

        from netwarden.records import Alert, Factor, Severity
        from netwarden.store.alerts import save_alert

        when = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
        with db.engine.begin() as conn:  # one source with four alerts, two seen at the same time
            for i, seen in enumerate([when, when, when.replace(hour=9), when.replace(hour=15)]):
                save_alert(conn, Alert(kind="port_scan", subkind="tcp", severity=Severity.LOW, confidence=0.5,
                                       factors=[Factor("count", 0.5, "many")], source="203.0.113.9",
                                       target="10.0.0.1", first_seen=seen, last_seen=seen, count=1, evidence={},
                                       recommendation="", detector="port_scan", signature=f"readers-{i}"))
        with db.engine.connect() as conn:  # the sources with the most alerts, and some with none
            busiest = [r[0] for r in conn.execute(text(
                "SELECT source FROM alerts GROUP BY source ORDER BY count(*) DESC, source LIMIT 6"))]
        for source in ["203.0.113.9", *busiest, "198.18.4.1", "10.0.0.7", "::1"]:
            for limit in (1, 2, 3, 50):
                flt = AlertFilter(source=source)
                assert _one_source(flt) is not None
                found, following, total = find_and_count(db, flt, limit)
                general = json_bytes({"total": total, "alerts": [alert_dict(a) for a in found],
                                      "next_cursor": following})
                assert alerts_page(db, flt, limit, None) == general, (source, limit)
                compared += len(found)
                with_cursor += following is not None
        assert compared > 20 and with_cursor >= 3
        assert _one_source(AlertFilter(source="198.18.0.0/16")) is None
        assert _one_source(AlertFilter(source="192.0.2.2", kind="port_scan")) is None
    finally:
        db.close()


def test_host_answer_is_the_host_data_with_its_place(database: tuple[str, str]) -> None:
    """The host route joins the reader's JSON and where the address is: the same object as the host's data
    (what the host page draws) with its alerts and blocks as JSON, in the same key order."""
    import orjson

    from netwarden.web.api.alerts import alert_dict
    from netwarden.web.api.hosts import host_data

    url, token = database
    settings = make_settings()
    db = Database.open(url)
    try:
        with TestClient(create_app(settings, db)) as client:
            for address in ["192.0.2.2", "198.18.1.1", "10.0.0.7", "2001:db8::1"]:
                for _ in range(2):  # twice at most: the window moves with the clock
                    body = client.get(f"/api/v1/hosts/{address}", headers={"Authorization": f"Bearer {token}"}).content
                    data = host_data(db, settings, address, 7)
                    data["alerts"] = [alert_dict(a) for a in data["alerts"]]
                    data["blocks"] = [b.to_dict() for b in data["blocks"]]
                    expected = orjson.loads(orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS))
                    if _timeless(orjson.loads(body)) == _timeless(expected):
                        break
                assert list(orjson.loads(body)) == list(expected), address  # the keys, in order
                assert _timeless(orjson.loads(body)) == _timeless(expected), address
    finally:
        db.close()


def _slow(db: Database, seconds: float) -> bytes:
    """A job that keeps its reader busy (as the host page of the busiest address does, for seconds)."""
    import time

    time.sleep(seconds)
    return b'{"slow": true}'


def test_answers_do_not_wait_behind_a_stuck_reader(database: tuple[str, str]) -> None:
    """While the only reader is busy with a long answer, the other answers come from the web process after
    STUCK_SECONDS at most, not after the long one."""
    import asyncio
    import time

    from netwarden.web import readers as readers_module
    from netwarden.web.api.events import event_query_of, events_page, EVENT_PARAMS

    url, _ = database
    db = Database.open(url)
    readers = Readers(url, 1).start()
    readers.db = db
    query = event_query_of({**{p.name: p.default for p in EVENT_PARAMS.params}, "address": "192.0.2.2"})

    async def scenario() -> tuple[bytes, float, bytes, float]:
        readers.bind(asyncio.get_running_loop())
        assert await readers.run(_slow, 0.01) == b'{"slow": true}'  # the reader is up
        started = time.monotonic()
        slow = asyncio.ensure_future(readers.run(_slow, readers_module.STUCK_SECONDS + 4))
        await asyncio.sleep(0.05)
        quick = await readers.run(events_page, query)
        quick_took = time.monotonic() - started
        return await slow, time.monotonic() - started, quick, quick_took

    try:
        slow, slow_took, quick, quick_took = asyncio.run(scenario())
    finally:
        readers.close()
        db.close()
    assert slow == b'{"slow": true}' and slow_took >= readers_module.STUCK_SECONDS + 4
    assert quick_took < readers_module.STUCK_SECONDS + 2.5
    assert b'"events":[{' in quick
