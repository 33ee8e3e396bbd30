"""DoS detector: synthetic floods built from real benign traffic (the benign access log with one client at
50× its own rate, a SYN flood of 5,000 SYNs in 10 s, a DDoS from many addresses, UDP/ICMP floods), and the
benign log, benign captures, a steady crawler and a port scan staying quiet."""

from __future__ import annotations

import copy
import gzip
import json
import random
import re
import statistics
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from netwarden.collect.pcap import read_events
from netwarden.detect.dos import DenialOfService
from netwarden.detect.engine import DetectionEngine
from netwarden.parse import get_parser
from netwarden.parse.base import ParseContext, ParseError
from netwarden.records import Event, Severity

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def access(datasets) -> list[Event]:  # type: ignore[no-untyped-def]
    parser = get_parser("access_log")(ParseContext(source="t"))
    events = []
    with gzip.open(datasets / "web-access-logs/apache_logs.gz", "rt", errors="replace") as f:
        for line in f:
            try:
                event = parser.parse_line(line.rstrip("\n"))
            except ParseError:
                continue
            if event is not None:
                events.append(event)
    events.sort(key=lambda e: e.timestamp)
    return events


def _run(events: list[Event], batch: int = 1000, **settings) -> DetectionEngine:  # type: ignore[no-untyped-def]
    engine = DetectionEngine([DenialOfService(settings or None)])
    for i in range(0, len(events), batch):
        engine.process(events[i:i + batch])
    return engine


def _syn(second: float, src: str, dst: str = "192.0.2.80", port: int = 80) -> Event:
    return Event(timestamp=T0 + timedelta(seconds=second), source_kind="pcap", src_ip=src, src_port=40000,
                 dst_ip=dst, dst_port=port, transport="tcp", packets_out=1, packets_in=1, bytes_out=60, bytes_in=44,
                 tcp_flags="SYN,ACK", extra={"flags_out": "SYN", "flags_in": "SYN,ACK", "end": "idle"})


def _rand_ip(rng: random.Random) -> str:
    return f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


# -- benign stays quiet ----------------------------------------------------------------------------


def test_benign_access_log_is_quiet(access) -> None:  # type: ignore[no-untyped-def]
    detector = DenialOfService()  # its cost per event: benchmarks/bench_detect.py
    findings = [f for i in range(0, len(access), 5000) for f in detector.process(access[i:i + 5000])]
    assert findings == []


@pytest.mark.parametrize("name", ["chrissanders-packets/http_espn.pcapng", "chrissanders-packets/http_google.pcapng",
                                  "chrissanders-packets/tcp_ports.pcapng", "esnet-curated-pcaps/whois.pcap",
                                  "chrissanders-packets/dns_query_response.pcapng",
                                  # scans are half-open too, but to many ports or hosts: not floods
                                  "chrissanders-packets/synscan.pcapng", "esnet-curated-pcaps/tcp_0_1000_20190821.pcap",
                                  "esnet-curated-pcaps/udp_0_1000_20190821.pcap",
                                  "stratosphere-slips/test7-malicious.pcap"])
def test_benign_and_scan_captures_are_quiet(datasets, name) -> None:  # type: ignore[no-untyped-def]
    events, _ = read_events(datasets / "pcaps" / name)
    assert _run(events).alerts == []


def test_a_steady_crawler_is_the_baseline(access) -> None:  # type: ignore[no-untyped-def]
    """A crawler fetching 15 pages a second for three hours, among the log's ordinary visitors: at most a
    low note at its start, never a medium flood."""
    start = access[0].timestamp
    crawler = [Event(timestamp=start + timedelta(seconds=i / 15), source_kind="access_log", src_ip="66.249.66.1",
                     http_method="GET", url=f"/page/{i}", http_status=200, user_agent="Googlebot/2.1")
               for i in range(15 * 3600 * 3)]
    events = sorted(access + crawler, key=lambda e: e.timestamp)
    engine = _run(events, batch=5000)
    assert all(a.severity == Severity.LOW for a in engine.alerts), [(a.subkind, a.severity) for a in engine.alerts]
    assert all(a.first_seen < start + timedelta(minutes=2) for a in engine.alerts)


# -- floods are found ------------------------------------------------------------------------------


def test_one_client_at_50x_its_own_rate_is_an_http_flood(access) -> None:  # type: ignore[no-untyped-def]
    per_minute = Counter((e.src_ip, int(e.timestamp.timestamp() // 60)) for e in access)
    minutes: dict[str, list[int]] = {}
    for (ip, _), n in per_minute.items():
        minutes.setdefault(ip, []).append(n)
    # the busiest real visitor (seen in several minutes), at 50× its own usual rate
    busiest = max((ip for ip, ns in minutes.items() if len(ns) >= 5), key=lambda ip: statistics.median(minutes[ip]))
    usual = statistics.median(minutes[busiest])
    burst_size = int(50 * usual)
    template = [e for e in access if e.src_ip == busiest]
    middle = access[len(access) // 2].timestamp
    burst = []
    for i in range(burst_size):  # the client's own requests replayed 50× as fast, for one minute
        e = copy.copy(template[i % len(template)])
        e.timestamp = middle + timedelta(seconds=60 * i / burst_size)
        burst.append(e)
    events = sorted(access + burst, key=lambda e: e.timestamp)
    engine = _run(events, batch=2000)
    floods = [a for a in engine.alerts if a.subkind == "http_flood"]
    assert [a.source for a in floods] == [busiest] and all(a.kind == "dos" for a in engine.alerts)
    alert = floods[0]
    assert alert.severity.rank >= Severity.MEDIUM.rank
    assert alert.evidence["requests_this_minute"] >= 300
    details = " ".join(f.detail for f in alert.factors)
    assert "requests in this minute" in details and "usually makes" in details
    assert "Rate-limit or block " + busiest in alert.recommendation


def test_syn_flood_5000_in_10_seconds() -> None:
    rng = random.Random(7)
    background = [_syn(i * 6.0, "198.51.100.20") for i in range(100)]  # a few normal (not half-open) SYNs
    for e in background:
        e.extra = {"flags_out": "SYN,ACK", "flags_in": "SYN,ACK"}
    flood = [_syn(600 + i / 500, _rand_ip(rng)) for i in range(5000)]
    engine = _run(sorted(background + flood, key=lambda e: e.timestamp))
    [alert] = engine.alerts
    assert (alert.kind, alert.subkind, alert.target) == ("dos", "syn_flood", "192.0.2.80")
    assert alert.source is None  # spoofed: nobody to block
    assert alert.severity.rank >= Severity.MEDIUM.rank and alert.evidence["ports"][0][0] == 80
    assert alert.evidence["distinct_sources"] > 1000
    assert "syncookies" in alert.recommendation
    assert alert.signature == "syn_flood:192.0.2.80:80"


def test_syn_flood_from_one_host_out_of_order_is_blamed_on_it() -> None:
    flood = [_syn(i / 300, "203.0.113.9", port=443) for i in range(3000)]
    random.Random(3).shuffle(flood)  # flow records arrive out of order
    engine = _run(flood, batch=100)
    [alert] = engine.alerts
    assert alert.source == "203.0.113.9" and alert.subkind == "syn_flood"


def test_a_vertical_syn_scan_at_flood_rate_is_not_a_flood() -> None:
    scan = [_syn(i / 100, "203.0.113.9", port=1 + i) for i in range(3000)]
    assert _run(scan).alerts == []


def test_ddos_from_many_sources_against_the_learned_baseline(access) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(11)
    bots = [_rand_ip(rng) for _ in range(400)]
    start = access[-1].timestamp + timedelta(minutes=1)
    flood = [Event(timestamp=start + timedelta(seconds=i / 150), source_kind="access_log", src_ip=rng.choice(bots),
                   http_method="GET", url="/", http_status=200, user_agent="Mozilla/5.0")
             for i in range(150 * 120)]  # 9,000 requests a minute for two minutes, ~22/min from each bot
    engine = _run(access + flood, batch=2000)
    ddos = [a for a in engine.alerts if a.subkind == "ddos"]
    assert len(ddos) == 1 and not [a for a in engine.alerts if a.subkind == "http_flood"]
    alert = ddos[0]
    assert alert.source is None and alert.evidence["distinct_sources"] >= 300
    details = " ".join(f.detail for f in alert.factors)
    assert "requests in one minute" in details and "vs a usual" in details
    assert alert.severity == Severity.HIGH  # sustained for two minutes


def test_udp_and_icmp_floods() -> None:
    udp = [Event(timestamp=T0 + timedelta(seconds=i / 10), source_kind="netflow", src_ip="203.0.113.44",
                 dst_ip="192.0.2.53", src_port=1000 + i, dst_port=53, transport="udp", packets_out=500,
                 bytes_out=500 * 512) for i in range(600)]
    icmp = [Event(timestamp=T0 + timedelta(seconds=i / 200), source_kind="pcap", src_ip="203.0.113.45",
                  dst_ip="192.0.2.1", transport="icmp", packets_out=1, extra={"icmp_type": 8})
            for i in range(12_000)]
    engine = _run(sorted(udp + icmp, key=lambda e: e.timestamp))
    kinds = {(a.subkind, a.source, a.target) for a in engine.alerts}
    assert kinds == {("udp_flood", "203.0.113.44", "192.0.2.53"), ("icmp_flood", "203.0.113.45", "192.0.2.1")}


def test_a_busy_service_learns_its_own_rate() -> None:
    """A DNS server that always gets 40,000 packets a minute is not flooded by them once learned; 10× that is."""
    events = []
    for minute in range(60):
        for k in range(40):
            events.append(Event(timestamp=T0 + timedelta(minutes=minute, seconds=k * 1.5), source_kind="netflow",
                                src_ip=f"10.0.{k}.1", dst_ip="192.0.2.53", dst_port=53, transport="udp",
                                packets_out=1000))
    engine = _run(events)
    learned_alerts = [a for a in engine.alerts if a.first_seen > T0 + timedelta(minutes=5)]
    assert learned_alerts == []
    burst = [Event(timestamp=T0 + timedelta(minutes=61, seconds=k * 0.15), source_kind="netflow", src_ip="203.0.113.1",
                   dst_ip="192.0.2.53", dst_port=53, transport="udp", packets_out=1000) for k in range(400)]
    detector = engine.detectors[0]
    findings = detector.process(burst)
    assert findings and findings[0].subkind == "udp_flood"
    assert re.search(r"vs a usual 3\d,\d{3}/min", findings[0].factors[0].detail)  # 40,000, one silent minute ago


# -- state, memory, hostile input -------------------------------------------------------------------


def test_state_survives_a_restart() -> None:
    first = DenialOfService()
    for minute in range(30):
        first.process([Event(timestamp=T0 + timedelta(minutes=minute, seconds=s), source_kind="access_log",
                             src_ip=f"198.51.100.{s}", http_method="GET", url="/", observer="www")
                       for s in range(0, 60, 2)])
    saved = json.loads(json.dumps(first.state()))
    second = DenialOfService()
    second.restore(saved)
    rate = second.rates.peek("http|www")
    assert rate is not None and rate.minutes >= 29 and 25 < rate.mean < 35
    DenialOfService().restore({"rates": [["x", "bad", [1]], 5], "clients": "junk"})


def test_a_restart_in_the_middle_of_a_minute_raises_no_flood() -> None:
    """The flood threshold of the current minute is not saved: restored as 0, the next request of that minute from
    any of its 20+ clients was a "ddos" (seen on an import interrupted and resumed, and after every restart)."""
    def minute(n: int, seconds: range) -> list[Event]:
        return [Event(timestamp=T0 + timedelta(minutes=n, seconds=s), source_kind="access_log",
                      src_ip=f"198.51.100.{s}", http_method="GET", url="/", observer="www") for s in seconds]

    first = DenialOfService()
    for n in range(5):
        assert first.process(minute(n, range(0, 60, 2))) == []
    assert first.process(minute(5, range(0, 40, 2))) == []  # 20 clients so far in this minute
    second = DenialOfService()
    second.restore(json.loads(json.dumps(first.state())))
    assert second.rates.peek("http|www").threshold == first.rates.peek("http|www").threshold  # type: ignore[union-attr]
    assert second.process(minute(5, range(40, 60, 2))) == []
    assert first.process(minute(5, range(40, 60, 2))) == []


def test_spoofed_sources_keep_memory_bounded() -> None:
    detector = DenialOfService({"max_sources": 1000, "max_bucket_sources": 100})
    rng = random.Random(5)
    events = [Event(timestamp=T0 + timedelta(seconds=i / 1000), source_kind="access_log", src_ip=_rand_ip(rng),
                    http_method="GET", url="/", observer="www") for i in range(30_000)]
    findings = detector.process(events)
    assert len(detector.clients) <= 1000
    rate = detector.rates.peek("http|www")
    assert rate is not None and len(rate.sources) <= 100
    assert any(f.subkind == "ddos" for f in findings)
    detector.prune(T0 + timedelta(days=5))
    assert len(detector.clients) == 0 and len(detector.rates) == 0


# -- floods modelled (issue 12) ---------------------------------------------------------------------


def test_an_older_log_imported_after_a_newer_one_is_not_lumped_into_one_minute(access) -> None:  # type: ignore[no-untyped-def]
    end = access[-1].timestamp
    newer = [e for e in access if e.timestamp > end - timedelta(hours=12)]
    older = []  # yesterday's log of the same site: the same traffic six hours earlier, imported afterwards
    for e in newer:
        copy_ = copy.copy(e)
        copy_.timestamp = e.timestamp - timedelta(hours=6)
        older.append(copy_)
    assert len(older) > 1000 and len({e.src_ip for e in older}) > 100
    # a site floor low enough that the old lines lumped into one minute would be a "DDoS"
    engine = _run(newer + older, batch=5000, http_site_floor=500)
    assert engine.alerts == []


def test_syn_floods_from_tools_and_firewall_flood_rules_are_syn_floods_not_scans() -> None:
    from netwarden.detect.port_scan import PortScan
    from netwarden.simulate.ordinary import ToolAttacks
    from netwarden.simulate.outputs import to_events

    tools = ToolAttacks(3)
    for emissions, attacker in (tools.syn_flood(T0.timestamp(), 1), tools.syn_flood(T0.timestamp(), 50),
                                tools.rate_limit_drops(T0.timestamp())):
        engine = DetectionEngine([DenialOfService(), PortScan()])
        events = to_events(emissions)
        for i in range(0, len(events), 500):
            engine.process(events[i:i + 500])
        assert {(a.kind, a.subkind) for a in engine.alerts} == {("dos", "syn_flood")}, attacker
        assert all(a.source in (None, attacker) for a in engine.alerts)


def _halfopen(second: float, src: str, sport: int) -> Event:
    """SYN, SYN-ACK, and the bare RST of a host that never opened the connection (hping3, spoofed hosts)."""
    return Event(timestamp=T0 + timedelta(seconds=second), source_kind="pcap", src_ip=src, src_port=sport,
                 dst_ip="192.0.2.80", dst_port=80, transport="tcp", packets_out=2, packets_in=1, bytes_out=114,
                 bytes_in=58, duration=0.002, tcp_flags="SYN,ACK,RST",
                 extra={"flags_out": "SYN,RST", "flags_in": "SYN,ACK"})


@pytest.mark.parametrize("spoofed", [False, True])
def test_a_captured_syn_flood_to_one_port_is_not_a_stealth_scan(spoofed: bool) -> None:
    from netwarden.detect.port_scan import PortScan

    rng = random.Random(5)
    flood = [_halfopen(i / 300, _rand_ip(rng) if spoofed else "203.0.113.9", 1024 + i) for i in range(5000)]
    engine = DetectionEngine([DenialOfService(), PortScan()])
    for i in range(0, len(flood), 500):
        engine.process(flood[i:i + 500])
    assert [(a.kind, a.subkind) for a in engine.alerts] == [("dos", "syn_flood")]
    # a half-open probe of many ports is still a scan
    scan = [_halfopen(i / 50, "203.0.113.10", 1024) for i in range(40)]
    for i, e in enumerate(scan):
        e.dst_port = 1 + i
    assert [(a.kind, a.subkind) for a in DetectionEngine([PortScan()]).process(scan)] == [("port_scan", "vertical")]
