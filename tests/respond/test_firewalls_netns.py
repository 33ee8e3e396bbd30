"""Real firewalls in network namespaces: the attacker reaches the server, NetWarden blocks it, the same
traffic is dropped, and after expiry it passes again. nftables and iptables+ipset, IPv4 and IPv6."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from respond_netns import ATTACKER4, SERVER4, SERVER6, sh  # type: ignore[import-not-found]

from netwarden.networks import block_target
from netwarden.respond.firewall import create
from netwarden.respond.responder import Responder
from netwarden.respond.settings import RespondSettings
from netwarden.store.blocks import BlockState, get_block

BACKENDS = ["nftables", "iptables"]


def responder_for(db, backend: str, netns: str, **extra) -> Responder:  # type: ignore[no-untyped-def]
    settings = RespondSettings(mode="enforce", backend=backend, netns=netns, sweep_every=0.2, **extra)
    return Responder(db, settings).start()


@pytest.mark.parametrize("backend", BACKENDS)
def test_block_drops_traffic_then_expiry_lets_it_pass(netpair, sqlite_db, backend: str) -> None:

    responder = responder_for(sqlite_db, backend, netpair.server)
    try:
        assert netpair.reaches(SERVER4)
        block = responder.block(ATTACKER4, reason="test", by="test", duration=timedelta(seconds=3))
        assert responder.flush(10)
        assert not netpair.reaches(SERVER4), "the attacker still connects after the block"
        assert ATTACKER4 in responder.firewall.entries()
        # the kernel drops the entry on time; the sweeper records the expiry
        netpair.wait_until(True, SERVER4, limit=8)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with sqlite_db.engine.connect() as conn:
                stored = get_block(conn, block.id)
            if stored.state == BlockState.EXPIRED:
                break
            time.sleep(0.1)
        assert stored.state == BlockState.EXPIRED and stored.ended_by == "expiry"
    finally:
        responder.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_ipv6_blocked_by_prefix_and_manual_unblock(netpair, sqlite_db, backend: str) -> None:

    responder = responder_for(sqlite_db, backend, netpair.server)
    try:
        assert netpair.reaches(SERVER6)
        # another address of the attacker's /64: the whole prefix is blocked, so the attacker is too
        block = responder.block("2001:db8:77::abcd", reason="v6", by="test", permanent=True)
        assert block.network == "2001:db8:77::/64" and block.expires is None
        assert responder.flush(10)
        assert not netpair.reaches(SERVER6)
        assert netpair.reaches(SERVER4), "IPv4 must not be affected by an IPv6 block"
        # an IPv4-mapped IPv6 form is the IPv4 address: it lands in the IPv4 set and drops IPv4 traffic
        responder.block(f"::ffff:{ATTACKER4}", reason="mapped", by="test", duration=timedelta(minutes=5))
        assert responder.flush(10)
        assert not netpair.reaches(SERVER4)
        assert {ATTACKER4, "2001:db8:77::/64"} <= responder.firewall.entries()
        assert [b.id for b in responder.unblock("2001:db8:77::2", by="admin")] == [block.id]
        assert responder.flush(10)
        assert netpair.reaches(SERVER6)
    finally:
        responder.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_restart_reapplies_active_blocks_and_removes_expired_and_strays(netpair, sqlite_db, backend: str) -> None:
    """NetWarden down: the firewall is flushed (reboot) and a block ran out meanwhile; the next start
    puts the active block back, records the expired one, and removes entries nobody decided."""

    first = responder_for(sqlite_db, backend, netpair.server)
    keep = first.block(ATTACKER4, reason="keep", by="test", duration=timedelta(hours=1))
    short = first.block("203.0.113.9", reason="short", by="test", duration=timedelta(seconds=1))
    first.flush(10)
    first.close()
    # a reboot: the ruleset is gone; a stray entry appears (e.g. someone added it by hand)
    if backend == "nftables":
        sh("ip", "netns", "exec", netpair.server, "nft", "flush", "ruleset")
    else:
        sh("ip", "netns", "exec", netpair.server, "iptables", "-F")
        sh("ip", "netns", "exec", netpair.server, "ip6tables", "-F")
        sh("ip", "netns", "exec", netpair.server, "ipset", "destroy")
    assert netpair.reaches(SERVER4)
    fw = create(RespondSettings(mode="enforce", backend=backend), netns=netpair.server)
    fw.setup()
    fw.add(block_target("192.0.2.200"), 3600)
    time.sleep(1.2)  # the short block runs out while NetWarden is down
    second = responder_for(sqlite_db, backend, netpair.server)
    try:
        assert second.flush(10)
        assert not netpair.reaches(SERVER4), "active block not re-applied after the restart"
        assert second.firewall.entries() == {ATTACKER4}
        with sqlite_db.engine.connect() as conn:
            assert get_block(conn, short.id).state == BlockState.EXPIRED
            assert get_block(conn, keep.id).state == BlockState.ACTIVE
    finally:
        second.close()


def test_dry_run_touches_no_firewall(netpair, sqlite_db) -> None:

    responder = Responder(sqlite_db, RespondSettings(mode="dry-run", backend="nftables",
                                                     netns=netpair.server)).start()
    try:
        block = responder.block(ATTACKER4, reason="dry", by="test")
        assert responder.flush(5)
        assert block.mode == "dry-run" and block.state == BlockState.ACTIVE
        assert netpair.reaches(SERVER4)
        assert sh("ip", "netns", "exec", netpair.server, "nft", "list", "ruleset").stdout.strip() == ""
    finally:
        responder.close()


def test_failed_firewall_records_failed_block(sqlite_db) -> None:
    """A firewall that cannot be set up (nft not found) leaves a failed block with the reason."""
    settings = RespondSettings(mode="enforce", backend="nftables")
    settings.nftables.command = "/nonexistent/nft"
    responder = Responder(sqlite_db, settings)
    try:
        block = responder.block("203.0.113.50", reason="x", by="test")
        assert responder.flush(10)
        with sqlite_db.engine.connect() as conn:
            stored = get_block(conn, block.id)
        assert stored.state == BlockState.FAILED
        assert "could not be set up" in stored.detail and "nft is not installed" in stored.detail
        assert not responder.is_blocked("203.0.113.50")
    finally:
        responder.close()
