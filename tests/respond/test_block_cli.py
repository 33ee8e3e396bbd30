"""``netwarden block add|remove|list|sync`` as an administrator uses it (dry-run, and enforce in a netns)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from respond_netns import ATTACKER4, SERVER4, sh  # type: ignore[import-not-found]

from netwarden.cli import cli
from netwarden.records import Alert, Factor, Severity
from netwarden.store import alerts as alert_store
from netwarden.store.database import Database


def run(*args: str, db: str, config: Path | None = None):  # type: ignore[no-untyped-def]
    pre = ["--config", str(config)] if config else []
    return CliRunner().invoke(cli, [*pre, "--db", db, *args], catch_exceptions=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "netwarden.toml"
    path.write_text('[respond]\ngateways = ["203.0.113.1"]\n')
    return path


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nw.db'}"


def stored_alert(url: str, source: str, confidence: float) -> int:
    db = Database.open(url)
    now = datetime.now(timezone.utc)
    alert = Alert(kind="web_attack", subkind="sqli", severity=Severity.MEDIUM, confidence=confidence,
                  factors=[Factor("signature", confidence, "union select")], source=source, target="web01",
                  first_seen=now, last_seen=now, count=2, evidence={}, recommendation="", detector="web_attack")
    with db.engine.begin() as conn:
        alert_id = alert_store.save_alert(conn, alert)
    db.close()
    return alert_id


def test_add_list_remove_in_dry_run(url: str, config: Path) -> None:
    added = run("block", "add", "203.0.113.7", "--for", "1h", "--reason", "scanner \x1b[2J", db=url, config=config)
    assert added.exit_code == 0, added.output
    assert "block #1: 203.0.113.7 blocked until" in added.output and "dry-run" in added.output
    alert_id = stored_alert(url, "2001:db8:4:5::9", 0.6)
    from_alert = run("block", "add", "--alert", str(alert_id), "--permanent", db=url, config=config)
    assert from_alert.exit_code == 0 and "2001:db8:4:5::/64 blocked until removed by hand" in from_alert.output
    listed = run("block", "list", db=url, config=config)
    assert "203.0.113.7" in listed.output and "2001:db8:4:5::/64" in listed.output and "permanent" in listed.output
    assert "\x1b" not in listed.output and "\\x1b[2J" in listed.output
    rows = [json.loads(line) for line in run("block", "list", "--json", db=url, config=config).output.splitlines()]
    by_net = {r["network"]: r for r in rows}
    assert by_net["2001:db8:4:5::/64"]["alert_id"] == alert_id
    assert f"web_attack alert #{alert_id}" in by_net["2001:db8:4:5::/64"]["reason"]
    assert by_net["203.0.113.7"]["created_by"].startswith("cli") and by_net["203.0.113.7"]["state"] == "active"
    removed = run("block", "remove", "1", db=url, config=config)
    assert removed.exit_code == 0 and "block #1: 203.0.113.7 unblocked" in removed.output
    active = run("block", "list", "--json", db=url, config=config).output.splitlines()
    assert len(active) == 1
    everything = [json.loads(x) for x in run("block", "list", "--all", "--json", db=url, config=config).output.splitlines()]
    assert {r["state"] for r in everything} == {"active", "removed"}


@pytest.mark.parametrize("args, message", [
    (["add", "203.0.113.1"], "never blocked: overlaps 203.0.113.1/32 (gateway)"),
    (["add", "::ffff:192.168.1.1"], "never blocked"),
    (["add", "not-an-ip; reboot"], "is not an IP address"),
    (["add", "--alert", "424242"], "no alert with id 424242"),
    (["remove", "198.51.100.99"], "no active block matches"),
])
def test_refusals_are_one_line_errors(url: str, config: Path, args: list[str], message: str) -> None:
    result = run("block", *args, db=url, config=config)
    assert result.exit_code == 1 and message in result.output, result.output


def test_usage_errors(url: str, config: Path) -> None:
    assert run("block", "add", db=url, config=config).exit_code == 2
    assert run("block", "add", "203.0.113.5", "--for", "soon", db=url, config=config).exit_code == 2
    assert run("block", "add", "203.0.113.5", "--for", "1h", "--permanent", db=url, config=config).exit_code == 2


def test_enforce_blocks_unblocks_and_syncs_in_a_namespace(netpair, url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "enforce.toml"
    config.write_text(f'[respond]\nmode = "enforce"\nnetns = "{netpair.server}"\n')
    added = run("block", "add", ATTACKER4, "--for", "10m", db=url, config=config)
    assert added.exit_code == 0 and "(nftables)" in added.output and "dry-run" not in added.output
    assert not netpair.reaches(SERVER4)
    sh("ip", "netns", "exec", netpair.server, "nft", "flush", "ruleset")  # e.g. a reboot
    assert netpair.reaches(SERVER4)
    synced = run("block", "sync", db=url, config=config)
    assert synced.exit_code == 0 and "1 active block" in synced.output
    assert not netpair.reaches(SERVER4)
    assert run("block", "remove", ATTACKER4, db=url, config=config).exit_code == 0
    assert netpair.reaches(SERVER4)
