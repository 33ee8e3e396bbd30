"""Live capture on a veth pair between the test's own network namespace and the root side.

Real tcpdump, real kernel traffic (ping, a TCP connection): flows must reach the store while the capture
runs (active timeout) and when it stops. Needs root, tcpdump and iproute2; everything is deleted after.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from netwarden.collect.capture import CaptureError, LiveCapture
from netwarden.pipeline import Pipeline
from netwarden.store.database import Database
from netwarden.store.schema import events as events_table
from netwarden.pipeline import LiveStream

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("tcpdump") or not shutil.which("ip"),
    reason="live capture needs root, tcpdump and iproute2")


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=20, check=check)


@pytest.fixture
def veth():  # type: ignore[no-untyped-def]
    """(root-side interface, namespace, root address, namespace address); always removed."""
    tag = f"{os.getpid() % 10000}{random.randrange(1000)}"
    ns, a, b = f"nwcap{tag}", f"nwc{tag}a", f"nwc{tag}b"
    for _ in range(50):
        third = random.randrange(1, 255)
        if not sh("ip", "-4", "addr", "show", "to", f"10.200.{third}.0/24").stdout.strip():
            break
    ip_a, ip_b = f"10.200.{third}.1", f"10.200.{third}.2"
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        sh("ip", "link", "set", b, "netns", ns)
        sh("ip", "addr", "add", f"{ip_a}/30", "dev", a)
        sh("ip", "link", "set", a, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ip_b}/30", "dev", b)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", b, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield a, ns, ip_a, ip_b
    finally:
        sh("ip", "link", "del", a, check=False)
        sh("ip", "netns", "del", ns, check=False)


def stored(db: Database) -> list[dict]:
    with db.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(events_table).order_by(events_table.c.id))]
    for row in rows:
        row["extra"] = json.loads(row["extra"]) if isinstance(row["extra"], str) else (row["extra"] or {})
    return rows


def wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


PING = """
import socket, struct, sys, time
# ping is not always installed: ICMP echo by hand on a raw socket (root)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1)
def checksum(b):
    total = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
replies = 0
for seq in range(int(sys.argv[2])):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4E57, seq) + b"netwarden!"  # even length, for the checksum
    s.sendto(body[:2] + struct.pack("!H", checksum(body)) + body[4:], (sys.argv[1], 0))
    try:
        data = s.recv(200)
        replies += data[20] == 0
    except socket.timeout:
        pass
    time.sleep(0.2)
sys.exit(0 if replies == int(sys.argv[2]) else 1)
"""


def ping(ns: str, address: str, count: int) -> None:
    sh("ip", "netns", "exec", ns, sys.executable, "-c", PING, address, str(count))


CLIENT = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    s.sendall(b"GET /live?n=1 HTTP/1.1\\r\\nHost: test\\r\\nUser-Agent: nw-test\\r\\n\\r\\n")
    s.recv(100)
    time.sleep(0.2)
s.close()
"""


def test_live_capture_reports_flows_while_running_and_on_stop(veth, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    iface, ns, ip_root, ip_ns = veth
    db = Database.open(f"sqlite:///{tmp_path / 'live.db'}")
    stream = LiveStream(Pipeline(db), fmt=None, source=f"capture/{iface}", max_delay=0.1)
    capture = LiveCapture(stream, iface, bpf="ip", active_timeout=1.0, idle_timeout=2.0)
    server = socket.create_server((ip_root, 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" if data.startswith(b"GET") else b"ok")

    thread = threading.Thread(target=serve, daemon=True)
    client = None
    try:
        capture.start()
        thread.start()
        client = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, ip_root, str(port), "8"])
        ping(ns, ip_root, 3)

        def tcp_rows() -> list[dict]:
            return [r for r in stored(db) if r["transport"] == "tcp" and r["dst_port"] == port]

        # the connection is still open, and its flow is already in the store (active timeout)
        # the client runs 8 s so that a loaded machine still sees a record of it while it runs
        assert wait_for(lambda: any(r["extra"].get("end") == "active" for r in tcp_rows()), 6.0)
        assert client.poll() is None, "the client ended before any record: the test proves nothing"
        early = tcp_rows()[0]
        assert (early["src_ip"], early["dst_ip"]) == (ip_ns, ip_root)
        assert early["packets_out"] >= 1 and early["observer"] == iface
        assert early["app_protocol"] == "http" and early["url"] == "/live?n=1"
        # the ping sweep ends on the idle timeout, while the capture runs
        assert wait_for(lambda: any(r["transport"] == "icmp" for r in stored(db)), 5.0)
        client.wait(timeout=15)
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        capture.stop()
        stream.close()
        server.close()
    rows = stored(db)
    tcp = [r for r in rows if r["transport"] == "tcp" and r["dst_port"] == port and r["packets_out"] is not None]
    assert len(tcp) >= 3  # several active-timeout parts, then the end
    assert [r["extra"].get("part", 1) for r in tcp] == list(range(1, len(tcp) + 1))
    assert tcp[-1]["extra"]["end"] in {"tcp_end", "stopped", "idle"}
    assert sum(r["packets_out"] for r in tcp) >= 15  # ~20 requests in 4 s
    assert "FIN" in tcp[-1]["tcp_flags"]
    icmp = [r for r in rows if r["transport"] == "icmp"]
    assert {(r["src_ip"], r["dst_ip"]) for r in icmp} == {(ip_ns, ip_root)}
    assert sum(r["packets_out"] for r in icmp) == 3 and sum(r["packets_in"] for r in icmp) == 3
    status = capture.status()
    assert not status.running and status.error is None and status.packets >= 40
    assert status.events == len(rows)
    db.close()


def test_capture_errors_carry_tcpdumps_message(veth, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    iface = veth[0]
    db = Database.open(f"sqlite:///{tmp_path / 'e.db'}")
    stream = LiveStream(Pipeline(db), fmt=None, source="capture/x")
    try:
        with pytest.raises(CaptureError, match="nwnosuchif0"):
            LiveCapture(stream, "nwnosuchif0").start()
        with pytest.raises(CaptureError, match="syntax|parse|error"):
            LiveCapture(stream, iface, bpf="port port port").start()
        with pytest.raises(ValueError):
            LiveCapture(stream, "-w/etc/passwd")
    finally:
        stream.close()
        db.close()


def test_capture_command(veth, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    iface, ns, ip_root, _ = veth
    db = f"sqlite:///{tmp_path / 'cmd.db'}"
    proc = subprocess.Popen([str(Path(sys.executable).with_name("netwarden")), "--db", db, "capture", "-i", iface,
                             "-f", "icmp", "--duration", "3", "--idle-timeout", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # ping once the command says it is capturing (start-up is slow on a loaded machine), then give
        # tcpdump a moment to open the interface
        first = ""
        while proc.stderr and "capturing on" not in first and len(first.splitlines()) < 20:
            line = proc.stderr.readline()
            if not line:
                break
            first += line
        time.sleep(0.5)
        ping(ns, ip_root, 2)
        out, errors = proc.communicate(timeout=20)
        errors = first + errors
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, errors
    assert "capturing on" in errors and "packets" in out
    database = Database.open(db)
    rows = stored(database)
    database.close()
    assert rows and all(r["transport"] == "icmp" for r in rows)
    assert sum(r["packets_out"] for r in rows) == 2
