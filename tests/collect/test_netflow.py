"""NetFlow v5/v9/IPFIX collector: the real exporter (softflowd replaying real captures) and hostile input."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netwarden.collect.netflow import NetflowDecoder, NetflowListener
from netwarden.collect.netflow_common import MAX_PENDING_SETS, MAX_TEMPLATES
from netwarden.records import Event

dpkt = pytest.importorskip("dpkt")

SOFTFLOWD = shutil.which("softflowd") or "/usr/sbin/softflowd"
needs_softflowd = pytest.mark.skipif(not os.path.exists(SOFTFLOWD), reason="softflowd is not installed")
PROTO = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp"}


# -- an independent count of what a capture holds -------------------------------------------------------------

def pcap_flows(path: Path) -> tuple[Counter, Counter, datetime]:
    """Packets and bytes per (src, sport, dst, dport, transport); ports None for other protocols.

    Bytes as softflowd counts them: the captured frame less its Ethernet header (padding included).
    """
    packets: Counter = Counter()
    octets: Counter = Counter()
    first = None
    with open(path, "rb") as fh:
        reader = dpkt.pcapng.Reader(fh) if path.suffix == ".pcapng" else dpkt.pcap.Reader(fh)
        for ts, buf in reader:
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP):
                src, dst, proto = socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst), ip.p
            elif isinstance(ip, dpkt.ip6.IP6):
                src, dst = socket.inet_ntop(socket.AF_INET6, ip.src), socket.inet_ntop(socket.AF_INET6, ip.dst)
                proto = ip.p  # after any extension headers (MLD's hop-by-hop)
            else:
                continue
            first = ts if first is None else min(first, ts)
            assert not getattr(eth, "vlan_tags", None)
            length = len(buf) - 14
            l4 = ip.data
            if proto in (6, 17) and hasattr(l4, "sport"):
                key = (src, l4.sport, dst, l4.dport, PROTO[proto])
            else:
                key = (src, None, dst, None, PROTO.get(proto, str(proto)))
            packets[key] += 1
            octets[key] += length
    assert first is not None
    return packets, octets, datetime.fromtimestamp(first, timezone.utc)


def flow_counts(events: list[Event]) -> tuple[Counter, Counter]:
    packets: Counter = Counter()
    octets: Counter = Counter()
    for e in events:
        ports = (e.src_port, e.dst_port) if e.transport in ("tcp", "udp") else (None, None)
        key = (e.src_ip, ports[0], e.dst_ip, ports[1], e.transport)
        packets[key] += e.packets_out
        octets[key] += e.bytes_out
    return packets, octets


# -- the real exporter ----------------------------------------------------------------------------------------

def run_softflowd(pcap: Path, port: int, version: int, *, host: str = "127.0.0.1") -> str:
    """Replay a capture through softflowd into host:port; returns its output once it has exited.

    softflowd 1.1.0 reading a file waits on its control socket before it reads the capture and again before
    it exits (flushing every flow): each wait is released by connecting to the socket.
    """
    workdir = Path(tempfile.mkdtemp(prefix="sfd"))  # short: a Unix socket path has ~100 bytes
    ctl = workdir / "ctl"
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    proc = subprocess.Popen([SOFTFLOWD, "-r", str(pcap), "-n", target, "-v", str(version), "-d", "-a",
                             "-c", str(ctl), "-p", str(workdir / "pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if ctl.exists():
                with socket.socket(socket.AF_UNIX) as poke:
                    poke.settimeout(1)
                    try:
                        poke.connect(str(ctl))
                    except OSError:
                        pass
            time.sleep(0.05)
        assert proc.poll() is not None, "softflowd did not finish"
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        assert proc.returncode == 0, output
        return output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
        shutil.rmtree(workdir, ignore_errors=True)


class Collected:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def __call__(self, exporter: str, events: list[Event]) -> None:
        with self.lock:
            self.events.extend(events)


def settle(listener: NetflowListener, seconds: float = 10.0) -> None:
    """Wait until the listener has taken everything in flight (no new datagram for 0.3 s)."""
    deadline = time.monotonic() + seconds
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if listener.datagrams != last:
            last, since = listener.datagrams, time.monotonic()
        elif time.monotonic() - since > 0.3:
            return
        time.sleep(0.05)


def replay(pcap: Path, version: int, host: str = "127.0.0.1") -> tuple[list[Event], NetflowListener, str]:
    got = Collected()
    with NetflowListener(addresses=[(host, 0)], on_events=got) as listener:
        _, port = listener.addresses[0]
        output = run_softflowd(pcap, port, version, host=host)
        settle(listener)
    return got.events, listener, output


@needs_softflowd
@pytest.mark.datasets
@pytest.mark.parametrize("version", [5, 9, 10])
def test_softflowd_synscan_flows_match_the_capture(datasets: Path, version: int) -> None:
    pcap = datasets / "pcaps/chrissanders-packets/synscan.pcapng"
    events, listener, output = replay(pcap, version)
    stats = listener.stats["127.0.0.1"]
    assert stats.error_total == 0, stats.errors
    assert listener.update_kernel_drops() == 0
    want_packets, want_octets, first = pcap_flows(pcap)
    got_packets, got_octets = flow_counts(events)
    assert got_packets == want_packets  # every 5-tuple, packet for packet
    assert got_octets == want_octets
    scan = {e.dst_port for e in events if e.src_ip == "172.16.0.8" and e.dst_ip == "64.13.134.52"}
    assert len(scan) == 1000
    assert {e.source_kind for e in events} == {"netflow"} and {e.observer for e in events} == {"127.0.0.1"}
    assert all(e.extra["version"] == version and e.bytes_in is None and e.packets_in is None for e in events)
    # with -a softflowd keeps the capture's clock: flows start when the capture does (v9 headers carry whole seconds)
    assert abs((min(e.timestamp for e in events) - first).total_seconds()) < 1.0
    assert max(e.duration for e in events) == pytest.approx(21.68, abs=0.01)
    syn_only = [e for e in events if e.src_ip == "172.16.0.8" and e.packets_out == 1]
    assert syn_only and all(e.tcp_flags == "SYN" for e in syn_only)
    assert stats.records == len(events) == stats.stored
    if version != 5:
        assert stats.templates >= 1


@needs_softflowd
@pytest.mark.datasets
@pytest.mark.parametrize("version", [9, 10])
def test_softflowd_mixed_ipv4_ipv6_capture(datasets: Path, version: int) -> None:
    pcap = datasets / "pcaps/stratosphere-slips/test7-malicious.pcap"
    events, listener, _ = replay(pcap, version)
    assert listener.stats["127.0.0.1"].error_total == 0
    want_packets, want_octets, _ = pcap_flows(pcap)
    got_packets, got_octets = flow_counts(events)
    assert got_packets == want_packets
    assert got_octets == want_octets
    v6 = [e for e in events if ":" in (e.src_ip or "")]
    assert v6 and sum(e.packets_out for e in v6) == 61
    assert {e.transport for e in events} >= {"tcp", "udp"}
    # the horizontal telnet scan the capture is known for: many hosts on port 23
    telnet = {e.dst_ip for e in events if e.src_ip == "192.168.2.16" and e.dst_port == 23}
    assert telnet == {k[2] for k in want_packets if k[0] == "192.168.2.16" and k[3] == 23} and len(telnet) >= 40


@needs_softflowd
@pytest.mark.datasets
def test_softflowd_over_ipv6_loopback(datasets: Path) -> None:
    pcap = datasets / "pcaps/chrissanders-packets/dns_query_response.pcapng"
    events, listener, _ = replay(pcap, 10, host="::1")
    assert listener.addresses[0][0] == "::1"
    assert len(events) == 2 and {e.observer for e in events} == {"::1"}
    assert {e.transport for e in events} == {"udp"}


@needs_softflowd
@pytest.mark.datasets
@pytest.mark.engines
def test_listener_into_the_store(db, datasets: Path) -> None:  # type: ignore[no-untyped-def]
    from netwarden.pipeline import Pipeline
    from netwarden.store.events import EventFilter, find_events
    from netwarden.pipeline import LiveStream

    pcap = datasets / "pcaps/stratosphere-slips/malicious-ssh-bruteforce.pcap"
    stream = LiveStream(Pipeline(db), fmt=None, source="netflow")
    try:
        with NetflowListener(stream, [("127.0.0.1", 0)]) as listener:
            run_softflowd(pcap, listener.addresses[0][1], 9)
            settle(listener)
    finally:
        stream.close()
    stats = listener.stats["127.0.0.1"]
    with db.engine.connect() as conn:
        rows = find_events(conn, EventFilter(kind="netflow"), limit=100_000)
    assert len(rows) == stats.records == stats.stored > 0
    assert stream.stats.devices["127.0.0.1"].events == len(rows)
    ssh = [r for r in rows if r["src_ip"] == "147.32.80.40" and r["dst_ip"] == "147.32.80.37" and r["dst_port"] == 902]
    assert len({r["src_port"] for r in ssh}) >= 60  # 67 connections of the brute force
    assert all(r["observer"] == "127.0.0.1" and r["extra"]["version"] == 9 for r in rows)
    want_packets, _, _ = pcap_flows(pcap)
    assert sum(r["packets_out"] for r in rows) == sum(want_packets.values())


# -- builders for hand-made packets ---------------------------------------------------------------------------

def v9_packet(*flowsets: bytes, source_id: int = 0, uptime: int = 100_000, secs: int = 1_700_000_000) -> bytes:
    return struct.pack(">HHIIII", 9, len(flowsets), uptime, secs, 1, source_id) + b"".join(flowsets)


def flowset(set_id: int, body: bytes, pad: bool = True) -> bytes:
    if pad and len(body) % 4:
        body += b"\0" * (4 - len(body) % 4)
    return struct.pack(">HH", set_id, len(body) + 4) + body


def v9_template(template_id: int, fields: list[tuple[int, int]]) -> bytes:
    return flowset(0, struct.pack(">HH", template_id, len(fields)) + b"".join(struct.pack(">HH", *f) for f in fields))


V9_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4), (22, 4), (21, 4), (10, 2), (14, 2)]


def v9_record(src: str, dst: str, sport: int, dport: int, proto: int = 6, octets: int = 100, packets: int = 2,
              first: int = 90_000, last: int = 95_000) -> bytes:
    return struct.pack(">4s4sHHBIIIIHH", socket.inet_aton(src), socket.inet_aton(dst), sport, dport, proto,
                       octets, packets, first, last, 3, 4)


def ipfix_packet(*sets: bytes, domain: int = 7, export: int = 1_700_000_000) -> bytes:
    body = b"".join(sets)
    return struct.pack(">HHIII", 10, 16 + len(body), export, 1, domain) + body


def ipfix_set(set_id: int, body: bytes) -> bytes:
    return struct.pack(">HH", set_id, len(body) + 4) + body


def v5_packet(n: int = 2, count: int | None = None) -> bytes:
    head = struct.pack(">HHIIIIBBH", 5, n if count is None else count, 60_000, 1_700_000_000, 0, 1, 0, 0, 0)
    recs = b"".join(struct.pack(">4s4s4sHHIIIIHHxBBBHHBB2x", socket.inet_aton(f"10.0.0.{i + 1}"),
                                socket.inet_aton("192.0.2.9"), socket.inet_aton("0.0.0.0"), 1, 2, 3, 120,
                                50_000, 59_000, 40000 + i, 443, 0x12, 6, 0, 64512, 0, 24, 24) for i in range(n))
    return head + recs


# -- decoding details -----------------------------------------------------------------------------------------

def test_v5_fields_and_times() -> None:
    d = NetflowDecoder()
    events = d.decode(v5_packet(2), "192.0.2.1")
    assert [e.src_ip for e in events] == ["10.0.0.1", "10.0.0.2"]
    e = events[0]
    assert (e.dst_ip, e.src_port, e.dst_port, e.transport, e.packets_out, e.bytes_out) == \
        ("192.0.2.9", 40000, 443, "tcp", 3, 120)
    assert e.tcp_flags == "SYN,ACK" and e.duration == 9.0
    assert e.timestamp == datetime.fromtimestamp(1_700_000_000 - 10, timezone.utc)
    assert e.extra["in_if"] == 1 and e.extra["out_if"] == 2 and e.extra["src_as"] == 64512
    assert "dst_as" not in e.extra and "next_hop" not in e.extra


def test_v9_templates_are_per_exporter_and_source_id() -> None:
    d = NetflowDecoder()
    # the same template id means different layouts for two exporters and for two source ids of one exporter
    d.decode(v9_packet(v9_template(256, V9_FIELDS)), "192.0.2.1")
    d.decode(v9_packet(v9_template(256, [(12, 4), (8, 4), (11, 2), (7, 2), (4, 1), (1, 4), (2, 4), (22, 4),
                                         (21, 4), (10, 2), (14, 2)])), "192.0.2.2")
    d.decode(v9_packet(v9_template(256, [(8, 4), (12, 4)]), source_id=5), "192.0.2.1")
    record = v9_record("10.1.1.1", "10.2.2.2", 1234, 80)
    a = d.decode(v9_packet(flowset(256, record)), "192.0.2.1")
    b = d.decode(v9_packet(flowset(256, record)), "192.0.2.2")
    c = d.decode(v9_packet(flowset(256, record[:8]), source_id=5), "192.0.2.1")
    assert (a[0].src_ip, a[0].dst_port) == ("10.1.1.1", 80)
    assert (b[0].src_ip, b[0].dst_port) == ("10.2.2.2", 1234)
    assert (c[0].src_ip, c[0].dst_ip, c[0].src_port) == ("10.1.1.1", "10.2.2.2", None)
    assert a[0].timestamp == datetime.fromtimestamp(1_700_000_000 - 10, timezone.utc) and a[0].duration == 5.0
    assert a[0].extra["in_if"] == 3 and a[0].extra["out_if"] == 4 and a[0].extra["version"] == 9
    assert c[0].extra["domain"] == 5


def test_v9_template_refresh_replaces_the_layout() -> None:
    d = NetflowDecoder()
    d.decode(v9_packet(v9_template(300, [(8, 4), (12, 4)])), "gw")
    d.decode(v9_packet(v9_template(300, [(12, 4), (8, 4)])), "gw")
    e = d.decode(v9_packet(flowset(300, socket.inet_aton("1.1.1.1") + socket.inet_aton("2.2.2.2"))), "gw")
    assert e[0].src_ip == "2.2.2.2" and d.stats["gw"].templates == 2


def test_data_before_template_is_held_then_decoded() -> None:
    d = NetflowDecoder()
    record = v9_record("10.1.1.1", "10.2.2.2", 1234, 80)
    assert d.decode(v9_packet(flowset(256, record * 3)), "gw") == []
    assert d.stats["gw"].buffered == 1
    events = d.decode(v9_packet(v9_template(256, V9_FIELDS)), "gw")
    assert len(events) == 3 and events[0].dst_port == 80
    # a template that never comes: held sets are bounded and the rest counted
    for _ in range(MAX_PENDING_SETS + 10):
        d.decode(v9_packet(flowset(999, record)), "gw")
    assert d.stats["gw"].errors["no_template"] == 10
    assert len(d.exporters.states["gw"].pending) <= MAX_PENDING_SETS


def test_v9_options_template_and_sampling() -> None:
    d = NetflowDecoder()
    # scope: system (type 1, 4 bytes); options: sampling interval (34) and algorithm (35)
    options = flowset(1, struct.pack(">HHH", 400, 4, 8) + struct.pack(">HHHHHH", 1, 4, 34, 4, 35, 1))
    d.decode(v9_packet(options, flowset(400, struct.pack(">IIB", 0, 100, 2))), "gw")
    d.decode(v9_packet(v9_template(256, V9_FIELDS)), "gw")
    e = d.decode(v9_packet(flowset(256, v9_record("10.1.1.1", "10.2.2.2", 1, 2))), "gw")[0]
    assert e.extra["sampling"] == 100
    assert d.stats["gw"].options_records == 1 and d.stats["gw"].error_total == 0


def test_ipfix_enterprise_variable_length_ipv6_and_absolute_times() -> None:
    d = NetflowDecoder()
    fields = (struct.pack(">HH", 27, 16) + struct.pack(">HH", 28, 16) + struct.pack(">HH", 7, 2)
              + struct.pack(">HH", 11, 2) + struct.pack(">HH", 4, 1)
              + struct.pack(">HHI", 0x8000 | 42, 3, 9) + struct.pack(">HH", 96, 0xFFFF)  # enterprise; varlen name
              + struct.pack(">HH", 152, 8) + struct.pack(">HH", 153, 8) + struct.pack(">HH", 85, 8)
              + struct.pack(">HH", 86, 8) + struct.pack(">HH", 6, 2) + struct.pack(">HHI", 0x8000 | 1, 8, 29305))
    template = ipfix_set(2, struct.pack(">HH", 500, 13) + fields)
    start = 1_700_000_000_123

    def record(name: bytes, long: bool = False) -> bytes:
        size = struct.pack(">BH", 255, len(name)) if long else struct.pack(">B", len(name))
        return (socket.inet_pton(socket.AF_INET6, "2001:db8::1") + socket.inet_pton(socket.AF_INET6, "2001:db8::2")
                + struct.pack(">HHB", 5353, 53, 17) + b"\xff\xfe\xfd" + size + name
                + struct.pack(">QQQQHQ", start, start + 1500, 900, 3, 0x02, 4242))

    events = d.decode(ipfix_packet(template, ipfix_set(500, record(b"dns") + record(b"x" * 300, long=True))), "2001:db8::ff")
    assert len(events) == 2, d.stats["2001:db8::ff"].errors
    e = events[0]
    assert (e.src_ip, e.dst_ip, e.src_port, e.dst_port, e.transport) == ("2001:db8::1", "2001:db8::2", 5353, 53, "udp")
    assert e.bytes_out == 900 and e.packets_out == 3 and e.bytes_in == 4242  # RFC 5103 reverse octets
    assert e.timestamp == datetime.fromtimestamp(start / 1000, timezone.utc) and e.duration == 1.5
    assert e.tcp_flags is None and e.extra["domain"] == 7 and e.extra["version"] == 10
    # a variable-length field whose length runs past the set is counted, not read
    good = record(b"dns")
    d.decode(ipfix_packet(template, ipfix_set(500, good[:40] + b"\xf0" + good[41:])), "2001:db8::ff")
    assert d.stats["2001:db8::ff"].errors["bad_record"] == 1


def test_ipfix_options_give_system_init_time_for_uptime_fields() -> None:
    d = NetflowDecoder()
    options = ipfix_set(3, struct.pack(">HHH", 600, 2, 1) + struct.pack(">HHHH", 149, 4, 160, 8))
    init = 1_600_000_000_000
    data_opts = ipfix_set(600, struct.pack(">IQ", 7, init))
    template = ipfix_set(2, struct.pack(">HH", 256, 4) + struct.pack(">HHHHHHHH", 8, 4, 12, 4, 22, 4, 21, 4))
    rec = socket.inet_aton("10.0.0.1") + socket.inet_aton("10.0.0.2") + struct.pack(">II", 5_000, 7_000)
    events = d.decode(ipfix_packet(options, data_opts, template, ipfix_set(256, rec)), "gw")
    assert events[0].timestamp == datetime.fromtimestamp((init + 5_000) / 1000, timezone.utc)
    assert events[0].duration == 2.0


def test_ipfix_template_withdrawal() -> None:
    d = NetflowDecoder()
    template = ipfix_set(2, struct.pack(">HHHHHH", 256, 2, 8, 4, 12, 4))
    rec = ipfix_set(256, socket.inet_aton("10.0.0.1") + socket.inet_aton("10.0.0.2"))
    assert len(d.decode(ipfix_packet(template, rec), "gw")) == 1
    d.decode(ipfix_packet(ipfix_set(2, struct.pack(">HH", 256, 0))), "gw")
    assert d.decode(ipfix_packet(rec), "gw") == [] and d.stats["gw"].template_withdrawals == 1
    d.decode(ipfix_packet(template), "gw")  # the held set is decoded when the template comes back
    d.decode(ipfix_packet(ipfix_set(2, struct.pack(">HH", 2, 0))), "gw")  # withdraw all
    assert not d.exporters.states["gw"].templates


# -- hostile input --------------------------------------------------------------------------------------------

def _assert_sane(d: NetflowDecoder) -> None:
    for stats in d.stats.values():
        assert stats.errors["internal_error"] == 0


def test_hostile_packets_are_counted_by_reason() -> None:
    d = NetflowDecoder()
    good_template = v9_template(256, V9_FIELDS)
    cases = {
        "truncated_header": [b"\x00", b"\x00\x09\x00", b"\x00\x0a" + b"\0" * 10, v5_packet(1)[:20]],
        "truncated_packet": [v5_packet(3)[:-1], ipfix_packet(ipfix_set(2, b"\0" * 8))[:-3] + b""],
        "bad_count": [v5_packet(0), v5_packet(1, count=31)],
        "unknown_version": [b"\x00\x07" + b"\0" * 40, b"\xff\xff" + os.urandom(60)],
        "bad_set_length": [v9_packet(struct.pack(">HH", 256, 0) + b"\0" * 20),
                           ipfix_packet(struct.pack(">HH", 256, 2) + b"\0" * 8)],
        "truncated_set": [v9_packet(struct.pack(">HH", 0, 400) + b"\0" * 20)],
        "truncated_template": [v9_packet(flowset(0, struct.pack(">HH", 256, 10) + struct.pack(">HH", 8, 4))),
                               ipfix_packet(ipfix_set(2, struct.pack(">HH", 256, 3) + struct.pack(">HHI", 0x8001, 4, 9)))],
        "bad_template": [v9_packet(flowset(0, struct.pack(">HH", 256, 65535) + b"\0\x08\0\x04" * 100)),
                         v9_packet(flowset(0, struct.pack(">HH", 256, 2) + struct.pack(">HHHH", 8, 0, 12, 4))),
                         v9_packet(flowset(0, struct.pack(">HH", 256, 2) + struct.pack(">HHHH", 8, 65000, 12, 65000))),
                         ipfix_packet(ipfix_set(2, struct.pack(">HH", 256, 65535) + b"\0\x08\0\x04" * 100)),
                         ipfix_packet(ipfix_set(3, struct.pack(">HHH", 256, 2, 5) + b"\0\x08\0\x04" * 2)),
                         v9_packet(flowset(0, struct.pack(">HH", 17, 1) + b"\0\x08\0\x04"))],
    }
    for reason, packets in cases.items():
        for packet in packets:
            before = sum(s.errors[reason] for s in d.stats.values())
            assert d.decode(packet, "198.51.100.1") == []
            assert sum(s.errors[reason] for s in d.stats.values()) == before + 1, (reason, packet[:40].hex())
    # a lying template (more fields than the set holds) left nothing behind; a good one still works
    assert not d.exporters.states["198.51.100.1"].templates
    events = d.decode(v9_packet(good_template, flowset(256, v9_record("10.0.0.1", "10.0.0.2", 1, 2))), "198.51.100.1")
    assert len(events) == 1
    _assert_sane(d)


def test_state_is_bounded() -> None:
    d = NetflowDecoder(max_exporters=8)
    for i in range(20):
        d.decode(v9_packet(v9_template(256, V9_FIELDS)), f"10.9.0.{i}")
    assert len(d.exporters.states) == 8 and d.exporters.evicted == 12
    for tid in range(256, 256 + MAX_TEMPLATES + 40):
        d.decode(v9_packet(v9_template(tid, [(8, 4)])), "10.9.0.19")
    assert len(d.exporters.states["10.9.0.19"].templates) == MAX_TEMPLATES
    assert d.stats["10.9.0.19"].errors["template_limit"] == 40  # 256 was there already


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1500), st.sampled_from([b"", b"\x00\x05", b"\x00\x09", b"\x00\x0a"]))
def test_random_bytes_never_crash(data: bytes, prefix: bytes) -> None:
    d = NetflowDecoder()
    d.decode(v9_packet(v9_template(256, V9_FIELDS)), "gw")
    events = d.decode(prefix + data, "gw")
    assert isinstance(events, list)
    _assert_sane(d)


GOOD = [
    v9_packet(v9_template(256, V9_FIELDS), flowset(256, v9_record("10.0.0.1", "10.0.0.2", 1, 2) * 3)),
    ipfix_packet(ipfix_set(2, struct.pack(">HH", 256, 3) + struct.pack(">HHHHHH", 8, 4, 96, 0xFFFF, 12, 4)),
                 ipfix_set(256, socket.inet_aton("10.0.0.1") + b"\x03abc" + socket.inet_aton("10.0.0.2"))),
    v5_packet(3),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(GOOD), st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=8),
       st.integers(0, 2000))
def test_mutated_real_packets_never_crash(packet: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(packet)
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    d = NetflowDecoder()
    for _ in range(2):  # the second time with whatever templates the first left
        events = d.decode(bytes(data[:max(cut, 2)]), "gw")
        assert all(isinstance(e, Event) for e in events)
    _assert_sane(d)


def test_listener_survives_garbage_and_keeps_working() -> None:
    got = Collected()
    with NetflowListener(addresses=[("127.0.0.1", 0)], on_events=got) as listener:
        target = listener.address()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for packet in (b"", b"\x00", os.urandom(1000), b"\x00\x09" + os.urandom(200), v5_packet(3)[:-5],
                           v9_packet(struct.pack(">HH", 0, 0)), b"\x00\x0a\xff\xff" + os.urandom(100)):
                tx.sendto(packet, target)
            tx.sendto(v5_packet(2), target)
            deadline = time.monotonic() + 5
            while len(got.events) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
    stats = listener.stats["127.0.0.1"]
    assert len(got.events) == 2 and stats.records == 2
    assert stats.packets == 8 and stats.error_total == 7
    assert stats.errors["internal_error"] == 0


def test_listen_netflow_command(tmp_path: Path) -> None:
    import signal
    import sys

    db_file = tmp_path / "nf.db"
    proc = subprocess.Popen([sys.executable, "-c", "from netwarden.cli import main; main()", "listen", "netflow",
                             "--udp", "127.0.0.1:0", "--db", f"sqlite:///{db_file}", "--status-every", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("listening on udp 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(v5_packet(3), ("127.0.0.1", port))
            tx.sendto(b"\x00\x63garbage", ("127.0.0.1", port))
        time.sleep(0.6)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, output
    assert "stopped after" in output and "records 3, stored 3" in output
    assert "unknown_version 1" in output
    from netwarden.store.database import Database
    from netwarden.store.events import EventFilter, find_events

    db = Database.open(f"sqlite:///{db_file}")
    try:
        with db.engine.connect() as conn:
            rows = find_events(conn, EventFilter(kind="netflow"), limit=10)
    finally:
        db.close()
    assert sorted(r["src_ip"] for r in rows) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
