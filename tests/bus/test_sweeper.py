"""One responder sweeps expired blocks for all the processes on the bus: the leader (netwarden.bus.leader).
Real Redis, real PostgreSQL, the command firewall backend recording each call: an expired block is taken
out of the firewall once, announced once, by one process; when that process leaves, another sweeps."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from netwarden.bus.leader import Leader
from netwarden.bus.redis_bus import RedisBus
from netwarden.bus.worker import Worker
from netwarden.config import Settings
from netwarden.respond.responder import Responder
from netwarden.respond.settings import RespondSettings
from netwarden.store.blocks import BlockState, get_block
from netwarden.store.database import Database
from tests.waiting import wait_for

RECORDER = "import json, sys; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"


def recording(log: Path, **fields) -> RespondSettings:  # type: ignore[no-untyped-def]
    settings = RespondSettings(mode="enforce", backend="command", **fields)
    settings.command.add = [sys.executable, "-c", RECORDER, str(log), "add", "{address}"]
    settings.command.remove = [sys.executable, "-c", RECORDER, str(log), "del", "{address}"]
    return settings


def removals(log: Path) -> Counter:  # type: ignore[type-arg]
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return Counter(address for what, address in calls if what == "del")


def test_only_the_leader_sweeps_and_another_takes_over(tmp_path: Path, bus_settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    now = [datetime.now(timezone.utc)]
    clock = lambda: now[0]  # noqa: E731
    log = tmp_path / "firewall.jsonl"
    db = Database.open(pg_url)
    bus = RedisBus(bus_settings)
    gates = {name: Leader(bus, "sweeper", name, 30) for name in ("a", "b")}
    responders = {}
    for name in ("a", "b"):  # a starts first: its start-up sweep asks first and makes it the leader
        responders[name] = Responder(db, recording(log), clock=clock, sweep_gate=gates[name]).start(sweep=False)
    a, b = responders["a"], responders["b"]
    try:
        assert bus.redis.get(gates["a"].key) == b"a"
        first = a.block("198.51.100.7", reason="scan", by="alice", duration=timedelta(minutes=1))
        second = a.block("198.51.100.8", reason="scan", by="alice", duration=timedelta(minutes=2))
        now[0] += timedelta(seconds=61)
        assert b.sweep_if_mine() == []  # due, but b does not lead: it leaves it to a
        with db.engine.connect() as conn:
            assert get_block(conn, first.id).state == BlockState.ACTIVE  # type: ignore[arg-type,union-attr]
        assert [x.id for x in a.sweep_if_mine()] == [first.id]
        assert a.sweep_if_mine() == [] and b.sweep_if_mine() == []
        a.close()
        gates["a"].close()  # a leaves: b leads from its next question on
        now[0] += timedelta(seconds=60)
        assert [x.id for x in b.sweep_if_mine()] == [second.id]
        assert b.flush(10)
        assert removals(log) == Counter({"198.51.100.7/32": 1, "198.51.100.8/32": 1})
    finally:
        for r in responders.values():
            r.close()
        bus.close()
        db.close()


def test_two_workers_expire_each_block_once(tmp_path: Path, bus_settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    """Both workers' sweepers run every 0.2 s; five blocks expire at different moments: each leaves the
    firewall once and is announced once, all by the one leading worker."""
    log = tmp_path / "firewall.jsonl"
    settings = Settings()
    settings.database.url = pg_url
    settings.bus = bus_settings
    settings.respond = recording(log, sweep_every=0.2)
    bus = RedisBus(bus_settings)
    workers = [Worker(settings, Database.open(pg_url), RedisBus(bus_settings), name=f"sweep-w{i}") for i in (1, 2)]
    expired: list[tuple[str, int]] = []
    for w in workers:
        w.pipeline.response.responder.listeners.append(  # type: ignore[union-attr]
            lambda block, what, name=w.name: expired.append((name, block.id)) if what == "expired" else None)
    try:
        maker = workers[0].pipeline.response.responder  # type: ignore[union-attr]
        blocks = [maker.block(f"198.51.100.{20 + i}", reason="scan", by="alice",
                              duration=timedelta(seconds=1 + 0.4 * i)) for i in range(5)]
        wait_for(lambda: len(expired) >= 5, 60, "five blocks expired")
        time.sleep(1.0)  # a second sweep of any of them would show now
        assert sorted(block_id for _, block_id in expired) == sorted(b.id for b in blocks)
        leaders = {name for name, _ in expired}
        assert len(leaders) == 1 and bus.redis.get(f"{bus.prefix}:leader:sweeper").decode() in leaders
        for w in workers:
            assert w.pipeline.response.responder.flush(10)  # type: ignore[union-attr]
        assert removals(log) == Counter({f"198.51.100.{20 + i}/32": 1 for i in range(5)})
        live = [orjson.loads(f[b"data"]) for _, f in bus.redis.xrange(f"{bus.prefix}:live")
                if f[b"topic"] == b"block"]
        assert Counter(m["id"] for m in live if m["what"] == "expired") == Counter(b.id for b in blocks)

        # the leader leaves (SIGTERM: it closes); the other worker sweeps what expires next
        leader = next(w for w in workers if w.name in leaders)
        other = next(w for w in workers if w is not leader)
        leader.close()
        workers.remove(leader)
        late = other.pipeline.response.responder.block(  # type: ignore[union-attr]
            "198.51.100.40", reason="scan", by="alice", duration=timedelta(seconds=1))
        wait_for(lambda: (other.name, late.id) in expired, 30, "the other worker to expire the late block")
        assert other.pipeline.response.responder.flush(10)  # type: ignore[union-attr]
        assert removals(log)["198.51.100.40/32"] == 1 and len(expired) == 6
    finally:
        for w in workers:
            w.close()
        bus.close()
