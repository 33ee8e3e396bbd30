"""port_scan on real captures, Zeek, Argus, Suricata and firewall logs, benign traffic, and edge cases."""

from __future__ import annotations

import gzip
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.collect.pcap import read_events
from netwarden.detect.engine import DetectionEngine
from netwarden.detect.port_scan import PortScan
from netwarden.parse import ParseContext, ParseError, get_parser
from netwarden.records import Event, Severity

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def parse(fmt: str, path: Path) -> list[Event]:
    parser = get_parser(fmt)(ParseContext(reference_time=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    out = []
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", errors="replace") as f:
        for line in f:
            try:
                e = parser.parse_line(line.rstrip("\n"))
            except ParseError:
                continue
            if e is not None:
                out.append(e)
    return out


def run(events: list[Event], batch: int = 500, **settings) -> list:
    engine = DetectionEngine([PortScan(settings or None)])
    for i in range(0, len(events), batch):
        engine.process(events[i:i + batch])
    return engine.alerts


def flow(src: str, dst: str, port: int | None, sec: float, *, state: str = "S0", transport: str = "tcp",
         history: str = "S", out: int = 0, inn: int = 0, pkts_in: int = 0) -> Event:
    return Event(timestamp=T0 + timedelta(seconds=sec), source_kind="zeek", src_ip=src, src_port=40000,
                 dst_ip=dst, dst_port=port, transport=transport, bytes_out=out, bytes_in=inn, packets_out=1,
                 packets_in=pkts_in, extra={"conn_state": state, "history": history})


@pytest.mark.parametrize("name, source, subkind, target", [
    ("chrissanders-packets/synscan.pcapng", "172.16.0.8", "vertical", "64.13.134.52"),
    ("esnet-curated-pcaps/tcp_0_1000_20190821.pcap", "172.31.15.102", "vertical", "198.124.152.15"),
    ("esnet-curated-pcaps/udp_0_1000_20190821.pcap", "172.31.15.102", "vertical", "198.124.152.15"),
    ("stratosphere-slips/test7-malicious.pcap", "192.168.2.16", "horizontal", "(several)"),
    ("stratosphere-slips/test12-icmp-portscan.pcap", "192.168.1.109", "sweep", "(several)"),
    ("stratosphere-slips/test8-malicious.pcap", "192.168.1.247", "sweep", "(several)"),
    ("chrissanders-packets/activeosfingerprinting.pcapng", "172.16.16.128", "stealth", "172.16.16.150"),
    ("esnet-curated-pcaps/nmap_80_vanilla.pcap", "10.87.1.10", "stealth", "130.211.223.103"),
    ("esnet-curated-pcaps/nmap_80_all.pcap", "10.87.1.10", "stealth", "130.211.223.103"),
])
def test_scans_in_captures(datasets, name, source, subkind, target) -> None:
    events, _ = read_events(datasets / "pcaps" / name)
    alerts = run(events)
    assert [(a.source, a.subkind) for a in alerts] == [(source, subkind)]
    a = alerts[0]
    assert a.target == target and a.recommendation and a.signature and a.factors
    assert all(f.detail for f in a.factors)


def test_synscan_alert_is_explained(datasets) -> None:
    events, _ = read_events(datasets / "pcaps/chrissanders-packets/synscan.pcapng")
    [a] = run(events)
    assert a.count > 900 and a.confidence > 0.9
    assert a.evidence["distinct_ports"] >= 990 and a.evidence["failed"] >= 990
    assert len(a.evidence["ports"]) <= 20
    first = PortScan().process(events)[0]  # one batch: one finding, its sample sorted and bounded
    assert first.evidence["ports"] == sorted(first.evidence["ports"])[:20] == first.evidence["ports"][:20]
    assert first.evidence["ports"][:3] == [1, 3, 4]
    assert a.evidence["rate_per_min"] > 600 and a.evidence["window_s"] < 60
    assert any("ports of 64.13.134.52" in f.detail for f in a.factors)
    assert "172.16.0.8 is one of your own hosts" in a.recommendation  # an inside scanner: isolate it
    assert a.signature == "vertical:tcp:64.13.134.52"


def test_os_fingerprint_names_the_flags(datasets) -> None:
    events, _ = read_events(datasets / "pcaps/chrissanders-packets/activeosfingerprinting.pcapng")
    [a] = run(events)
    assert "XMAS" in a.evidence["probe_types"]
    stealth = next(f for f in a.factors if f.name == "stealth")
    assert "no operating system sends" in stealth.detail and stealth.weight >= 0.7


@pytest.mark.parametrize("name", ["chrissanders-packets/http_espn.pcapng", "chrissanders-packets/tcp_ports.pcapng",
                                  "chrissanders-packets/http_google.pcapng", "esnet-curated-pcaps/whois.pcap",
                                  "chrissanders-packets/dns_query_response.pcapng",
                                  "chrissanders-packets/arppoison.pcapng",
                                  "chrissanders-packets/http_dvwa_sqlinjection.pcapng"])
def test_benign_captures_stay_quiet(datasets, name) -> None:
    events, _ = read_events(datasets / "pcaps" / name)
    assert run(events) == []


def test_zeek_scans_and_mixed_traffic(datasets) -> None:
    z = datasets / "zeek-conn-logs"
    [v] = run(parse("zeek_conn", z / "port-scans_vertical_conn.log"))
    assert (v.source, v.subkind, v.target) == ("192.168.1.9", "vertical", "45.33.32.156")
    assert v.evidence["distinct_ports"] >= 40
    [h] = run(parse("zeek_conn", z / "port-scans_horizontal_conn.log"))
    assert (h.source, h.subkind) == ("10.0.2.112", "horizontal") and h.evidence["ports"] == [80]
    assert h.evidence["distinct_hosts"] == 10  # the 15 web servers it reached are not counted
    # test10 holds a synthetic scan of 1337 and a ping sweep; its ordinary traffic must stay quiet
    got = {(a.source, a.subkind) for a in run(parse("zeek_conn", z / "test10-mixed_conn.log"))}
    assert got == {("192.0.2.10", "horizontal"), ("192.0.2.33", "sweep")}
    assert run(parse("zeek_conn", z / "test9-mixed_conn.log")) == []
    assert run(parse("zeek_conn", z / "test18-ctu-sme-11_conn.log.labeled")) == []


def test_argus_scans(datasets) -> None:
    a = datasets / "argus-flows"
    got = {(x.source, x.subkind) for x in run(parse("argus_binetflow", a / "test11-portscan.binetflow"))}
    assert got == {("10.8.0.69", "vertical"), ("10.8.0.69", "sweep")}
    [t4] = run(parse("argus_binetflow", a / "test4-malicious.binetflow"))
    assert t4.source == "192.168.2.12" and {23, 81} <= set(t4.evidence["ports"])
    assert t4.severity == Severity.HIGH  # an inside host scanning the internet widely: a worm
    assert run(parse("argus_binetflow", a / "test5-mixed.binetflow")) == []


def test_firewall_log_scan() -> None:
    alerts = run(parse("syslog", EXAMPLES / "firewall.log"))
    [a] = alerts
    assert (a.source, a.subkind, a.target) == ("185.220.101.7", "vertical", "192.0.2.10")
    assert a.evidence["blocked"] == a.evidence["failed"] >= 15
    assert "block 185.220.101.7" in a.recommendation.lower() and "dropped by the firewall" in a.recommendation


def test_suricata_inbound_scanners_not_ssdp_replies(datasets) -> None:
    alerts = run(parse("suricata_eve", datasets / "suricata-eve/test6-malicious.suricata.json.gz"), batch=1000)
    sources = {a.source for a in alerts}
    assert "193.46.255.92" in sources
    assert "192.168.1.132" not in sources  # SSDP answers from port 1900 to the querier's ephemeral ports
    assert all(a.target == "192.168.1.129" for a in alerts)


def test_browser_and_resolver_are_not_scans() -> None:
    events = []
    for i in range(40):  # 40 connections to one server's 443
        events.append(flow("10.1.1.5", "198.51.100.7", 443, i, state="SF", history="ShADadfF", out=500, inn=9000))
    for i in range(300):  # hundreds of CDNs, a few failing
        ok = i % 25 != 0
        events.append(flow("10.1.1.5", f"203.0.{i // 250}.{i % 250 + 1}", 443, 50 + i,
                           state="SF" if ok else "S0", history="ShADadfF" if ok else "S", out=500 if ok else 0,
                           inn=9000 if ok else 0))
    for i in range(400):  # a resolver: many servers on 53, some never answer
        ok = i % 10 != 0
        events.append(flow("10.1.1.53", f"192.0.{2 + i // 250}.{i % 250 + 1}", 53, 100 + i, transport="udp",
                           state="SF" if ok else "S0", history="Dd" if ok else "D", out=40, inn=90 if ok else 0,
                           pkts_in=1 if ok else 0))
    for i in range(90):  # traceroute: UDP to 33434+ on one host, all "failed"
        events.append(flow("10.1.1.5", "198.51.100.99", 33434 + i, 500 + i, transport="udp", history="D", out=40))
    assert run(events) == []


def test_slow_scan_and_severity() -> None:
    # one port every 3 minutes from the inside: 20 ports in an hour; per-minute rate far below any fast rule
    events = [flow("10.1.1.9", "10.1.1.20", 1000 + i, i * 180, state="REJ", history="Sr") for i in range(20)]
    [a] = run(events, batch=1)
    assert a.subkind == "slow" and a.severity == Severity.LOW and a.evidence["scan"] == "vertical"
    assert any(f.name == "slow" for f in a.factors)
    # the same from outside, fast and wide, answered on some ports: high
    fast = [flow("203.0.113.50", "10.1.1.20", p, p / 100, state="REJ", history="Sr") for p in range(1, 200)]
    fast += [flow("203.0.113.50", "10.1.1.20", 22, 3, state="SF", history="ShADadfF", out=30, inn=30)]
    [b] = run(fast)
    assert b.subkind == "vertical" and b.severity == Severity.HIGH and 22 in b.evidence["open_ports"]


def test_a_scan_updates_one_alert_across_batches() -> None:
    events = [flow("203.0.113.50", "10.1.1.20", p, p / 10, state="REJ", history="Sr") for p in range(1, 301)]
    alerts = run(events, batch=20)
    assert len(alerts) == 1 and alerts[0].count >= 290


def test_allow_list_and_thresholds() -> None:
    events = [flow("10.9.9.9", "10.1.1.20", p, p, state="REJ", history="Sr") for p in range(1, 40)]
    assert run(events, allow=("10.9.9.0/24",)) == []
    few = [flow("203.0.113.50", "10.1.1.20", p, p, state="REJ", history="Sr") for p in range(1, 10)]
    assert run(few) == []  # nine refused ports: a confused client, not a scan


def test_state_survives_restart() -> None:
    det = PortScan()
    det.process([flow("203.0.113.50", "10.1.1.20", p, p, state="REJ", history="Sr") for p in range(1, 11)])
    saved = json.loads(json.dumps(det.state()))
    fresh = PortScan()
    fresh.restore(saved)
    more = fresh.process([flow("203.0.113.50", "10.1.1.20", p, p, state="REJ", history="Sr") for p in range(11, 17)])
    assert [f.subkind for f in more] == ["vertical"] and more[0].evidence["distinct_ports"] == 16
    fresh.restore({"sources": [["x", "not a date", {}], None, ["y", T0.isoformat(), {"pairs": [[1, 2]]}]]})


def test_bounded_memory_under_spoofed_flood() -> None:
    det = PortScan({"max_sources": 500, "max_pairs": 50})
    rnd = random.Random(7)
    events = [flow(f"198.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}", "10.1.1.20",
                   rnd.randrange(1, 65536), i / 1000) for i in range(20_000)]
    events += [flow("203.0.113.50", "10.1.1.20", p, 20 + p / 1000) for p in range(1, 5000)]
    for i in range(0, len(events), 1000):
        det.process(events[i:i + 1000])
    assert len(det.sources) <= 500
    assert all(len(s.pairs) <= 50 for _, _, s in det.sources.items())
    det.prune(T0 + timedelta(hours=3))
    assert len(det.sources) == 0


def test_a_real_file_then_junk(datasets) -> None:
    events = parse("suricata_eve", datasets / "suricata-eve/test6-malicious.suricata.json.gz")
    det = PortScan()  # its cost per event: benchmarks/bench_detect.py
    for i in range(0, len(events), 1000):
        det.process(events[i:i + 1000])
