"""Request bodies against a real server (uvicorn on loopback): anonymous bodies are refused before they are
read, and every body has a cap, answered with 413 without reading the rest, whether announced or streamed."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from netwarden.config import Settings
from netwarden.store.database import Database
from netwarden.accounts import users as accounts
from netwarden.accounts.sessions import create_token

from .conftest import PASSWORD

MIB = 1 << 20
LINE = '203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /admin HTTP/1.1" 404 12 "-" "curl/8"'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[tuple[str, int], str]]:
    """A running server with 1 MiB JSON and 2 MiB upload caps, its address and an analyst's API token."""
    from netwarden.serve import Server

    url = f"sqlite:///{tmp_path_factory.mktemp('bodies') / 'nw.db'}"
    settings = Settings()
    settings.web.max_body_mib, settings.web.max_upload_mib = 1, 2
    db = Database.open(url)
    accounts.add_user(db, "analyst", PASSWORD, "analyst")
    user = accounts.get_user(db, "analyst")
    assert user is not None
    token = create_token(db, user.id, "bodies")[1]
    db.close()
    web = Server(settings, db_url=url, port=0, syslog_udp=[], syslog_tcp=[], netflow_udp=[],
                    use_writer_process=False)
    web.start()
    parts = urlsplit(web.url)
    try:
        yield (parts.hostname or "127.0.0.1", parts.port or 80), token
    finally:
        web.stop()


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():  # the server runs in this process
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def post(address: tuple[str, int], path: str, *, headers: dict[str, str], send_at_most: int,
         chunked: bool = False) -> tuple[int, bytes, int]:
    """POST a body of zeros (``{"x": "000...``), at most ``send_at_most`` bytes, stopping as soon as the server
    answers or closes. Returns (status, answer, bytes of body sent)."""
    sock = socket.create_connection(address, timeout=10)
    head = f"POST {path} HTTP/1.1\r\nHost: {address[0]}:{address[1]}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + ("Transfer-Encoding: chunked\r\n" if chunked else "") + "\r\n"
    sock.sendall(head.encode())
    piece = b'{"x": "' + b"0" * (256 * 1024 - 7)
    frame = (b"%x\r\n" % len(piece)) + piece + b"\r\n" if chunked else piece
    sent = 0
    answer = b""
    try:
        while sent < send_at_most:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(frame)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.settimeout(10)
    try:
        while b"\r\n\r\n" not in answer or len(answer) < 20:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        answer += sock.recv(65536) if b'"detail"' not in answer else b""
    except (ConnectionResetError, socket.timeout):
        pass
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, answer, sent


def test_anonymous_bodies_get_401_before_they_are_read(server) -> None:  # type: ignore[no-untyped-def]
    address, _ = server
    before = rss()
    started = time.monotonic()
    status, answer, sent = post(address, "/api/v1/check", send_at_most=256 * MIB,
                                headers={"Content-Type": "application/json", "Content-Length": str(1 << 30)})
    assert status == 401, answer[:300]
    assert sent < 64 * MIB, f"the server read {sent >> 20} MiB before refusing"
    assert time.monotonic() - started < 10
    status, _, sent = post(address, "/api/v1/blocks", chunked=True, send_at_most=256 * MIB,
                           headers={"Content-Type": "application/json", "Authorization": "Bearer not-a-token"})
    assert status == 401 and sent < 64 * MIB
    assert rss() - before < 64 * MIB


def test_announced_oversized_body_is_413_at_once(server) -> None:  # type: ignore[no-untyped-def]
    address, token = server
    status, answer, sent = post(address, "/api/v1/check", send_at_most=256 * MIB,
                                headers={"Content-Type": "application/json", "Content-Length": str(1 << 30),
                                         "Authorization": f"Bearer {token}"})
    assert status == 413 and b"larger than 1 MiB" in answer
    assert sent < 64 * MIB


def test_streamed_oversized_body_is_413_and_memory_stays_bounded(server) -> None:  # type: ignore[no-untyped-def]
    address, token = server
    before = rss()
    status, answer, sent = post(address, "/api/v1/check", chunked=True, send_at_most=256 * MIB,
                                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert status == 413 and b"larger than 1 MiB" in answer
    assert sent < 64 * MIB
    assert rss() - before < 64 * MIB
    # a multipart upload has its own (larger) cap
    status, answer, _ = post(address, "/api/v1/models/train", send_at_most=256 * MIB,
                             headers={"Content-Type": "multipart/form-data; boundary=x",
                                      "Content-Length": str(3 * MIB), "Authorization": f"Bearer {token}"})
    assert status == 413 and b"larger than 2 MiB" in answer


def test_bodies_under_the_cap_still_work(server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    address, token = server
    base = f"http://{address[0]}:{address[1]}/api/v1"
    ok = httpx.post(f"{base}/check", json={"line": LINE, "format": "access_log"},
                    headers={"Authorization": f"Bearer {token}"}, timeout=60)  # the first check loads the detectors
    assert ok.status_code == 200, ok.text
    anonymous = httpx.post(f"{base}/check", json={"line": "hello"}, timeout=60)
    assert anonymous.status_code == 401
    login = httpx.post(f"http://{address[0]}:{address[1]}/login", data={"username": "x", "password": "y"},
                       timeout=60)
    assert login.status_code != 401  # the login form is for anonymous callers
