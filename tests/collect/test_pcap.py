"""Packet captures: the reader on every real capture, flows and application data, every pcap/pcapng
variant, corrupt input, and `netwarden ingest` of captures (never storing anything twice)."""

from __future__ import annotations

import gzip
import io
import random
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from netwarden.cli import cli
from netwarden.collect.flows import FlowTable
from netwarden.collect.pcap import MAX_BLOCK, CaptureImport, CaptureParser, CaptureStats, read_events
from netwarden.pipeline import Pipeline
from netwarden.store.schema import events as events_table

# packets per capture, from shared/datasets/pcaps/PROVENANCE.md
PACKETS = {
    "esnet-curated-pcaps/nmap_80_vanilla.pcap": 11,
    "esnet-curated-pcaps/nmap_80_w_service_detection.pcap": 154,
    "esnet-curated-pcaps/nmap_80_all.pcap": 431,
    "esnet-curated-pcaps/tcp_0_1000_20190821.pcap": 1005,
    "esnet-curated-pcaps/udp_0_1000_20190821.pcap": 1001,
    "esnet-curated-pcaps/whois.pcap": 11,
    "chrissanders-packets/synscan.pcapng": 2011,
    "chrissanders-packets/activeosfingerprinting.pcapng": 48,
    "chrissanders-packets/arppoison.pcapng": 165,
    "chrissanders-packets/http_dvwa_sqlinjection.pcapng": 35,
    "chrissanders-packets/http_dvwa_sqlinjection_passwords.pcapng": 12,
    "chrissanders-packets/http_dvwa_directorytraversal.pcapng": 10,
    "chrissanders-packets/http_dvwa_clearlogin.pcapng": 54,
    "chrissanders-packets/http_google.pcapng": 12,
    "chrissanders-packets/http_espn.pcapng": 956,
    "chrissanders-packets/tcp_ports.pcapng": 505,
    "chrissanders-packets/dns_query_response.pcapng": 2,
    "stratosphere-slips/malicious-ssh-bruteforce.pcap": 1178,
    "stratosphere-slips/test7-malicious.pcap": 2000,
    "stratosphere-slips/test8-malicious.pcap": 534,
    "stratosphere-slips/test12-icmp-portscan.pcap": 37,
}


@pytest.fixture(scope="module")
def pcaps(datasets: Path) -> Path:
    return datasets / "pcaps"


def flows(events: list) -> list:
    return [e for e in events if e.extra.get("record") != "http_request"]


def packets_in_flows(events: list) -> int:
    return sum((e.packets_out or 0) + (e.packets_in or 0) for e in flows(events))


# -- the real captures ---------------------------------------------------------------------------

@pytest.mark.datasets
def test_every_capture_in_the_datasets_is_listed(pcaps: Path) -> None:
    found = {str(p.relative_to(pcaps)) for p in pcaps.rglob("*.pcap*")}
    assert found == set(PACKETS)


@pytest.mark.datasets
@pytest.mark.parametrize("name", sorted(PACKETS))
def test_capture_reads_completely_and_every_packet_lands_in_one_flow(pcaps: Path, name: str) -> None:
    events, stats = read_events(pcaps / name)
    assert stats.packets == PACKETS[name]
    assert stats.stopped is None
    assert events
    # every packet is either in exactly one flow record, or counted as not usable
    unused = sum(stats.skipped.values()) + stats.non_ip
    assert packets_in_flows(events) + unused == stats.packets
    for e in flows(events):
        assert e.source_kind == "pcap" and e.timestamp is not None and e.timestamp.year >= 2006
        assert e.duration >= 0 and e.extra["end"] in {"idle", "tcp_end", "active", "end", "evicted"}
        assert e.packets_out >= 1  # the originator sent the first packet


@pytest.mark.datasets
def test_synscan_is_a_thousand_ports_from_one_host(pcaps: Path) -> None:
    events, _ = read_events(pcaps / "chrissanders-packets/synscan.pcapng")
    scan = [e for e in events if (e.src_ip, e.dst_ip) == ("172.16.0.8", "64.13.134.52")]
    assert len(scan) == len(events)
    assert len({e.dst_port for e in scan}) == 1000
    # nmap sends a second probe from another source port to the ports that did not answer: ≤ 2 per port
    assert 1000 <= len(scan) <= 2000
    assert Counter(e.extra["flags_out"] for e in scan)["SYN"] > 990
    answered = [e for e in scan if e.packets_in]
    assert answered and all("RST" in e.extra["flags_in"] or "SYN" in e.extra["flags_in"] for e in answered)


@pytest.mark.datasets
def test_masscan_tcp_and_udp(pcaps: Path) -> None:
    tcp, _ = read_events(pcaps / "esnet-curated-pcaps/tcp_0_1000_20190821.pcap")
    scan = [e for e in tcp if e.src_ip == "172.31.15.102" and e.dst_ip == "198.124.152.15"]
    assert {e.dst_port for e in scan} == set(range(1001))
    assert all(e.transport == "tcp" and e.packets_in == 0 for e in scan)
    udp, _ = read_events(pcaps / "esnet-curated-pcaps/udp_0_1000_20190821.pcap")
    assert len({e.dst_port for e in udp if e.transport == "udp"}) >= 1000


@pytest.mark.datasets
def test_sql_injection_url_is_in_an_http_event(pcaps: Path) -> None:
    events, _ = read_events(pcaps / "chrissanders-packets/http_dvwa_sqlinjection.pcapng")
    http = [e for e in events if e.app_protocol == "http"]
    urls = [unquote_plus(e.url) for e in http]
    assert any("union select" in u for u in urls)
    hit = next(e for e in http if "union select" in unquote_plus(e.url))
    assert hit.http_method == "GET" and hit.dst_port == 80 and hit.src_ip == "10.2.2.101"
    assert hit.http_status == 200 and hit.extra["host"] == "10.2.2.104" and "Chrome" in hit.user_agent


@pytest.mark.datasets
def test_directory_traversal_url(pcaps: Path) -> None:
    events, _ = read_events(pcaps / "chrissanders-packets/http_dvwa_directorytraversal.pcapng")
    assert any("../../etc/passwd" in (e.url or "") for e in events)


@pytest.mark.datasets
@pytest.mark.parametrize("name", ["chrissanders-packets/http_espn.pcapng", "chrissanders-packets/tcp_ports.pcapng"])
def test_every_http_request_is_one_event(pcaps: Path, name: str) -> None:
    if not shutil.which("tcpdump"):
        pytest.skip("tcpdump is not installed")
    # the independent count: tcpdump's filter for TCP payloads that start with "GET "
    out = subprocess.run(["tcpdump", "-nn", "-r", str(pcaps / name),
                          "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    gets = len(out.splitlines())
    events, _ = read_events(pcaps / name)
    requests = [e for e in events if e.http_method == "GET"]
    assert len(requests) == gets > 10
    assert all(e.url.startswith(("/", "http")) and e.extra.get("host") for e in requests)


@pytest.mark.datasets
def test_ssh_brute_force_is_67_connections(pcaps: Path) -> None:
    events, _ = read_events(pcaps / "stratosphere-slips/malicious-ssh-bruteforce.pcap")
    ssh = [e for e in events if e.transport == "tcp" and e.dst_port == 902]
    assert len(ssh) == 67
    assert {(e.src_ip, e.dst_ip) for e in ssh} == {("147.32.80.40", "147.32.80.37")}
    assert sum(e.app_protocol == "ssh" for e in ssh) >= 60
    assert any(e.extra.get("ssh_server", "").startswith("SSH-2.0") for e in ssh)


@pytest.mark.datasets
def test_dns_query(pcaps: Path) -> None:
    events, _ = read_events(pcaps / "chrissanders-packets/dns_query_response.pcapng")
    assert len(events) == 1
    e = events[0]
    assert e.app_protocol == "dns" and e.dst_port == 53 and e.transport == "udp"
    assert e.extra["dns_query"] == "wireshark.org" and e.extra["dns_qtype"] == "A"
    assert e.extra["dns_rcode"] == "NOERROR" and e.packets_out == e.packets_in == 1


@pytest.mark.datasets
def test_icmp_sweep_and_arp_scan(pcaps: Path) -> None:
    icmp, _ = read_events(pcaps / "stratosphere-slips/test12-icmp-portscan.pcap")
    sweep = {e.dst_ip for e in icmp if e.src_ip == "192.168.1.109" and e.transport == "icmp"}
    assert len(sweep) == 18
    assert all(e.extra["icmp_type"] == 8 for e in icmp if e.src_ip == "192.168.1.109")
    arp, _ = read_events(pcaps / "stratosphere-slips/test8-malicious.pcap")
    asked = {e.dst_ip for e in arp if e.transport == "arp" and e.src_ip == "192.168.1.247"}
    assert len(asked) >= 250
    requests = sum(e.extra["arp_requests_out"] for e in arp if e.transport == "arp" and e.src_ip == "192.168.1.247")
    assert requests == 507


# -- the formats, built byte by byte -----------------------------------------------------------

def ipv4(proto: int, src: str, dst: str, payload: bytes, frag: int = 0, ident: int = 1) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                       bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))) + payload


def ipv6(nxt: int, payload: bytes, src: int = 1, dst: int = 2, ext: bytes = b"") -> bytes:
    first = 60 if ext else nxt  # one destination-options header in front when ext is given
    body = (bytes([nxt, 0]) + ext.ljust(6, b"\0") if ext else b"") + payload
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), first, 64, b"\x20\x01\x0d\xb8" + bytes(11) + bytes([src]),
                       b"\x20\x01\x0d\xb8" + bytes(11) + bytes([dst])) + body


def tcp(sport: int, dport: int, flags: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 1024, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ether(ip: bytes, etype: int = 0x0800, vlans: int = 0) -> bytes:
    tags = b"".join(struct.pack("!HH", 0x8100, 10 + i) for i in range(vlans))
    return b"\x02" * 6 + b"\x04" * 6 + tags + struct.pack("!H", etype) + ip


def pcap_file(packets: list[tuple[float, bytes]], *, link: int = 1, endian: str = "<", nano: bool = False,
              snaplen: int = 65535) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, link)]
    for ts, data in packets:
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nano else 1e6))
        out.append(struct.pack(endian + "IIII", sec, frac, len(data), len(data)) + data)
    return b"".join(out)


def ng_block(btype: int, body: bytes, endian: str = "<") -> bytes:
    body = body.ljust((len(body) + 3) & ~3, b"\0")
    n = len(body) + 12
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def ng_shb(endian: str = "<") -> bytes:
    return ng_block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)


def ng_idb(link: int, tsresol: int | None = None, endian: str = "<") -> bytes:
    opts = b""
    if tsresol is not None:
        opts = struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0" + struct.pack(endian + "HH", 0, 0)
    return ng_block(1, struct.pack(endian + "HHI", link, 0, 65535) + opts, endian)


def ng_epb(iface: int, ticks: int, data: bytes, endian: str = "<") -> bytes:
    return ng_block(6, struct.pack(endian + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data))
                    + data, endian)


def parse(data: bytes, chunk: int | None = None, **table_options) -> tuple[list, CaptureStats]:
    imp = CaptureImport(io.BytesIO(data), chunk_size=chunk or (1 << 20), **table_options)
    return [e for batch, _ in imp.batches() for e in batch], imp.stats


HANDSHAKE = [
    (1_700_000_000.25, ipv4(6, "10.0.0.1", "10.0.0.2", tcp(40000, 80, 0x02))),
    (1_700_000_000.5, ipv4(6, "10.0.0.2", "10.0.0.1", tcp(80, 40000, 0x12))),
    (1_700_000_000.75, ipv4(6, "10.0.0.1", "10.0.0.2", tcp(40000, 80, 0x18, b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n"
                                                                        b"User-Agent: ua/1\r\n\r\n"))),
    (1_700_000_001.0, ipv4(6, "10.0.0.2", "10.0.0.1", tcp(80, 40000, 0x18, b"HTTP/1.1 404 Not Found\r\n\r\n"))),
    (1_700_000_001.5, ipv4(6, "10.0.0.1", "10.0.0.2", tcp(40000, 80, 0x18, b"POST /b HTTP/1.1\r\nHost: h\r\n\r\n"))),
    (1_700_000_002.0, ipv4(6, "10.0.0.2", "10.0.0.1", tcp(80, 40000, 0x18, b"HTTP/1.1 201 Created\r\n\r\n"))),
]


def check_handshake(events: list) -> None:
    flow = next(e for e in events if e.extra.get("record") != "http_request")
    assert (flow.src_ip, flow.src_port, flow.dst_ip, flow.dst_port) == ("10.0.0.1", 40000, "10.0.0.2", 80)
    assert (flow.packets_out, flow.packets_in) == (3, 3)
    assert flow.bytes_out == 3 * 40 + len(HANDSHAKE[2][1]) - 40 + len(HANDSHAKE[4][1]) - 40
    assert flow.timestamp.timestamp() == pytest.approx(1_700_000_000.25, abs=1e-6)
    assert flow.duration == pytest.approx(1.75, abs=1e-5)
    assert flow.tcp_flags == "SYN,PSH,ACK" and flow.extra["flags_out"] == "SYN,PSH,ACK"
    assert (flow.http_method, flow.url, flow.user_agent, flow.http_status) == ("GET", "/a?x=1", "ua/1", 404)
    assert flow.extra["host"] == "h" and flow.extra["http_requests"] == 2
    second = [e for e in events if e.extra.get("record") == "http_request"]
    assert [(e.http_method, e.url, e.http_status, e.src_ip, e.dst_port) for e in second] == [
        ("POST", "/b", 201, "10.0.0.1", 80)]


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(endian: str, nano: bool) -> None:
    data = pcap_file([(ts, ether(p)) for ts, p in HANDSHAKE], endian=endian, nano=nano)
    events, stats = parse(data)
    assert stats.packets == 6 and stats.stopped is None
    check_handshake(events)


@pytest.mark.parametrize("link,frame", [
    (1, lambda p: ether(p, vlans=2)),  # QinQ
    (113, lambda p: struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0800) + p),  # Linux cooked
    (276, lambda p: struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, b"\x02" * 8) + p),  # Linux cooked v2
    (101, lambda p: p),  # raw IP
    (228, lambda p: p),  # IPv4
    (0, lambda p: struct.pack("<I", 2) + p),  # BSD loopback, host byte order
    (108, lambda p: struct.pack(">I", 2) + p),  # OpenBSD loop
])
def test_link_types(link: int, frame) -> None:  # type: ignore[no-untyped-def]
    events, stats = parse(pcap_file([(ts, frame(p)) for ts, p in HANDSHAKE], link=link))
    assert stats.packets == 6 and not stats.skipped
    check_handshake(events)


def test_pcapng_sections_interfaces_resolutions_and_chunking() -> None:
    # section 1 little endian: eth (µs) and raw IP (ns); section 2 big endian with 2^-10 s ticks
    p = HANDSHAKE
    data = (ng_shb() + ng_idb(1) + ng_idb(101, tsresol=9)
            + ng_epb(0, int(p[0][0] * 1e6), ether(p[0][1])) + ng_epb(1, int(p[1][0] * 1e9), p[1][1])
            + ng_block(5, b"custom statistics block, skipped")
            + ng_block(3, struct.pack("<I", len(ether(p[2][1]))) + ether(p[2][1]))  # simple packet block
            + ng_shb(">") + ng_idb(1, tsresol=0x8A, endian=">")
            + b"".join(ng_epb(0, int(ts * 1024), ether(pk), ">") for ts, pk in p[3:]))
    for chunk in (1 << 20, 7, 1):
        events, stats = parse(data, chunk=chunk)
        assert stats.packets == 6 and stats.stopped is None, chunk
        check_handshake(events)
        assert Counter(stats.link_types) == {"ethernet": 2, "raw": 1}


def test_ipv6_extension_headers_fragments_and_icmp() -> None:
    packets = [
        (10.0, ether(ipv6(17, udp(5353, 5353, b"\0" * 12), ext=b"\x01\x04\0\0\0\0"), 0x86DD)),
        (10.1, ether(ipv6(58, b"\x80\x00\0\0\0\1\0\1", src=1, dst=2), 0x86DD)),  # echo request
        (10.2, ether(ipv6(58, b"\x81\x00\0\0\0\1\0\1", src=2, dst=1), 0x86DD)),  # echo reply
        (11.0, ether(ipv4(17, "10.0.0.1", "10.0.0.9", udp(1000, 2000, b"x" * 32), frag=0x2000))),  # first fragment
        (11.1, ether(ipv4(17, "10.0.0.1", "10.0.0.9", b"y" * 32, frag=5))),  # later fragment
        (12.0, ether(b"\x00" * 46, 0x88CC)),  # LLDP
    ]
    events, stats = parse(pcap_file(packets))
    assert stats.packets == 6 and stats.fragments == 2 and stats.non_ip == 1
    assert stats.skipped == {"ip_fragment": 1}
    by = {e.transport: e for e in events}
    assert by["udp"].dst_port in (5353, 2000)
    assert by["icmpv6"].src_ip == "2001:db8::1" and by["icmpv6"].packets_in == 1
    assert by["icmpv6"].extra["icmp_type"] == 128
    assert {(e.src_port, e.dst_port) for e in events if e.transport == "udp"} == {(5353, 5353), (1000, 2000)}


# -- the flow table's timeouts ------------------------------------------------------------------

def feed(table: FlowTable, ts: float, src: str, dst: str, sport: int, dport: int, flags: int = 0x10,
         payload: bytes = b"", proto: int = 6) -> None:
    a, b = bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))
    table.add(ts, proto, a, b, sport, dport, flags, 40 + len(payload), payload, 0, len(payload))


def test_active_timeout_reports_a_long_flow_while_it_lasts() -> None:
    t = FlowTable(active_timeout=10, idle_timeout=5)
    for i in range(31):  # one packet a second for 30 s
        feed(t, 100.0 + i, "10.0.0.1", "10.0.0.2", 5000, 22, 0x02 if i == 0 else 0x10)
    parts = t.drain()
    assert len(parts) >= 2 and all(e.extra["end"] == "active" for e in parts)
    t.flush()
    parts += t.drain()
    assert sum(e.packets_out for e in parts) == 31
    assert [e.extra.get("part", 1) for e in parts] == list(range(1, len(parts) + 1))
    assert all(e.src_ip == "10.0.0.1" for e in parts)  # the originator stays the originator


def test_idle_tcp_end_and_port_reuse() -> None:
    t = FlowTable(active_timeout=100, idle_timeout=5, tcp_end_grace=1)
    feed(t, 0, "10.0.0.1", "10.0.0.2", 5000, 80, 0x02)
    feed(t, 0.1, "10.0.0.2", "10.0.0.1", 80, 5000, 0x14)  # RST
    feed(t, 0.2, "10.0.0.3", "10.0.0.2", 6000, 53, 0, proto=17)
    feed(t, 0.3, "10.0.0.1", "10.0.0.2", 5000, 80, 0x02)  # reuse: a new connection at once
    feed(t, 1.0, "10.0.0.4", "10.0.0.2", 7000, 443, 0x11)
    feed(t, 1.1, "10.0.0.2", "10.0.0.4", 443, 7000, 0x11)  # FIN both ways
    feed(t, 1.2, "10.0.0.4", "10.0.0.2", 7000, 443, 0x10)  # the last ACK stays in the flow
    first = t.drain()
    assert [(e.src_port, e.extra["end"]) for e in first] == [(5000, "tcp_end")]
    t.sweep(3.0)
    ended = {(e.src_port, e.extra["end"]) for e in t.drain()}
    assert ended == {(7000, "tcp_end")}
    t.sweep(10.0)
    ended = {(e.src_port, e.extra["end"], e.packets_out) for e in t.drain()}
    assert ended == {(6000, "idle", 1), (5000, "idle", 1)}
    assert len(t) == 0


def test_a_connection_closing_when_its_active_timeout_falls_ends_as_tcp_end() -> None:
    # FIN both ways at 9.5 and 9.6, active timeout at 10, grace 1: the last record must say the connection ended
    t = FlowTable(active_timeout=10, idle_timeout=5, tcp_end_grace=1)
    for i in range(10):
        feed(t, float(i), "10.0.0.1", "10.0.0.2", 5000, 80, 0x02 if i == 0 else 0x10)
    feed(t, 9.5, "10.0.0.1", "10.0.0.2", 5000, 80, 0x11)
    feed(t, 9.6, "10.0.0.2", "10.0.0.1", 80, 5000, 0x11)
    t.sweep(10.2)
    assert t.drain() == []  # not split by the active timeout while it closes
    t.sweep(10.7)
    (record,) = t.drain()
    assert record.extra["end"] == "tcp_end" and record.packets_out == 11 and record.packets_in == 1
    assert len(t) == 0


def test_table_is_bounded_and_counts_evictions() -> None:
    t = FlowTable(max_flows=100)
    for i in range(1000):
        feed(t, 1.0 + i / 1000, "10.0.0.1", "10.0.0.2", 1024 + i, 80, 0x02)
    assert len(t) == 100 and t.evicted == 900
    t.flush()
    out = t.drain()
    assert len(out) == 1000 and sum(e.extra["end"] == "evicted" for e in out) == 900


# -- corrupt captures -----------------------------------------------------------------------------

@pytest.mark.datasets
def test_truncated_and_flipped_captures_never_crash(pcaps: Path) -> None:
    rng = random.Random(7)
    for name in ("chrissanders-packets/http_dvwa_sqlinjection.pcapng", "esnet-curated-pcaps/nmap_80_all.pcap",
                 "stratosphere-slips/test12-icmp-portscan.pcap", "chrissanders-packets/dns_query_response.pcapng"):
        data = (pcaps / name).read_bytes()
        for _ in range(25):
            cut = data[:rng.randrange(len(data))]
            events, stats = parse(cut, chunk=rng.choice([64, 4096, 1 << 20]))
            assert stats.packets <= PACKETS[name]
            if len(cut) > 24 and stats.stopped is None:
                assert packets_in_flows(events) <= stats.packets
            bad = bytearray(data)
            for _ in range(rng.randrange(1, 20)):
                bad[rng.randrange(len(bad))] = rng.randrange(256)
            events, stats = parse(bytes(bad))
            assert stats.packets <= len(data) // 12


def test_lying_lengths_stop_with_a_reason_without_allocating() -> None:
    good = pcap_file([(ts, ether(p)) for ts, p in HANDSHAKE])
    # a record header claiming 2 GiB
    liar = good[:24] + struct.pack("<IIII", 1, 0, 0x7FFFFFFF, 0x7FFFFFFF) + b"x" * 100
    _, stats = parse(liar)
    assert stats.stopped == "bad_record_length" and stats.packets == 0
    # absurd snaplen in the header is only a hint
    events, stats = parse(good[:16] + struct.pack("<I", 0xFFFFFFFF) + good[20:])
    assert stats.packets == 6
    # pcapng: a block length of 4 GiB, not a multiple of 4, and a trailer that disagrees
    head = ng_shb() + ng_idb(1)
    for block in (struct.pack("<II", 6, 0xFFFFFFFC) + b"\0" * 64, struct.pack("<II", 6, 33) + b"\0" * 64,
                  ng_epb(0, 1, ether(HANDSHAKE[0][1]))[:-4] + struct.pack("<I", 12)):
        _, stats = parse(head + block)
        assert stats.stopped == "bad_block_length"
    # a packet block for an interface that was never described
    _, stats = parse(ng_shb() + ng_epb(3, 1, b"abc"))
    assert stats.skipped == {"unknown_interface": 1}
    # not a capture at all
    _, stats = parse(b"GET / HTTP/1.1\r\n")
    assert stats.stopped == "not_a_capture"


def test_parser_keeps_at_most_one_block() -> None:
    parser = CaptureParser(lambda *a: None, CaptureStats())
    parser.feed(ng_shb() + struct.pack("<II", 6, MAX_BLOCK))  # claims the largest allowed block
    for _ in range(15 * 16):  # 15 MiB in 64 KiB pieces: held, not copied again and again
        parser.feed(b"\0" * (1 << 16))
    assert parser._held <= MAX_BLOCK and parser.stopped is None
    parser.feed(b"\0" * (2 << 20))  # complete now, and its trailer disagrees with its length
    assert parser.stopped == "bad_block_length" and parser._held == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["pcap", "pcapng"]), st.binary(max_size=600), st.integers(1, 700))
def test_garbage_after_a_valid_header_never_crashes(kind: str, garbage: bytes, chunk: int) -> None:
    head = pcap_file([HANDSHAKE[0]], link=101) if kind == "pcap" else ng_shb() + ng_idb(101) + ng_epb(0, 5, HANDSHAKE[0][1])
    events, stats = parse(head + garbage, chunk=chunk)
    assert stats.packets >= 1


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=120), st.sampled_from([1, 0, 113, 276, 101, 108, 229]))
def test_garbage_packets_never_crash(frame: bytes, link: int) -> None:
    events, stats = parse(pcap_file([(5.0, frame), (6.0, frame[::-1])], link=link))
    assert stats.packets == 2 and stats.stopped is None
    assert packets_in_flows(events) + sum(stats.skipped.values()) + stats.non_ip == 2


# -- netwarden ingest --------------------------------------------------------------------------

def stored_flows(db) -> list[tuple]:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(
            events_table.c.src_port, events_table.c.dst_port, events_table.c.packets_out, events_table.c.packets_in,
            events_table.c.url).where(events_table.c.source_kind == "pcap"))]


@pytest.mark.engines
@pytest.mark.datasets
def test_ingest_capture_stores_flows_once(db, pcaps: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = pcaps / "stratosphere-slips/malicious-ssh-bruteforce.pcap"
    pipeline = Pipeline(db, batch_size=20)
    first = pipeline.ingest_file(src)
    assert first.format == "pcap" and first.lines == 1178 and first.events == 67
    rows = stored_flows(db)
    assert len(rows) == first.events
    assert sum((r[2] or 0) + (r[3] or 0) for r in rows) == 1178 - first.skipped
    # again, as a renamed gzip copy: recognised by content, nothing stored
    copy = tmp_path / "renamed.pcap.gz"
    copy.write_bytes(gzip.compress(src.read_bytes()))
    for path in (src, copy):
        again = pipeline.ingest_file(path)
        assert again.already_done and again.events == 0
    assert len(stored_flows(db)) == len(rows)


@pytest.mark.engines
@pytest.mark.datasets
def test_ingest_resumes_a_capture_that_grew(db, pcaps: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = (pcaps / "chrissanders-packets/http_espn.pcapng").read_bytes()
    path = tmp_path / "growing.pcapng"
    path.write_bytes(data[:len(data) // 2 + 37])  # cut inside a block: the partial block is not used
    pipeline = Pipeline(db, batch_size=10)
    half = pipeline.ingest_file(path)
    assert 0 < half.lines < 956 and half.capture["stopped"] == "truncated_record"
    path.write_bytes(data)
    rest = pipeline.ingest_file(path)
    assert rest.resumed_at_line == half.lines and rest.lines == 956 - half.lines
    rows = stored_flows(db)
    assert sum((r[2] or 0) + (r[3] or 0) for r in rows) == 956 - half.skipped - rest.skipped  # each packet counted once
    with db.engine.connect() as conn:
        gets = conn.execute(select(func.count()).select_from(events_table).where(
            events_table.c.http_method == "GET")).scalar()
    assert gets == 61  # tcpdump's count of GET requests: none lost, none twice
    assert pipeline.ingest_file(path).already_done


def test_cli_ingest_and_formats(tmp_path: Path) -> None:
    capture = tmp_path / "c.pcap"
    capture.write_bytes(pcap_file([(ts, ether(p)) for ts, p in HANDSHAKE]))
    db = f"sqlite:///{tmp_path / 'nw.db'}"
    result = CliRunner().invoke(cli, ["--db", db, "ingest", str(capture)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "packets read" in result.output and "[pcap]" in result.output
    result = CliRunner().invoke(cli, ["--db", db, "events", "--json", "--port", "80"], catch_exceptions=False)
    assert "/a?x=1" in result.output and "/b" in result.output
    again = CliRunner().invoke(cli, ["--db", db, "ingest", str(capture)], catch_exceptions=False)
    assert "already ingested" in again.output
    formats = CliRunner().invoke(cli, ["formats"], catch_exceptions=False).output
    assert "pcap" in formats and "pcapng" in formats
