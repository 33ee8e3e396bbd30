"""The blocking policy on every database engine: thresholds, the never-block list, normalisation,
escalation, the cap, dry-run records, and that a block never feeds itself. The firewall is left out
(dry-run); the real firewalls are tested in test_firewalls_netns.py."""

from __future__ import annotations

import ipaddress
import logging
from datetime import datetime, timedelta, timezone

import pytest

from netwarden.durations import parse_duration
from netwarden.networks import AddressError, block_target, parse_network
from netwarden.pipeline.stages import EvidenceFilter
from netwarden.records import Alert, AlertStatus, Event, Factor, Severity
from netwarden.respond.firewall.base import Firewall
from netwarden.respond.never_block import NeverBlockList
from netwarden.respond.refusals import BlockRefused
from netwarden.respond.responder import Responder
from netwarden.respond.settings import RespondSettings
from netwarden.store import alerts as alert_store
from netwarden.store.blocks import AUTO, BlockState, list_blocks

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


class Recording(Firewall):
    """Remembers what it was asked to drop (for policy tests; the real firewalls are tested in netns)."""

    name = "recording"

    def __init__(self) -> None:
        self.added: list[str] = []

    def add(self, net, seconds, reason=""):  # type: ignore[no-untyped-def]
        self.added.append(str(net))

    def remove(self, net) -> None:  # type: ignore[no-untyped-def]
        pass

    def entries(self) -> set[str]:
        return set()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make_alert(db, source: str, confidence: float, *, kind: str = "brute_force", last_seen: datetime = T0,  # type: ignore[no-untyped-def]
               status: AlertStatus = AlertStatus.NEW) -> Alert:
    alert = Alert(kind=kind, subkind="ssh", severity=Severity.HIGH, confidence=confidence,
                  factors=[Factor("failures", confidence, "many failures")], source=source, target="192.0.2.10",
                  first_seen=last_seen - timedelta(minutes=1), last_seen=last_seen, count=10, evidence={},
                  recommendation="block it", detector=kind, status=status)
    with db.engine.begin() as conn:
        alert_store.save_alert(conn, alert)
    return alert


def responder(db, clock: Clock | None = None, **settings) -> Responder:  # type: ignore[no-untyped-def]
    return Responder(db, RespondSettings(**settings), home=["192.168.0.0/16"], clock=clock or Clock())


def all_blocks(db):  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return list_blocks(conn, limit=1000)


# -- addresses and the never-block list (no database) ----------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("203.0.113.7", "203.0.113.7/32"),
    ("::ffff:203.0.113.7", "203.0.113.7/32"),
    ("::ffff:203.0.113.0/120", "203.0.113.0/24"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::/48", "2001:db8:1::/48"),
    (" 198.51.100.9/24 ", "198.51.100.0/24"),
])
def test_block_target_normalises(text: str, expected: str) -> None:
    assert str(block_target(text, 64)) == expected


@pytest.mark.parametrize("bad", ["", "example.org", "203.0.113.7; rm -rf /", "1.2.3.4/33", "fe80::1%eth0",
                                 "$(reboot)", "::ffff:1.2.3.4/90", "x" * 500])
def test_bad_addresses_are_refused_with_a_message(bad: str) -> None:
    with pytest.raises(AddressError, match="not|prefix|zone"):
        parse_network(bad)


def test_never_block_list_refuses_overlaps_in_every_form() -> None:
    never = NeverBlockList(home=["192.168.0.0/16"], gateways=["203.0.113.1"], dns_servers=["198.51.100.53"],
                           admin_addresses=["2001:db8:aa::10"], extra=["192.0.2.0/28"])
    assert "gateway" in never.refusal(block_target("::ffff:203.0.113.1"))  # type: ignore[operator]
    assert "gateway" in never.refusal(block_target("203.0.113.0/24"))  # type: ignore[operator]
    assert "DNS server" in never.refusal(block_target("198.51.100.53"))  # type: ignore[operator]
    # another host in the admin's /64 is blocked by prefix, which would lock the admin out
    assert "administrator" in never.refusal(block_target("2001:db8:aa::99"))  # type: ignore[operator]
    assert "never-block" in never.refusal(block_target("192.0.2.5"))  # type: ignore[operator]
    assert "home" in never.refusal(block_target("192.168.1.20"))  # type: ignore[operator]
    assert "private" in never.refusal(block_target("10.9.8.7"))  # type: ignore[operator]
    assert "local" in never.refusal(block_target("127.0.0.1"))  # type: ignore[operator]
    assert never.refusal(block_target("203.0.113.2")) is None
    assert never.refusal(block_target("2001:db8:bb::1")) is None
    # private ranges are configurable
    assert NeverBlockList(private=False).refusal(block_target("10.9.8.7")) is None


def test_settings_reject_bad_values() -> None:
    from pydantic import ValidationError

    for bad in ({"mode": "yes"}, {"gateways": ["gw.local"]}, {"durations": ["ten minutes"]},
                {"thresholds": {"dos": 1.5}}, {"durations": []}):
        with pytest.raises(ValidationError):
            RespondSettings(**bad)
    assert parse_duration("10m") == timedelta(minutes=10) and parse_duration("1d") == timedelta(days=1)


# -- decisions on every engine ------------------------------------------------------------------

@pytest.mark.engines
def test_threshold_per_kind_and_the_record(db) -> None:  # type: ignore[no-untyped-def]
    r = responder(db, thresholds={"port_scan": 0.95})
    low = make_alert(db, "203.0.113.10", 0.79)
    r.on_alert(low, True)
    assert all_blocks(db) == []  # waits for a person
    scan = make_alert(db, "203.0.113.11", 0.90, kind="port_scan")
    r.on_alert(scan, True)
    assert all_blocks(db) == []  # below the port_scan threshold
    high = make_alert(db, "203.0.113.12", 0.80)
    r.on_alert(high, True)
    [block] = all_blocks(db)
    assert (block.network, block.alert_id, block.created_by, block.mode, block.backend, block.state) == \
        ("203.0.113.12", high.id, AUTO, "dry-run", "nftables", BlockState.ACTIVE)
    assert block.created == T0 and block.expires == T0 + timedelta(minutes=10) and block.level == 0
    assert f"alert #{high.id}" in block.reason and "0.80" in block.reason
    # a person blocks the waiting alert's source in one action
    manual = r.block(low.source, reason="looked at it", by="alice", alert_id=low.id)  # type: ignore[arg-type]
    assert manual.created_by == "alice" and manual.alert_id == low.id
    assert r.is_blocked("203.0.113.10") and r.is_blocked("::ffff:203.0.113.10")


def test_ipv6_forms_of_protected_ipv4_addresses_are_refused() -> None:
    """NAT64, 6to4 and Teredo addresses reach an IPv4 host through a translator or tunnel: blocking one of
    them blocks the IPv4 host, so the never-block list applies to the IPv4 inside."""
    never = NeverBlockList(gateways=["203.0.113.1"], private=False)
    for form in ("64:ff9b::203.0.113.1", "64:ff9b::cb00:7101", "2002:cb00:7101::1", "2002:cb00:7101:5::/64",
                 "2001:0:4136:e378:8000:63bf:34ff:8efe"):  # Teredo client 203.0.113.1, inverted
        for prefix in (64, 128):
            why = never.refusal(block_target(form, prefix))
            assert why is not None and "gateway" in why and "through" in why, (form, prefix, why)
    # the 6to4 site of another address is fine; a /64 of NAT64 space is every IPv4 address: refused
    assert never.refusal(block_target("2002:cb00:7102::1")) is None
    assert never.refusal(block_target("64:ff9b::cb00:7102", 128)) is None
    assert never.refusal(block_target("64:ff9b::cb00:7102")) is not None
    assert never.refusal(block_target("2001:db8::1")) is None


def test_never_block_checked_for_automatic_and_manual_blocks(sqlite_db, caplog) -> None:  # type: ignore[no-untyped-def]
    db = sqlite_db
    r = responder(db, gateways=["203.0.113.1"], admin_addresses=["2001:db8:aa::10"])
    gw = make_alert(db, "::ffff:203.0.113.1", 0.99)
    with caplog.at_level(logging.WARNING):
        r.on_alert(gw, True)
        r.on_alert(gw, False)  # updates of the same alert are not logged again
    [refused] = all_blocks(db)  # recorded once, not for every update
    assert (refused.state, refused.alert_id, refused.created_by) == (BlockState.REFUSED, gw.id, AUTO)
    assert "gateway" in refused.detail and not r.is_blocked("203.0.113.1")
    assert sum("never blocked" in m for m in caplog.messages) == 1
    for target in ("203.0.113.1", "192.168.4.4", "2001:db8:aa::1234", "10.0.0.1"):
        with pytest.raises(BlockRefused, match="never blocked"):
            r.block(target, reason="by hand", by="alice")
    assert {b.state for b in all_blocks(db)} == {BlockState.REFUSED} and len(all_blocks(db)) == 5


@pytest.mark.engines
def test_escalation_expiry_and_permanent(db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    r = Responder(db, RespondSettings(mode="enforce"), firewall=Recording(), clock=clock)
    lengths = []
    for round_ in range(4):
        alert = make_alert(db, "2001:db8:5:6::1", 0.9, last_seen=clock.now)
        r.on_alert(alert, True)
        [active] = [b for b in all_blocks(db) if b.state == BlockState.ACTIVE]
        assert active.network == "2001:db8:5:6::/64" and active.level == round_
        lengths.append(active.expires - active.created)  # type: ignore[operator]
        clock.now = active.expires + timedelta(seconds=1)  # type: ignore[operator]
        assert [b.id for b in r.sweep()] == [active.id]
        assert not r.is_blocked("2001:db8:5:6::1")
        clock.now += timedelta(seconds=5)
    assert lengths == [timedelta(minutes=10), timedelta(hours=1), timedelta(days=1), timedelta(days=1)]
    assert {b.state for b in all_blocks(db)} == {BlockState.EXPIRED}
    perm = r.block("203.0.113.77", reason="for good", by="alice", permanent=True)
    clock.now += timedelta(days=3650)
    assert r.sweep() == [] and perm.expires is None and r.is_blocked("203.0.113.77")
    [removed] = r.unblock("203.0.113.77", by="bob")
    assert removed.state == BlockState.REMOVED and removed.ended_by == "bob"
    assert not r.is_blocked("203.0.113.77")
    r.close()


@pytest.mark.engines
def test_a_block_does_not_feed_itself(db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    r = Responder(db, RespondSettings(mode="enforce"), firewall=Recording(), clock=clock)
    alert = make_alert(db, "203.0.113.20", 0.9, last_seen=clock.now)
    r.on_alert(alert, True)
    [first] = all_blocks(db)
    # while blocked, the alert keeps growing from refused requests: no new or longer block
    clock.now += timedelta(minutes=5)
    alert.last_seen, alert.count, alert.confidence = clock.now, 500, 1.0
    r.on_alert(alert, False)
    assert [b.id for b in all_blocks(db)] == [first.id] and all_blocks(db)[0].expires == first.expires
    # after expiry, evidence that ends before the block ended is what the block refused: no new block
    clock.now = first.expires + timedelta(minutes=1)  # type: ignore[operator]
    r.sweep()
    alert.last_seen = first.expires - timedelta(seconds=30)  # type: ignore[operator]
    r.on_alert(alert, False)
    assert len(all_blocks(db)) == 1
    # the attacker really comes back: new evidence after the block → a longer block
    alert.last_seen = clock.now
    r.on_alert(alert, False)
    newest = all_blocks(db)[0]
    assert newest.id != first.id and newest.level == 1 and newest.expires - newest.created == timedelta(hours=1)
    r.close()


def test_refused_traffic_of_blocked_sources_is_withheld_from_detection(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    r = Responder(sqlite_db, RespondSettings(mode="enforce"), firewall=Recording())
    r.block("203.0.113.30", reason="x", by="alice")
    seen: list[Event] = []
    stage = EvidenceFilter(r)
    def ev(src: str, **kw) -> Event:  # type: ignore[no-untyped-def]
        return Event(timestamp=T0, source_kind=kw.pop("source_kind", "access_log"), src_ip=src, **kw)

    batch = [ev("203.0.113.30", http_status=403), ev("::ffff:203.0.113.30", http_status=403),
             ev("203.0.113.30", source_kind="firewall", action="DROP"), ev("203.0.113.30", tcp_flags="RST"),
             ev("203.0.113.30", http_status=200),  # got through: still evidence
             ev("203.0.113.31", http_status=403)]  # not blocked: evidence
    seen.extend(stage(batch))
    assert [(e.src_ip, e.http_status) for e in seen] == [("203.0.113.30", 200), ("203.0.113.31", 403)]
    assert stage.withheld == 4 and len(batch) == 6  # the stored batch is untouched
    r.close()
    # a dry-run block refuses nothing: its source's 403s are ordinary evidence
    dry = responder(sqlite_db)
    seen.clear()
    seen.extend(EvidenceFilter(dry)(batch))
    assert len(seen) == 6


@pytest.mark.engines
def test_cap_on_active_automatic_blocks(db, caplog) -> None:  # type: ignore[no-untyped-def]
    r = Responder(db, RespondSettings(mode="enforce", max_auto_blocks=2), firewall=Recording(), clock=Clock())
    alerts = [make_alert(db, f"203.0.113.{40 + i}", 0.95) for i in range(4)]
    for a in alerts:
        r.on_alert(a, True)
    auto = [b for b in all_blocks(db) if b.state == BlockState.ACTIVE]
    assert len(auto) == 2
    assert sum("cap of 2" in m for m in caplog.messages) == 1  # not once per alert
    refused = [b for b in all_blocks(db) if b.state == BlockState.REFUSED]
    assert sorted(b.alert_id for b in refused) == [alerts[2].id, alerts[3].id]  # one record per alert
    assert all("cap of 2" in b.detail for b in refused)
    r.on_alert(alerts[3], False)
    assert len([b for b in all_blocks(db) if b.state == BlockState.REFUSED]) == 2  # not again
    r.block("203.0.113.99", reason="manual is not capped", by="alice")
    assert len([b for b in all_blocks(db) if b.state == BlockState.ACTIVE]) == 3
    # room again: a refused alert that goes on is blocked now (the cap is no lasting refusal)
    r.unblock(auto[0].id, by="alice")  # type: ignore[arg-type]
    r.on_alert(alerts[3], False)
    assert "203.0.113.43" in {b.network for b in all_blocks(db) if b.state == BlockState.ACTIVE}
    r.close()


def test_no_automatic_block_when_disabled_or_closed(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    db = sqlite_db
    r = responder(db, auto_block=False)
    r.on_alert(make_alert(db, "203.0.113.50", 1.0), True)
    r2 = responder(db)
    r2.on_alert(make_alert(db, "203.0.113.51", 1.0, status=AlertStatus.FALSE_POSITIVE), False)
    r2.on_alert(make_alert(db, "not-an-address", 1.0), True)
    assert all_blocks(db) == []


@pytest.mark.engines
def test_manual_block_replaces_narrower_and_refuses_inside_wider(db) -> None:  # type: ignore[no-untyped-def]
    r = responder(db)
    small = r.block("203.0.113.60", reason="one", by="alice")
    wide = r.block("203.0.113.0/24", reason="the whole net", by="alice", duration=timedelta(hours=2))
    states = {b.id: b for b in all_blocks(db)}
    assert states[small.id].state == BlockState.REMOVED and f"#{wide.id}" in states[small.id].detail
    with pytest.raises(BlockRefused, match="already blocked"):
        r.block("203.0.113.61", reason="inside", by="alice")
    assert r.is_blocked("203.0.113.61") and r.covering_block(ipaddress.ip_network("203.0.113.61/32")).id == wide.id


@pytest.mark.engines
def test_restart_sees_active_blocks(db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    r = responder(db, clock)
    r.block("203.0.113.70", reason="x", by="alice", duration=timedelta(minutes=10))
    r.block("203.0.113.71", reason="y", by="alice", duration=timedelta(hours=1))
    clock.now += timedelta(minutes=30)  # NetWarden was down for half an hour
    r2 = responder(db, clock).start(sweep=False)
    assert not r2.is_blocked("203.0.113.70") and r2.is_blocked("203.0.113.71")
    assert {b.network: b.state for b in all_blocks(db)} == {"203.0.113.70": BlockState.EXPIRED,
                                                          "203.0.113.71": BlockState.ACTIVE}
    r2.close()


def test_settings_from_toml_with_clear_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from netwarden.config import ConfigError, load_settings

    good = tmp_path / "good.toml"
    good.write_text('[respond]\nmode = "enforce"\nbackend = "iptables"\nthresholds = { port_scan = 0.95 }\n'
                    'gateways = ["192.0.2.1"]\n[respond.iptables]\nchains = ["INPUT"]\n')
    s = load_settings(good, environ={})
    assert (s.respond.mode, s.respond.backend, s.respond.threshold_for("port_scan"), s.respond.threshold_for("dos"),
            s.respond.iptables.chains) == ("enforce", "iptables", 0.95, 0.80, ["INPUT"])
    env = load_settings(good, environ={"NETWARDEN_RESPOND_MODE": "dry-run", "NETWARDEN_RESPOND_NEVER_BLOCK":
                                       "203.0.113.0/24, 198.51.100.7"})
    assert env.respond.mode == "dry-run" and env.respond.never_block == ["203.0.113.0/24", "198.51.100.7"]
    for text, where in (('[respond]\nmode = "on"\n', "respond.mode"),
                        ('[respond.nftables]\ntable = "x; flush ruleset"\n', "respond.nftables.table"),
                        ('[respond]\ndns_servers = ["dns.example.org"]\n', "respond.dns_servers"),
                        ('[respond]\nbogus = 1\n', "respond.bogus")):
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
            load_settings(bad, environ={})


@pytest.mark.engines
def test_switching_to_enforce_ends_dry_run_decisions(db) -> None:  # type: ignore[no-untyped-def]
    """Dry-run decisions are what would have happened: they do not reach the firewall when enforcement is
    switched on, and do not keep the source from being blocked for real."""
    dry = responder(db)
    dry.on_alert(make_alert(db, "203.0.113.80", 0.9), True)
    assert dry.is_blocked("203.0.113.80")
    fw = Recording()
    live = Responder(db, RespondSettings(mode="enforce"), firewall=fw, clock=Clock()).start(sweep=False)
    try:
        assert live.flush(5) and fw.added == [] and not live.is_blocked("203.0.113.80")
        [ended] = all_blocks(db)
        assert ended.state == BlockState.REMOVED and "enforcement is on" in ended.detail
        live.on_alert(make_alert(db, "203.0.113.80", 0.9, last_seen=T0 + timedelta(minutes=1)), True)
        assert live.flush(5) and fw.added == ["203.0.113.80/32"]
    finally:
        live.close()


def test_blocks_changed_by_another_process_are_seen(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    """``netwarden block remove`` in a shell while the server runs: the server's responder notices."""
    import time

    server = Responder(sqlite_db, RespondSettings(sweep_every=0.1)).start()
    try:
        cli = Responder(sqlite_db, RespondSettings())
        cli.block("203.0.113.90", reason="x", by="alice")
        deadline = time.monotonic() + 5
        while not server.is_blocked("203.0.113.90") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.is_blocked("203.0.113.90")
        cli.unblock("203.0.113.90", by="alice")
        while server.is_blocked("203.0.113.90") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.is_blocked("203.0.113.90")
        cli.close()
    finally:
        server.close()


def test_any_text_is_an_address_or_a_clear_error() -> None:
    """Addresses come from logs and forms: whatever the text, a network or an AddressError, never a crash."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=400, deadline=None)
    @given(st.one_of(st.text(max_size=80), st.ip_addresses().map(str),
                     st.tuples(st.ip_addresses(), st.integers(-5, 140)).map(lambda t: f"{t[0]}/{t[1]}")))
    def check(text: str) -> None:
        try:
            net = block_target(text, 64)
        except AddressError as exc:
            assert str(exc)
            return
        assert net.version == 4 or net.prefixlen <= 64
        assert not (net.version == 6 and net.network_address.ipv4_mapped is not None)

    check()
