"""Safe response (issue 12, section 3) on every engine: wide manual blocks need a confirmation, a shorter
block never replaces a longer one, refusals are records, and dry-run decisions neither escalate nor fill
the cap. Through the responder, the CLI and the API."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.respond.refusals import LongerBlockKept, WideBlockNeedsForce
from netwarden.respond.responder import Responder
from netwarden.respond.settings import RespondSettings
from netwarden.store.blocks import BlockState
from tests.respond.test_blocks_web import App, sqlite_app, web  # noqa: F401 - fixtures
from tests.respond.test_respond_policy import T0, Clock, Recording, all_blocks, make_alert, responder


@pytest.mark.engines
def test_wide_manual_blocks_need_force(db) -> None:  # type: ignore[no-untyped-def]
    r = responder(db)
    for wide in ("203.0.112.0/23", "198.0.0.0/8", "2001:db8::/47", "2001:db8::/32"):
        with pytest.raises(WideBlockNeedsForce, match="wider than a /(24|48)"):
            r.block(wide, reason="typo?", by="alice")
    assert all_blocks(db) == []  # a question, not a decision
    for fine in ("203.0.113.0/24", "2001:db8:1::/48"):
        assert r.block(fine, reason="ok", by="alice").state == BlockState.ACTIVE
    forced = r.block("198.0.0.0/8", reason="the whole provider", by="alice", force=True)
    assert forced.network == "198.0.0.0/8" and r.is_blocked("198.51.100.1")


@pytest.mark.engines
def test_a_shorter_block_never_replaces_a_longer_one(db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    r = responder(db, clock)
    long_ = r.block("203.0.113.5", reason="a day", by="alice", duration=timedelta(days=1))
    with pytest.raises(LongerBlockKept, match=f"block #{long_.id} .* stays") as kept:
        r.block("203.0.113.5", reason="an hour", by="bob", duration=timedelta(hours=1))
    assert [b.id for b in kept.value.kept] == [long_.id]
    # a wider but shorter block would end it too: refused the same way
    with pytest.raises(LongerBlockKept):
        r.block("203.0.113.0/24", reason="net", by="bob", duration=timedelta(hours=2))
    [only] = all_blocks(db)
    assert (only.id, only.state, only.expires) == (long_.id, BlockState.ACTIVE, T0 + timedelta(days=1))
    perm = r.block("203.0.113.6", reason="for good", by="alice", permanent=True)
    with pytest.raises(LongerBlockKept, match="removed by hand"):
        r.block("203.0.113.6", reason="a week", by="bob", duration=timedelta(days=7))
    # a longer block does replace a shorter one, as before
    longer = r.block("203.0.113.5", reason="two days", by="bob", duration=timedelta(days=2))
    states = {b.id: b.state for b in all_blocks(db)}
    assert states == {long_.id: BlockState.REMOVED, perm.id: BlockState.ACTIVE, longer.id: BlockState.ACTIVE}


@pytest.mark.engines
def test_dry_run_decisions_neither_escalate_nor_fill_the_cap(db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    dry = responder(db, clock, max_auto_blocks=2)
    for i in range(4):  # twice the cap, all decided: the cap counts enforced blocks only
        dry.on_alert(make_alert(db, f"203.0.113.{10 + i}", 0.95), True)
    assert sum(b.state == BlockState.ACTIVE for b in all_blocks(db)) == 4
    # the same offender again and again in dry-run: always the first step
    for round_ in range(3):
        clock.now += timedelta(hours=2)
        dry.sweep()
        dry.on_alert(make_alert(db, "203.0.113.10", 0.95, last_seen=clock.now), True)
    levels = [b.level for b in all_blocks(db) if b.network == "203.0.113.10"]
    assert levels == [0, 0, 0, 0]
    # enforced: the cap holds and the history of dry-run decisions did not count
    live = Responder(db, RespondSettings(mode="enforce", max_auto_blocks=2), firewall=Recording(),
                     clock=clock).start(sweep=False)
    try:
        for i in range(3):
            live.on_alert(make_alert(db, f"203.0.113.{20 + i}", 0.95, last_seen=clock.now), True)
        enforced = [b for b in all_blocks(db) if b.mode == "enforce"]
        assert sorted((b.network, str(b.state), b.level) for b in enforced) == [
            ("203.0.113.20", "active", 0), ("203.0.113.21", "active", 0), ("203.0.113.22", "refused", 0)]
        live.on_alert(make_alert(db, "203.0.113.10", 0.95, last_seen=clock.now + timedelta(minutes=1)), True)
        assert not live.is_blocked("203.0.113.10")  # capped, and on record as refused
    finally:
        live.close()


@pytest.mark.engines
def test_history_alerts_are_never_acted_on(db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    r = responder(db, clock)
    old = make_alert(db, "203.0.113.30", 0.99, last_seen=T0 - timedelta(days=365))
    r.on_alert(old, True)
    flagged = make_alert(db, "203.0.113.31", 0.99)  # recent by the clock, but the engine said history
    flagged.history = True
    r.on_alert(flagged, True)
    assert all_blocks(db) == []
    r.on_alert(make_alert(db, "203.0.113.32", 0.99, last_seen=T0 - timedelta(minutes=5)), True)
    assert [b.network for b in all_blocks(db)] == ["203.0.113.32"]


def test_refusals_are_records_in_the_cli(tmp_path: Path) -> None:
    url, config = f"sqlite:///{tmp_path / 'nw.db'}", tmp_path / "nw.toml"
    config.write_text('[respond]\ngateways = ["203.0.113.1"]\n')

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, ["--config", str(config), "--db", url, "block", *args], catch_exceptions=False)

    wide = run("add", "198.51.0.0/16")
    assert wide.exit_code == 1 and "65,536 addresses" in wide.output and "--force" in wide.output
    assert run("add", "198.51.0.0/16", "--force", "--for", "1h").exit_code == 0
    assert run("add", "203.0.113.9", "--for", "1d").exit_code == 0
    kept = run("add", "203.0.113.9", "--for", "1h")
    assert kept.exit_code == 0 and "stays" in kept.output and "lasts longer" in kept.output
    refused = run("add", "203.0.113.1")
    assert refused.exit_code == 1 and "never blocked" in refused.output
    listed = run("list", "--refused")
    assert "203.0.113.1" in listed.output and "refused" in listed.output and "gateway" in listed.output
    rows = [json.loads(x) for x in run("list", "--refused", "--json").output.splitlines()]
    assert [(r["network"], r["state"]) for r in rows] == [("203.0.113.1", "refused")]
    assert "203.0.113.1" not in run("list").output  # not among the active blocks
    active = [json.loads(x) for x in run("list", "--json").output.splitlines()]
    assert sorted(r["network"] for r in active) == ["198.51.0.0/16", "203.0.113.9"]


def test_api_force_kept_and_refused(sqlite_app: App) -> None:  # type: ignore[no-redef]
    admin = sqlite_app.client("admin")
    wide = admin.post("/api/v1/blocks", json={"address": "198.51.0.0/16"})
    assert wide.status_code == 409 and '\\"force\\": true' in wide.text
    assert admin.post("/api/v1/blocks", json={"address": "198.51.0.0/16", "force": True}).status_code == 201
    first = admin.post("/api/v1/blocks", json={"address": "203.0.113.9", "duration": "1d"}).json()
    kept = admin.post("/api/v1/blocks", json={"address": "203.0.113.9", "duration": "1h"})
    assert kept.status_code == 200 and kept.json()["kept"] is True and kept.json()["id"] == first["id"]
    assert "stays" in kept.json()["message"]
    assert admin.post("/api/v1/blocks", json={"address": "203.0.113.1"}).status_code == 409
    refused = admin.get("/api/v1/blocks", params={"state": "refused"}).json()["blocks"]
    assert [(b["network"], b["created_by"]) for b in refused] == [("203.0.113.1", "admin")]
    assert "gateway" in refused[0]["detail"]
