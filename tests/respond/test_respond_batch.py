"""The batched block decisions (``Responder.on_alerts``) store exactly what the per-alert path (``on_alert`` for
each) stores, on every engine: the same alerts, in the same batches, against the same blocks already there.

The scenario mixes every branch: new sources, the same source twice in a batch, an IPv6 /64 reached from two
addresses, the never-block list, below threshold, history, a wider block the responder does not know of (decided
by another process), a narrower block that is replaced (stored before, or decided in the same batch), escalation after an earlier enforced block, evidence that
predates the last block, and the cap of automatic blocks (enforce mode) with refusals recorded once per alert.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import delete

from netwarden.store.blocks import AUTO, list_blocks
from netwarden.store.schema_respond import blocks
from test_respond_policy import T0, Clock, Recording, make_alert  # type: ignore[import-not-found]

from netwarden.respond.responder import Responder
from netwarden.respond.settings import RespondSettings


def _settings() -> RespondSettings:
    return RespondSettings(mode="enforce", max_auto_blocks=9, ipv6_prefix=64)


def _alerts(db):  # type: ignore[no-untyped-def]
    sources = ["203.0.113.1", "203.0.113.2", "203.0.113.1", "2001:db8:7::1", "2001:db8:7::2", "192.168.4.4",
               "198.51.100.7", "198.51.101.0/30", "203.0.113.50", "203.0.113.60", "198.51.102.9",
               "198.51.103.1", "198.51.103.0/30"]  # a block of this batch replaced within it
    sources += [f"203.0.114.{n}" for n in range(1, 13)]  # past the cap of 9
    made = []
    for n, source in enumerate(sources):
        confidence = 0.2 if n == 1 else 0.95
        made.append(make_alert(db, source, confidence, last_seen=T0 - timedelta(seconds=len(sources) - n)))
    made.append(made[-1])  # the same alert told again: its cap refusal is recorded once
    return made


def _setup(db, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    """Blocks other processes decided: a wider block, a narrower one, an earlier enforced block, a fresh end."""
    with db.engine.begin() as conn:
        conn.execute(delete(blocks))
    other = Responder(db, _settings(), firewall=Recording(), clock=clock)
    clock.now = T0 - timedelta(hours=2)
    other.block("203.0.113.50", reason="earlier", by="admin")  # escalation: level 1
    other.unblock("203.0.113.50", by="admin")
    clock.now = T0 - timedelta(seconds=30)
    other.block("203.0.113.60", reason="earlier", by="admin")  # ends after the alert's evidence
    clock.now = T0
    other.unblock("203.0.113.60", by="admin")
    other.block("198.51.100.0/24", reason="by hand", by="admin")  # wider: covers 198.51.100.7
    other.block("198.51.101.1", reason="by hand", by="admin")  # narrower: replaced by 198.51.101.0/30
    other.close()


def _run(db, batched: bool) -> list[tuple]:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.engine.begin() as conn:
        conn.execute(delete(blocks))
    responder = Responder(db, _settings(), firewall=Recording(), clock=clock)  # knows none of the blocks below
    _setup(db, clock)
    responder.block("198.51.102.0/24", reason="by hand", by="admin")  # one it knows: covers 198.51.102.9
    alerts = _alerts(db)
    for start in range(0, len(alerts), 8):
        clock.now = T0 + timedelta(seconds=start)
        batch = alerts[start:start + 8]
        if batched:
            responder.on_alerts(batch)
        else:
            for alert in batch:
                responder.on_alert(alert, True)
    responder.flush()
    responder.close()
    with db.engine.connect() as conn:
        stored = sorted(list_blocks(conn, limit=1000), key=lambda b: b.id)  # type: ignore[arg-type, return-value]
    ids = {b.id: n for n, b in enumerate(stored)}
    rows = []
    for b in stored:  # block ids relative to the run; alert ids differ per run, their order does not
        detail = re.sub(r"#(\d+)", lambda m: f"#{ids.get(int(m.group(1)), '?')}", b.detail)
        rows.append((ids[b.id], b.network, re.sub(r"#\d+", "#", b.reason), b.alert_id is not None, b.mode,
                     b.created_by, b.created, b.expires, b.level, str(b.state), b.ended, b.ended_by, detail))
    return rows


def test_batched_decisions_store_what_one_by_one_does(db) -> None:  # type: ignore[no-untyped-def]
    one_by_one = _run(db, batched=False)
    batched = _run(db, batched=True)
    assert batched == one_by_one
    # and the scenario reached each branch (fixed expectations, independent of either path)
    auto = [r for r in one_by_one if r[5] == AUTO]
    states = [(r[1], r[9]) for r in auto]
    assert ("192.168.4.4", "refused") in states  # never-block list
    assert ("203.0.113.2", "active") not in states  # below threshold
    assert [r[1] for r in auto].count("203.0.113.1") == 1  # the repeat in the batch is already blocked
    assert [r[1] for r in auto].count("2001:db8:7::/64") == 1
    assert "198.51.100.7" not in [r[1] for r in auto]  # under a wider block
    assert "198.51.102.9" not in [r[1] for r in auto]  # under a wider block the responder made
    assert "203.0.113.60" not in [r[1] for r in auto]  # evidence ends before the last block did
    assert [r[8] for r in auto if r[1] == "203.0.113.50"] == [1]  # escalated
    assert any(r[1] == "198.51.101.1" and r[9] == "removed" and "replaced by" in r[12] for r in one_by_one)
    active = [r for r in auto if r[9] == "active"]
    capped = [r for r in auto if r[9] == "refused" and "cap" in r[12]]
    assert any(r[1] == "198.51.103.1" and r[9] == "removed" and "replaced by" in r[12] for r in one_by_one)
    assert len(active) == 9 and len(capped) == 8  # 203.0.114.5-12 past the cap of 9, each recorded once


def test_batched_decisions_read_in_chunks(db, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    """The prefetch reads the networks CHUNK at a time with one prepared statement (the last chunk padded):
    with chunks of 3, the batch of 8 spans three of them, and the stored blocks are still those of one by one."""
    from netwarden.respond import batch

    one_by_one = _run(db, batched=False)
    monkeypatch.setattr(batch, "CHUNK", 3)
    batch._statements.cache_clear()
    try:
        assert _run(db, batched=True) == one_by_one
        assert "deciding alert by alert" not in caplog.text  # decided in batches, not by the fallback
    finally:
        batch._statements.cache_clear()
