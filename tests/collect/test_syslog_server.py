"""The syslog server with real peers: rsyslogd forwarding (UDP, TCP octet-counted, TCP one line per message),
util-linux ``logger``, a TLS client, and hostile clients. Everything on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.waiting import wait_for
from netwarden.collect.syslog_server import DEFAULT_PORT, SyslogServer, SyslogServerConfig
from netwarden.endpoints import parse_address
from netwarden.pipeline import Pipeline
from netwarden.store.database import Database
from netwarden.store.events import EventFilter, find_events
from netwarden.pipeline import DeviceCounters, LiveStream

SSH = "Failed password for {user} from 203.0.113.{n} port 4{n:04d} ssh2"
LINE = "<38>Nov 21 10:00:01 gw01 sshd[77]: " + SSH
DEVICE = "127.0.0.2"  # hostile clients bind here so that their counters are told apart




def stored(db: Database, **filters: object) -> list[dict]:
    with db.engine.connect() as conn:
        return find_events(conn, EventFilter(**filters), limit=100_000, newest_first=False)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    yield db
    db.close()


@contextmanager
def listening(db: Database, *, max_pending: int = 50_000, batch_size: int = 500, max_delay: float = 0.05,
              **config: object) -> Iterator[SyslogServer]:
    config.setdefault("udp", [("127.0.0.1", 0)])
    config.setdefault("tcp", [("127.0.0.1", 0)])
    stream = LiveStream(Pipeline(db), fmt="syslog", source="syslog", batch_size=batch_size, max_delay=max_delay,
                        max_pending=max_pending)
    server = SyslogServer(stream, SyslogServerConfig(**config))  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        server.stop()
        stream.close()


def device(server: SyslogServer, name: str) -> DeviceCounters:
    """The stream's counters for one device (all zero before its first message)."""
    return server.stream.stats.devices.get(name) or DeviceCounters()


def tcp_client(server: SyslogServer, source: str = DEVICE) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.bind((source, 0))
    sock.connect(server.address("tcp"))
    return sock


def closed_by_peer(sock: socket.socket, timeout: float = 5.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def still_serving(server: SyslogServer, db: Database, user: str) -> None:
    """A well-behaved client is served after the hostile ones."""
    with tcp_client(server, "127.0.0.1") as sock:
        sock.sendall((LINE.format(user=user, n=200) + "\n").encode())
    wait_for(lambda: stored(db, text=user), what=f"{user}'s line")


# -- real peers: rsyslogd ------------------------------------------------------------------------

@contextmanager
def rsyslogd(tmp_path: Path, action: str) -> Iterator[Path]:
    """A real rsyslogd reading a file (imfile) and forwarding with ``action``; yields the file to append to."""
    if shutil.which("rsyslogd") is None:
        pytest.fail("rsyslogd is not installed")
    work = tmp_path / "rsyslog"
    work.mkdir()
    infile = work / "in.log"
    infile.touch()
    conf = work / "rsyslog.conf"
    conf.write_text(f"""
global(workDirectory="{work}")
module(load="imfile")
input(type="imfile" File="{infile}" Tag="sshd[4242]:" Facility="auth" Severity="info")
{action}
""")
    proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")
        yield infile
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


FORWARDS = {
    "udp": ('protocol="udp"', "udp"),
    "tcp-octet-counted": ('protocol="tcp" TCP_Framing="octet-counted"', "tcp"),
    "tcp-lines": ('protocol="tcp"', "tcp"),
}


@pytest.mark.parametrize("forward", list(FORWARDS))
def test_rsyslogd_forwards_to_the_listener(forward: str, sqlite_db: Database, tmp_path: Path) -> None:
    options, kind = FORWARDS[forward]
    with listening(sqlite_db) as server:
        host, port = server.address(kind)
        action = f'action(type="omfwd" target="{host}" port="{port}" {options})'
        with rsyslogd(tmp_path, action) as infile:
            with infile.open("a") as f:
                for n in range(20):
                    f.write(SSH.format(user=f"user{n}", n=n) + "\n")
                f.write("a plain line with no sshd meaning\n")
            wait_for(lambda: len(stored(sqlite_db)) >= 21, 15, "21 forwarded events")
        rows = stored(sqlite_db)
        auth = [r for r in rows if r["user"]]
        assert sorted(r["user"] for r in auth) == sorted(f"user{n}" for n in range(20))
        assert {r["src_ip"] for r in auth} == {f"203.0.113.{n}" for n in range(20)}
        assert {r["observer"] for r in rows} == {"127.0.0.1"}  # the peer, not the host name it wrote
        assert all(r["source_kind"] == "auth" and r["outcome"] == "failure" for r in auth)
        d = device(server, "127.0.0.1")
        assert (d.received, d.events, d.quarantined, d.dropped) == (21, 21, 0, 0)
        if kind == "tcp":
            assert server.stats.frames == 21


# -- real peers: util-linux logger ---------------------------------------------------------------

@pytest.mark.parametrize("how", [["-d"], ["-T"], ["-T", "--octet-count"], ["-T", "--rfc3164"]])
def test_logger_sends_to_the_listener(how: list[str], sqlite_db: Database) -> None:
    with listening(sqlite_db) as server:
        host, port = server.address("udp" if "-d" in how else "tcp")
        user = "logger" + "".join(c for c in "".join(how) if c.isalnum())
        subprocess.run(["logger", "-n", host, "-P", str(port), *how, "-t", "sshd", "-p", "auth.info",
                        SSH.format(user=user, n=9)], check=True, timeout=10)
        wait_for(lambda: stored(sqlite_db), what="logger's event")
        (row,) = stored(sqlite_db)
        assert (row["source_kind"], row["user"], row["src_ip"], row["observer"]) == \
            ("auth", user, "203.0.113.9", "127.0.0.1")


def test_ipv6_and_every_engine(db: Database) -> None:
    """logger over ::1 (TCP and UDP), stored on SQLite, MariaDB and PostgreSQL."""
    with listening(db, udp=[("::1", 0)], tcp=[("::1", 0)]) as server:
        for kind, flag in (("udp", "-d"), ("tcp", "-T")):
            _, port = server.address(kind, socket.AF_INET6)
            subprocess.run(["logger", "-n", "::1", "-P", str(port), flag, "-t", "sshd",
                            SSH.format(user=f"v6{kind}", n=6)], check=True, timeout=10)
        wait_for(lambda: len(stored(db)) == 2, what="two events over IPv6")
    rows = stored(db)
    assert sorted(r["user"] for r in rows) == ["v6tcp", "v6udp"]
    assert {r["observer"] for r in rows} == {"::1"}


def test_tls_with_a_self_signed_certificate(sqlite_db: Database, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)
    with listening(sqlite_db, tcp=[], tls=[("127.0.0.1", 0)], certfile=str(cert), keyfile=str(key)) as server:
        context = ssl.create_default_context(cafile=str(cert))
        messages = [LINE.format(user=f"tls{n}", n=n).encode() for n in range(5)]
        with socket.create_connection(server.address("tls"), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"".join(b"%d %s" % (len(m), m) for m in messages))  # RFC 5425 framing
        # a client that does not speak TLS is turned away without harm
        with socket.create_connection(server.address("tls"), timeout=5) as plain:
            plain.sendall((LINE.format(user="plaintext", n=1) + "\n").encode())
            assert closed_by_peer(plain)
        wait_for(lambda: len(stored(sqlite_db)) == 5, what="5 events over TLS")
        assert sorted(r["user"] for r in stored(sqlite_db)) == [f"tls{n}" for n in range(5)]
        assert not stored(sqlite_db, text="plaintext")


# -- hostile input -------------------------------------------------------------------------------

def test_oversized_messages_are_counted_and_skipped(sqlite_db: Database) -> None:
    with listening(sqlite_db, max_message_bytes=1024) as server:
        good = LINE.format(user="after_big", n=1).encode()
        with tcp_client(server) as sock:  # octet-counted: the big frame is skipped exactly, the next one read
            sock.sendall(b"5000 " + b"x" * 5000 + b"%d %s" % (len(good), good))
        with tcp_client(server) as sock:  # one line per message: up to the end of the long line
            sock.sendall(b"<38>" + b"y" * 300_000 + b"\n" + LINE.format(user="after_long", n=2).encode() + b"\n")
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((DEVICE, 0))
        udp.sendto(b"<38>" + b"z" * 4000, server.address("udp"))
        udp.sendto(LINE.format(user="after_dgram", n=3).encode(), server.address("udp"))
        udp.close()
        wait_for(lambda: len(stored(sqlite_db)) == 3, what="the three good messages")
        assert server.stats.device_reasons[DEVICE]["too_large"] == 3
        d = device(server, DEVICE)
        assert (d.received, d.events, d.dropped) == (6, 3, 3)


def test_truncated_garbage_and_junk_frames(sqlite_db: Database) -> None:
    with listening(sqlite_db) as server:
        with tcp_client(server) as sock:  # the count promises more than comes, then the client leaves
            sock.sendall(b"500 <38>Nov 21 10:00:01 gw sshd[1]: short")
        for junk in (b"-5 <38>hello\n", b"12x4 hello\n", b"99999999999999999999 hello\n"):
            with tcp_client(server) as sock:  # counts that are no number: the octet stream starts with digits
                sock.sendall(b"3 abc" + junk + b"more")
                assert closed_by_peer(sock), junk
        with tcp_client(server) as sock:  # binary junk in line mode: quarantined, the connection goes on
            sock.sendall(os.urandom(2000).replace(b"\n", b"") + b"\n\xff\xfe\x00\x01junk\n")
            sock.sendall((LINE.format(user="after_junk", n=4) + "\n").encode())
        wait_for(lambda: stored(sqlite_db, text="after_junk"), what="the line after the junk")
        reasons = server.stats.device_reasons[DEVICE]
        assert reasons["truncated_frame"] == 1 and reasons["bad_octet_count"] == 3
        wait_for(lambda: device(server, DEVICE).quarantined >= 3, what="junk quarantined")
        d = device(server, DEVICE)
        assert d.dropped == 4
        assert d.received == d.events + d.quarantined + d.dropped
        still_serving(server, sqlite_db, "after_hostile")


def test_half_open_and_too_many_connections(sqlite_db: Database) -> None:
    with listening(sqlite_db, max_connections=20, idle_timeout=0.5) as server:
        silent = [tcp_client(server) for _ in range(20)]  # connect and say nothing (half-open)
        try:
            wait_for(lambda: server.stats.connections_open == 20, what="20 connections")
            extra = tcp_client(server)
            assert closed_by_peer(extra)
            extra.close()
            assert server.stats.device_reasons[DEVICE]["too_many_connections"] >= 1
            for sock in silent:  # closed by the idle timeout
                assert closed_by_peer(sock, 5)
            wait_for(lambda: server.stats.connections_open == 0, what="idle connections closed")
            assert server.stats.device_reasons[DEVICE]["idle_timeout_closed"] == 20
        finally:
            for sock in silent:
                sock.close()
        # a partial last line is still a message when the client stops sending and the idle timeout closes
        with tcp_client(server) as sock:
            sock.sendall(LINE.format(user="no_newline", n=5).encode())
            assert closed_by_peer(sock, 5)
        wait_for(lambda: stored(sqlite_db, text="no_newline"), what="the unterminated line")
        still_serving(server, sqlite_db, "after_idle")


def test_one_host_holding_idle_connections_cannot_lock_others_out(sqlite_db: Database) -> None:
    """Hundreds of silent connections from one address: past the per-address limit they are refused, the
    others are closed once they have sent no whole message for first_message_timeout, and every other
    sender is served all along; a connection that delivered a message keeps the long idle timeout."""
    with listening(sqlite_db, max_connections=1000, max_connections_per_address=20, idle_timeout=600,
                   first_message_timeout=1.0) as server:
        hostile = []
        try:
            for _ in range(200):
                hostile.append(tcp_client(server))
            reasons = lambda: server.stats.device_reasons.get(DEVICE, {})  # noqa: E731
            wait_for(lambda: reasons().get("too_many_from_address") == 180,
                     what="180 refusals")
            assert server.stats.connections_open <= 20
            still_serving(server, sqlite_db, "during_the_flood")
            with tcp_client(server, "127.0.0.3") as talker:  # a device that talks, then pauses
                talker.sendall((LINE.format(user="talker", n=3) + "\n").encode())
                wait_for(lambda: reasons().get("no_message_closed") == 20, timeout=10,
                         what="the silent connections closed")
                assert not closed_by_peer(talker, 0.5)  # it delivered a message: the 600 s idle timeout holds
            wait_for(lambda: stored(sqlite_db, text="talker"), what="the talker's line")
            assert server.stats.device_reasons.get("127.0.0.3", {}).get("no_message_closed", 0) == 0
            with tcp_client(server) as again:  # the hostile host's count went back down
                again.sendall((LINE.format(user="back", n=4) + "\n").encode())
            wait_for(lambda: stored(sqlite_db, text="back"), what="the hostile host's own line")
        finally:
            for sock in hostile:
                sock.close()


def test_many_connections_at_once(sqlite_db: Database) -> None:
    with listening(sqlite_db) as server:
        socks = [tcp_client(server, f"127.0.0.{10 + i % 5}") for i in range(200)]
        for i, sock in enumerate(socks):
            sock.sendall((LINE.format(user=f"many{i}", n=i % 250) + "\n").encode())
        for sock in socks:
            sock.close()
        wait_for(lambda: len(stored(sqlite_db)) == 200, what="200 events")
        assert {r["observer"] for r in stored(sqlite_db)} == {f"127.0.0.{10 + i}" for i in range(5)}


# -- back-pressure -------------------------------------------------------------------------------

def test_tcp_pauses_instead_of_dropping_while_udp_counts_its_drops(sqlite_db: Database) -> None:
    n = 3000
    with listening(sqlite_db, max_pending=50, batch_size=10_000, max_delay=0.05) as server:
        with tcp_client(server) as sock:
            sock.sendall("".join(LINE.format(user=f"bp{i}", n=i % 250) + "\n" for i in range(n)).encode())
        wait_for(lambda: device(server, DEVICE).events == n, 30, "every TCP line stored")
        d = device(server, DEVICE)
        assert d.dropped == 0 and d.received == n
        assert server.stats.pauses > 0

        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.3", 0))
        for i in range(n):
            udp.sendto(LINE.format(user=f"u{i}", n=i % 250).encode(), server.address("udp"))
        udp.close()
        wait_for(lambda: "127.0.0.3" in server.stream.stats.devices and server.stream.pending == 0
                 and device(server, "127.0.0.3").received + server.stats.udp_kernel_drops >= n, 15,
                 "UDP accounted for")
        time.sleep(1.1)  # the kernel's drop counter is read once a second
        u = device(server, "127.0.0.3")
    stored_udp = len(stored(sqlite_db, text="Failed password for u"))
    assert u.dropped > 0
    assert stored_udp == u.events and u.events + u.dropped + server.stats.udp_kernel_drops == n


# -- the command ---------------------------------------------------------------------------------

def test_listen_syslog_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "netwarden"), "listen", "syslog", "--udp", "127.0.0.1:0",
                             "--tcp", "127.0.0.1:0", "--db", url, "--status-every", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ports = {}
        while len(ports) < 2:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line, "the command ended before listening"
            if line.startswith("listening on"):
                kind, endpoint = line.split()[2:4]
                ports[kind] = parse_address(endpoint, DEFAULT_PORT)[1]
        subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(ports["udp"]), "-d", "-t", "sshd",
                        SSH.format(user="cli_udp", n=1)], check=True, timeout=10)
        subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(ports["tcp"]), "-T", "--octet-count", "-t", "sshd",
                        SSH.format(user="cli_tcp", n=2)], check=True, timeout=10)
        lines = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if "127.0.0.1: received 2, stored 2" in line:
                break
        assert any("127.0.0.1: received 2, stored 2, quarantined 0, dropped 0" in x for x in lines), lines
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0, rest
        assert "stopped after" in rest and "received 2, stored 2, quarantined 0, dropped 0" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    db = Database.open(url)
    try:
        assert sorted(r["user"] for r in stored(db)) == ["cli_tcp", "cli_udp"]
    finally:
        db.close()
