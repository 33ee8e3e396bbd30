"""Real receivers for the notification tests: an SMTP server (aiosmtpd, STARTTLS or implicit TLS, with
authentication) and an HTTP server that records webhook posts, both on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "netwarden", "correct horse"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True, timeout=60)
    return cert, key


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"

    def wait(self, n: int, limit: float = 10.0) -> list:
        deadline = time.monotonic() + limit
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


def _authenticator(mailbox: Mailbox):  # type: ignore[no-untyped-def]
    def check(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER \
            and auth_data.password.decode() == PASSWORD
        if ok:
            mailbox.logins.append(USER)
        return AuthResult(success=ok)
    return check


@pytest.fixture
def smtp_starttls(certificate):  # type: ignore[no-untyped-def]
    """SMTP on a free port requiring STARTTLS and a login (as a submission server on 587 would)."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True, auth_required=True, authenticator=_authenticator(mailbox))
    controller.start()
    yield controller, mailbox, cert
    controller.stop()


@pytest.fixture
def smtp_ssl(certificate):  # type: ignore[no-untyped-def]
    """SMTP over implicit TLS (port 465 style)."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    # aiosmtpd does not see that an implicit-TLS connection is encrypted: allow AUTH without STARTTLS
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ssl_context=context,
                            auth_required=True, auth_require_tls=False, authenticator=_authenticator(mailbox))
    controller.start()
    yield controller, mailbox, cert
    controller.stop()


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        srv.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})  # type: ignore[attr-defined]
        if srv.delay:  # type: ignore[attr-defined]
            time.sleep(srv.delay)  # type: ignore[attr-defined]
        status = srv.statuses.pop(0) if srv.statuses else 200  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    """An HTTP server recording every POST; ``statuses`` lists the answers to give first (then 200)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.requests, server.statuses, server.delay = [], [], 0.0  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
