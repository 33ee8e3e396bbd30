"""Threat-intelligence feeds (netwarden.enrich.intel), the "intel" detector and `netwarden intel`, on the real
blocklist snapshots in datasets/threat-intel and the Suricata sample whose alerts name CINS poor-reputation IPs."""

from __future__ import annotations

import gzip
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

import netwarden.commands.intel  # noqa: F401  (registers `netwarden intel`)
from netwarden.cli import cli
from netwarden.detect.engine import DetectionEngine
from netwarden.detect.intel import IntelDetector
from netwarden.enrich.intel import EXAMPLE_FEED, IntelIndex, load_feed, shared_index
from netwarden.parse import get_parser
from netwarden.parse.base import ParseContext
from netwarden.records import Event, Severity

T0 = datetime(2026, 8, 22, 10, 0, tzinfo=timezone.utc)
FEEDS = ("firehol_level1.netset", "spamhaus_drop.netset", "dshield.netset", "feodo_badips.ipset", "ipsum.txt.gz")


@pytest.fixture(scope="module")
def feed_paths(datasets: Path) -> list[str]:
    return [str(datasets / "threat-intel" / name) for name in FEEDS]


@pytest.fixture(scope="module")
def index(feed_paths: list[str]) -> IntelIndex:
    return shared_index(feed_paths)  # the same one the detectors below use: built once


@pytest.fixture(scope="module")
def eve(datasets: Path) -> list[Event]:
    parser = get_parser("suricata_eve")(ParseContext())
    with gzip.open(datasets / "suricata-eve" / "test6-malicious.suricata.json.gz", "rt") as fh:
        return [e for e in map(parser.parse_line, fh) if e is not None]


def flow(src: str, dst: str, port: int = 443, *, out: int = 800, back: int = 4000, state: str = "SF",
         minute: float = 0, action: str | None = None) -> Event:
    return Event(timestamp=T0 + timedelta(minutes=minute), source_kind="zeek", src_ip=src, src_port=50000,
                 dst_ip=dst, dst_port=port, transport="tcp", bytes_out=out, bytes_in=back, action=action,
                 extra={"conn_state": state})


# -- feeds ------------------------------------------------------------------------------------------

def test_real_feeds_load_with_the_counts_of_their_provenance(index: IntelIndex) -> None:
    by_name = {s.name: s for s in index.status.values()}
    assert {n: s.entries for n, s in by_name.items()} == {
        "firehol_level1": 4631, "spamhaus_drop": 1599, "dshield": 20, "feodo_badips": 5, "ipsum": 120430}
    assert all(s.errors == 0 and s.problem is None for s in by_name.values())
    assert by_name["dshield"].addresses == 5120 and by_name["dshield"].networks == 20  # "20 subnets, 5120 unique IPs"
    assert by_name["feodo_badips"].networks == 0


def test_ipsum_minimum_count(datasets: Path) -> None:
    # PROVENANCE: counts 3 → 8,863, 4 → 3,941, 5 → 1,095, 6 → 248, 7 → 47, 8 → 14, 9 → 6, 10 → 3
    status, entries = load_feed(datasets / "threat-intel" / "ipsum.txt.gz", min_score=3)
    assert status.entries == 8863 + 3941 + 1095 + 248 + 47 + 14 + 6 + 3
    assert status.skipped == 89657 + 16556
    assert min(e[3].score for e in entries) == 3  # type: ignore[type-var]


def test_lookups_of_listed_and_unlisted_addresses(index: IntelIndex) -> None:
    top = index.lookup("77.90.185.20")  # IPsum count 10, and inside a FireHOL/Spamhaus network
    assert top is not None and top.score == 10 and "ipsum" in top.feeds
    assert "IPsum: on 10 blocklists" in top.describe()
    dshield = index.lookup("45.205.1.1")
    assert dshield is not None and dshield.feeds == ["dshield", "firehol_level1"] and dshield.network == "45.205.1.0/24"
    feodo = index.lookup("27.133.154.218")
    assert feodo is not None and "feodo_badips" in feodo.feeds
    drop = index.lookup("1.10.16.200")  # 1.10.16.0/20 on Spamhaus DROP (and FireHOL level1)
    assert drop is not None and set(drop.feeds) == {"firehol_level1", "spamhaus_drop"} and drop.network == "1.10.16.0/20"
    for clean in ("8.8.8.8", "1.1.1.1", "9.9.9.9", "2606:4700:4700::1111", "not-an-ip", "", "999.1.1.1"):
        assert index.lookup(clean) is None, clean
    assert index.lookup("::ffff:77.90.185.20") is not None  # IPv4-mapped IPv6 is the IPv4 address


def test_private_and_bogon_ranges_listed_by_firehol_are_never_flagged(index: IntelIndex, feed_paths) -> None:
    bogons = ("10.1.2.3", "192.168.1.129", "172.16.5.5", "127.0.0.1", "224.0.0.251", "239.255.255.250",
              "0.1.2.3", "100.64.0.1", "169.254.1.1", "255.255.255.255", "240.0.0.1")
    for address in bogons:
        assert index.lookup(address) is None, address
    assert index.check("10.1.2.3").network == "10.0.0.0/8"  # the list does hold it ...
    assert index.check("224.0.0.251") is not None
    flagging = IntelIndex(feed_paths[:1], flag_private=True)  # ... and it is reported only on request
    assert flagging.lookup("10.1.2.3") is not None


def test_formats_spamhaus_feodo_csv_abuseipdb_ipv6_ranges_and_bad_lines(tmp_path: Path) -> None:
    drop = tmp_path / "drop.txt"
    drop.write_text("; Spamhaus DROP List 2026/08/20\n; Expires: ...\n1.10.16.0/20 ; SBL256894\n"
                    "2.56.192.0/22 ; SBL459831\n")
    feodo = tmp_path / "ipblocklist.csv"
    feodo.write_text('################\n# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)\n#\n'
                     '# "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n'
                     '"2021-01-17 07:44:46","51.178.161.32","4643","online","2021-06-08","Dridex"\n'
                     '"2021-01-17 07:44:46","garbage","4643","online","2021-06-08","Dridex"\n'
                     '# end\n')
    abuse = tmp_path / "abuseipdb.csv"
    abuse.write_text("ipAddress,countryCode,abuseConfidenceScore,lastReportedAt\n"
                     "203.0.113.50,NL,100,2026-08-22T10:00:00+00:00\n198.51.100.7,US,40,2026-08-22T09:00:00+00:00\n")
    mixed = tmp_path / "mixed.netset"
    mixed.write_bytes(b"# a plain list\n203.0.113.1\n2001:db8:bad::/48\n192.0.2.10-192.0.2.20\n"
                      b"192.0.2.300\nhello world\n203.0.113.0/33\n\xff\xfe\x00junk\n198.51.100.9  # a comment\n\n")
    index = IntelIndex([drop, feodo, abuse, mixed], reload_every=0)
    s = {st.name: st for st in index.status.values()}
    assert s["drop"].entries == 2 and s["drop"].errors == 0
    assert index.lookup("1.10.20.1").listings[0].category == "SBL256894"
    assert s["ipblocklist"].entries == 1 and s["ipblocklist"].errors == 1
    assert index.lookup("51.178.161.32").listings[0].category == "Dridex"
    assert s["abuseipdb"].entries == 2 and index.lookup("203.0.113.50").score == 100
    assert s["mixed"].entries == 4 and s["mixed"].errors == 4  # 192.0.2.300, hello world, /33, binary junk
    assert any("192.0.2.300" in x for x in s["mixed"].error_examples)
    assert index.lookup("2001:db8:bad:1::5").network == "2001:db8:bad::/48"
    assert index.lookup("192.0.2.15") is not None and index.lookup("192.0.2.21") is None
    missing = IntelIndex([tmp_path / "missing.netset"])
    assert missing.entries == 0 and "cannot read" in next(iter(missing.status.values())).problem


def test_reload_when_the_file_changes(tmp_path: Path) -> None:
    feed = tmp_path / "mine.netset"
    feed.write_text("203.0.113.1\n")
    index = IntelIndex([feed], reload_every=3600)
    assert index.lookup("203.0.113.1") is not None and index.lookup("203.0.113.2") is None
    feed.write_text("203.0.113.2\n203.0.113.3\n")
    os.utime(feed, (time.time() + 5, time.time() + 5))
    assert index.maybe_reload() == []  # checked at most every reload_every seconds ...
    assert index.reload() == ["mine"]  # ... or on demand
    assert index.lookup("203.0.113.1") is None and index.lookup("203.0.113.2") is not None
    assert index.reload() == []  # unchanged: nothing re-read
    quick = IntelIndex([feed], reload_every=0)
    feed.write_text("203.0.113.9\nnot an address\n")
    os.utime(feed, (time.time() + 10, time.time() + 10))
    assert quick.maybe_reload() == ["mine"] and quick.lookup("203.0.113.9") is not None
    assert quick.errors == 1


def test_cached_lookups_answer_as_uncached_ones(index: IntelIndex) -> None:
    """The lookup cache must never change an answer (its speed is a benchmark's business, not a test's)."""
    import random

    rng = random.Random(7)
    addresses = [f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
                 for _ in range(20_000)]
    addresses += ["27.133.154.218", "45.205.1.1", "2001:db8:bad:1::5"]  # listed entries among the random ones
    uncached = [index._lookup(a) for a in addresses]  # inet_pton + bisect
    hot = addresses[:500] * 3 + addresses
    cached = {a: index.lookup(a) for a in hot}
    assert [cached[a] for a in addresses] == uncached
    assert any(uncached)  # the sample did hit listed networks


# -- the detector -----------------------------------------------------------------------------------

def test_outbound_contact_with_a_listed_address_is_serious(feed_paths) -> None:
    det = IntelDetector({"feeds": feed_paths})
    events = [flow("192.168.1.107", "27.133.154.218", 8080, minute=m) for m in range(3)]  # Feodo C2, answered
    events += [flow("192.168.1.50", "45.205.1.1", 23, out=0, back=0, state="REJ")]  # DShield network, refused
    events += [flow("192.168.1.50", "8.8.8.8", 53), flow("192.168.1.50", "10.0.0.1", 445)]
    findings = {f.source: f for f in det.process(events)}
    assert set(findings) == {"27.133.154.218", "45.205.1.1"}
    c2 = findings["27.133.154.218"]
    assert (c2.kind, c2.subkind, c2.severity, c2.count) == ("intel", "outbound", Severity.CRITICAL, 3)
    assert c2.target == "192.168.1.107" and c2.evidence["ports"] == [8080] and "feodo_badips" in c2.evidence["feeds"]
    details = " | ".join(f.detail for f in c2.factors)
    assert "on feodo_badips" in details and "inside host 192.168.1.107 contacted it on port 8080" in details
    assert "Block 27.133.154.218" in c2.recommendation and "192.168.1.107" in c2.recommendation
    refused = findings["45.205.1.1"]
    assert refused.severity == Severity.MEDIUM and refused.evidence["answered"] == 0
    assert refused.signature == "outbound:dshield+firehol_level1:45.205.1.0/24"


def test_inbound_severity_follows_the_answer(feed_paths) -> None:
    det = IntelDetector({"feeds": feed_paths})
    blocked = flow("45.205.1.1", "192.168.1.129", 22, out=60, back=0, state="S0", action="blocked")
    answered = flow("77.90.185.20", "192.168.1.129", 80)
    private = flow("10.9.9.9", "192.168.1.129", 80)  # listed by firehol_level1 (bogons): not flagged
    ours = flow("192.168.1.129", "192.168.1.7", 80)
    findings = {f.source: f for f in det.process([blocked, answered, private, ours])}
    assert set(findings) == {"45.205.1.1", "77.90.185.20"}
    assert findings["45.205.1.1"].severity == Severity.LOW and findings["45.205.1.1"].subkind == "inbound"
    assert findings["77.90.185.20"].severity == Severity.MEDIUM
    assert any(f.detail == "IPsum: on 10 blocklists" for f in findings["77.90.185.20"].factors)


def test_weak_listings_on_the_benign_access_log_stay_low(feed_paths, datasets: Path) -> None:
    """Apache's 2015 sample log holds ordinary visitors; a handful of their addresses are on IPsum (once) in
    2026. Those weak listings must not become medium/high alerts."""
    parser = get_parser("access_log")(ParseContext())
    events = []
    with gzip.open(datasets / "web-access-logs" / "apache_logs.gz", "rt", errors="replace") as fh:
        for line in fh:
            try:
                event = parser.parse_line(line)
            except Exception:  # noqa: BLE001
                continue
            if event is not None:
                events.append(event)
    findings = IntelDetector({"feeds": feed_paths}).process(events)
    assert findings and {f.subkind for f in findings} == {"inbound"}
    assert all(f.severity == Severity.LOW and f.evidence["feeds"] == ["ipsum"] and f.evidence["score"] < 3
               for f in findings)


def test_default_feed_is_the_shipped_example() -> None:
    assert Path(EXAMPLE_FEED).is_file()
    det = IntelDetector()
    found = det.process([flow("192.168.1.5", "203.0.113.66", 443), flow("192.168.1.5", "198.51.100.200", 443),
                         flow("192.168.1.5", "203.0.113.67", 443), flow("2001:db8:1::5", "2001:db8:bad::1", 443)])
    assert sorted(f.source for f in found) == ["198.51.100.200", "2001:db8:bad::1", "203.0.113.66"]


def test_cins_poor_reputation_sources_on_the_lists(index: IntelIndex, eve: list[Event], feed_paths) -> None:
    cins = {e.src_ip for e in eve if e.extra.get("event_type") == "alert" and "CINS" in (e.message or "")}
    listed = {a for a in cins if index.lookup(a)}
    # The eve sample is from June 2021 and the lists are August 2026 snapshots: a minority still listed
    assert len(cins) == 257 and len(listed) == 38
    engine = DetectionEngine.from_config({"intel": {"feeds": feed_paths}}, only=["intel"])
    started = time.perf_counter()
    engine.process(eve)
    per_event = (time.perf_counter() - started) / len(eve) * 1e6
    print(f"intel detector: {per_event:.1f} µs/event over {len(eve)} EVE events")
    alerts = engine.alerts
    assert {a.subkind for a in alerts} == {"inbound"}  # the sensor's host never called a listed address
    assert listed <= {a.source for a in alerts}
    assert not any(a.source and a.source.startswith("192.168.") for a in alerts)
    assert all(a.severity in (Severity.LOW, Severity.MEDIUM) and a.recommendation and a.factors for a in alerts)


def test_hostile_values_never_raise(feed_paths) -> None:
    det = IntelDetector({"feeds": feed_paths})
    junk = [Event(timestamp=None, source_kind="x", src_ip="\x00\xff" * 500, dst_ip="::::"),
            Event(timestamp=T0, source_kind="x", src_ip="77.90.185.20", dst_ip=None, extra={"conn_state": 5}),
            Event(timestamp=T0, source_kind="x", src_ip="fe80::1%eth0", dst_ip="1.10.16.1", bytes_in=-5)]
    found = det.process(junk)
    assert {f.source for f in found} == {"77.90.185.20", "1.10.16.1"}
    assert det.state() == {} and det.process([]) == []


# -- the command ------------------------------------------------------------------------------------

def test_intel_command(feed_paths, tmp_path: Path) -> None:
    runner = CliRunner()
    args = [a for p in feed_paths for a in ("--feed", p)]
    listed = runner.invoke(cli, ["intel", "list", *args], catch_exceptions=False)
    assert listed.exit_code == 0 and "firehol_level1" in listed.output and "120,430" in listed.output
    small = [a for p in feed_paths if "ipsum" not in p for a in ("--feed", p)]
    checked = runner.invoke(cli, ["intel", "check", "77.90.185.20", "8.8.8.8", "10.1.2.3", *small])
    assert checked.exit_code == 0
    assert "77.90.185.20: on firehol_level1 and spamhaus_drop (77.90.185.0/24)" in checked.output
    assert "8.8.8.8: not listed" in checked.output and "never flagged" in checked.output
    assert runner.invoke(cli, ["intel", "check", "8.8.8.8", *small]).exit_code == 1
    assert runner.invoke(cli, ["intel", "check", "nonsense", *small]).exit_code == 2
    bad = tmp_path / "bad.netset"
    bad.write_text("203.0.113.5\nnope\n")
    loaded = runner.invoke(cli, ["intel", "load", str(bad)])
    assert loaded.exit_code == 0 and "line 2: not an address or network: 'nope'" in loaded.output
    assert runner.invoke(cli, ["intel", "load", str(tmp_path / "missing")]).exit_code == 1
    default = runner.invoke(cli, ["intel", "list"], env={"NETWARDEN_CONFIG": ""})
    assert "example_feed" in default.output
