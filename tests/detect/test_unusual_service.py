"""unusual_service: exposed dangerous services, blocked probes, protocol mismatches, new services; no scanner noise."""

from __future__ import annotations

import gzip
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.collect.pcap import read_events
from netwarden.detect.engine import DetectionEngine
from netwarden.detect.unusual_service import UnusualService
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
    engine = DetectionEngine([UnusualService(settings or None)])
    for i in range(0, len(events), batch):
        engine.process(events[i:i + batch])
    return engine.alerts


def conn(src: str, dst: str, port: int, sec: float, *, ok: bool = True, service: str | None = None) -> Event:
    return Event(timestamp=T0 + timedelta(seconds=sec), source_kind="zeek", src_ip=src, src_port=50000, dst_ip=dst,
                 dst_port=port, transport="tcp", app_protocol=service, bytes_out=300 if ok else 0,
                 bytes_in=2000 if ok else 0, packets_out=5, packets_in=5 if ok else 0,
                 extra={"conn_state": "SF" if ok else "S0", "history": "ShADadFf" if ok else "S"})


def blocked(src: str, dst: str, port: int, sec: float) -> Event:
    return Event(timestamp=T0 + timedelta(seconds=sec), source_kind="firewall", src_ip=src, src_port=40000,
                 dst_ip=dst, dst_port=port, transport="tcp", tcp_flags="SYN", action="blocked")


def test_exposed_service_needs_an_answer_from_outside() -> None:
    findings = UnusualService().process([
        conn("203.0.113.9", "10.0.0.5", 445, 0), conn("203.0.113.9", "10.0.0.5", 3389, 1),
        conn("10.0.0.7", "10.0.0.5", 445, 2),  # inside client: ordinary file sharing
        conn("198.51.100.4", "10.0.0.6", 23, 3, ok=False)])  # refused: nothing exposed
    got = {(f.subkind, f.target, f.evidence["port"], f.severity) for f in findings}
    assert got == {("exposed_service", "10.0.0.5", 445, Severity.HIGH),
                   ("exposed_service", "10.0.0.5", 3389, Severity.MEDIUM)}
    smb = next(f for f in findings if f.evidence["port"] == 445)
    assert "SMB" in smb.recommendation and "close it at the firewall" in smb.recommendation
    assert smb.signature == "exposed:10.0.0.5:445" and smb.source == "203.0.113.9"
    # the engine keeps one alert per source and subkind
    assert len(run([conn("203.0.113.9", "10.0.0.5", 445, 0), conn("203.0.113.9", "10.0.0.5", 3389, 1)])) == 1


def test_one_exposed_port_is_not_a_hundred_alerts() -> None:
    events = [conn(f"203.0.113.{i}", "10.0.0.5", 6379, i) for i in range(1, 101)]
    alerts = run(events)
    assert len(alerts) == 5 and all(a.severity == Severity.HIGH for a in alerts)


def test_blocked_probe_is_low_and_delayed_and_scanners_are_left_to_port_scan() -> None:
    lone = [blocked("198.51.100.20", "10.0.0.1", 8291, 0), blocked("198.51.100.20", "10.0.0.1", 8291, 5)]
    scan = [blocked("185.220.101.7", "10.0.0.1", p, 1 + p / 100) for p in (21, 22, 23, 25, 80, 110, 139, 445,
                                                                           1433, 3306, 3389, 5900)]
    later = [Event(timestamp=T0 + timedelta(seconds=120), source_kind="firewall", src_ip="10.0.0.9",
                   dst_ip="10.0.0.1", dst_port=53, transport="udp")]
    engine = DetectionEngine([UnusualService()])
    engine.process(lone + scan[:3])
    assert engine.alerts == []  # held for probe_delay: the source may still turn out to be a scanner
    engine.process(scan[3:])
    engine.process(later)
    assert [(a.source, a.subkind, a.severity) for a in engine.alerts] == [("198.51.100.20", "probe", Severity.LOW)]
    assert "Winbox" in engine.alerts[0].factors[0].detail


def test_firewall_example_log_is_one_scanner_and_no_service_alerts() -> None:
    assert run(parse("syslog", EXAMPLES / "firewall.log")) == []


def test_protocol_mismatch_from_ssh_banner(datasets) -> None:
    events, _ = read_events(datasets / "pcaps/stratosphere-slips/malicious-ssh-bruteforce.pcap")
    [a] = run(events)
    assert (a.subkind, a.target, a.evidence["port"], a.evidence["protocol"]) == (
        "protocol_mismatch", "147.32.80.37", 902, "ssh")
    assert "OpenSSH" in a.factors[0].detail and a.count == 1  # 67 connections, one alert
    findings = UnusualService().process([
        conn("10.0.0.8", "192.0.2.80", 443, 0, service="ssh"), conn("10.0.0.8", "192.0.2.53", 53, 1, service="http"),
        conn("10.0.0.8", "192.0.2.54", 53, 2, service="dns"), conn("10.0.0.8", "192.0.2.81", 8080, 3, service="http"),
        conn("10.0.0.8", "192.0.2.82", 443, 4, service="ssl,quic")])
    assert {(f.target, f.evidence["protocol"]) for f in findings} == {("192.0.2.80", "ssh"), ("192.0.2.53", "http")}


def test_new_service_after_learning() -> None:
    day = 86400
    events = [conn("203.0.113.9", "10.0.0.5", 443, 0), conn("10.0.0.5", "198.51.100.1", 443, 10),
              conn("203.0.113.9", "10.0.0.5", 8443, 3600),  # new, but still learning
              conn("10.0.0.5", "198.51.100.2", 25, 7200)]
    events += [conn("203.0.113.9", "10.0.0.5", 443, day + i) for i in range(5)]
    events += [conn("203.0.113.10", "10.0.0.5", 8443, day + 10),  # learnt: quiet
               conn("203.0.113.10", "10.0.0.5", 4444, day + 20),  # a new listening port: alert
               conn("203.0.113.10", "10.0.0.5", 50000, day + 25),  # ephemeral: never a service
               conn("10.0.0.5", "198.51.100.9", 6667, day + 30),  # IRC out for the first time
               conn("10.0.0.5", "198.51.100.9", 25, day + 40)]  # SMTP was seen while learning
    alerts = [a for a in run(events) if a.subkind == "new_service"]
    got = sorted((a.evidence["direction"], a.evidence["port"]) for a in alerts)
    assert got == [("inbound", 4444), ("outbound", 6667)]
    inbound = next(a for a in alerts if a.evidence["direction"] == "inbound")
    assert 443 in inbound.evidence["known_ports"] and "ss -ltnp" in inbound.recommendation


@pytest.mark.parametrize("fmt, name", [
    ("zeek_conn", "zeek-conn-logs/test9-mixed_conn.log"), ("zeek_conn", "zeek-conn-logs/test10-mixed_conn.log"),
    ("zeek_conn", "zeek-conn-logs/port-scans_vertical_conn.log"),
    ("argus_binetflow", "argus-flows/test5-mixed.binetflow"), ("argus_binetflow", "argus-flows/test4-malicious.binetflow"),
    ("suricata_eve", "suricata-eve/test6-malicious.suricata.json.gz"),
])
def test_real_logs_without_exposures_stay_quiet(datasets, fmt, name) -> None:
    assert run(parse(fmt, datasets / name), batch=1000) == []


@pytest.mark.parametrize("name", ["chrissanders-packets/http_espn.pcapng", "chrissanders-packets/tcp_ports.pcapng",
                                  "esnet-curated-pcaps/whois.pcap", "chrissanders-packets/synscan.pcapng",
                                  "esnet-curated-pcaps/tcp_0_1000_20190821.pcap",
                                  "stratosphere-slips/test7-malicious.pcap"])
def test_captures_stay_quiet(datasets, name) -> None:
    events, _ = read_events(datasets / "pcaps" / name)
    assert run(events) == []


def test_state_survives_restart() -> None:
    det = UnusualService()
    det.process([conn("203.0.113.9", "10.0.0.5", 443, 0)])
    fresh = UnusualService()
    fresh.restore(json.loads(json.dumps(det.state())))
    out = fresh.process([conn("203.0.113.9", "10.0.0.5", 2222, 2 * 86400)])
    assert [f.subkind for f in out] == ["new_service"]
    fresh.restore({"hosts": [["x", "bad", 1, [], []], None], "failures": [[1]], "reported": "x"})


def test_bounded_memory_and_hostile_values() -> None:
    det = UnusualService({"max_hosts": 100, "max_sources": 200, "max_ports": 8})
    rnd = random.Random(3)
    events = [blocked(f"198.{rnd.randrange(256)}.{rnd.randrange(256)}.{i % 256}", "10.0.0.1", 445, i / 100)
              for i in range(5000)]
    events += [conn("203.0.113.9", f"10.0.{i // 250}.{i % 250}", 1000 + i % 3000, i) for i in range(3000)]
    for i in range(0, len(events), 1000):
        det.process(events[i:i + 1000])
    assert len(det.hosts) <= 100 and len(det.failures) <= 200 and len(det.pending) <= 200
    assert all(len(h.served) <= 8 for _, _, h in det.hosts.items())
    weird = [Event(timestamp=T0, source_kind="pcap", src_ip="203.0.113.1", dst_ip="10.0.0.1", dst_port=22,
                   transport="tcp", app_protocol="\x00" * 5000, extra={"flags_out": "SYN,ACK,PSH",
                                                                     "flags_in": "SYN,ACK,PSH",
                                                                     "ssh_server": "\xff" * 10_000}),
             Event(timestamp=T0, source_kind="zeek", src_ip="203.0.113.1", dst_ip="10.0.0.1", dst_port=53,
                   transport="tcp", app_protocol=",,,", extra={"conn_state": "SF", "history": "ShAD"},
                   bytes_out=10, bytes_in=10)]
    det.process(weird)
    json.dumps(det.state())


def test_a_real_file_then_junk(datasets) -> None:
    events = parse("suricata_eve", datasets / "suricata-eve/test6-malicious.suricata.json.gz")
    det = UnusualService()  # its cost per event: benchmarks/bench_detect.py
    for i in range(0, len(events), 1000):
        det.process(events[i:i + 1000])
