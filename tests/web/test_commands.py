"""``netwarden user ...`` and ``netwarden serve`` as an administrator runs them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.store.database import Database
from netwarden.accounts import users as accounts
from tests.web.conftest import PASSWORD


def _run(db: str, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--db", db, "user", *args], input=input)


def test_user_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    added = _run(url, "add", "alice", "--role", "analyst", "--password", input=PASSWORD + "\n")
    assert added.exit_code == 0 and "added alice (analyst)" in added.output
    once = _run(url, "add", "bob", "--one-time")
    assert once.exit_code == 0
    bob_password = re.search(r"one-time password: (\S+)", once.output).group(1)  # type: ignore[union-attr]
    duplicate = _run(url, "add", "alice", "--password", input=PASSWORD + "\n")
    assert duplicate.exit_code == 2 and "already exists" in duplicate.output
    short = _run(url, "add", "carol", "--password", input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    listed = _run(url, "list")
    assert re.search(r"alice\s.*analyst", listed.output) and re.search(r"bob\s.*viewer.*must change", listed.output)
    assert _run(url, "passwd", "alice", "--password", input="another long password\n").exit_code == 0
    assert _run(url, "passwd", "nobody", "--password", input=PASSWORD + "\n").exit_code == 2
    db = Database.open(url)
    try:
        assert accounts.verify_password(db, accounts.get_user(db, "alice").id, "another long password")  # type: ignore[union-attr]
        assert accounts.verify_password(db, accounts.get_user(db, "bob").id, bob_password)  # type: ignore[union-attr]
    finally:
        db.close()
    assert _run(url, "remove", "bob").exit_code == 0
    assert "bob" not in _run(url, "list").output


def test_the_last_admin_cannot_be_removed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    _run(url, "add", "root1", "--role", "admin", "--one-time")
    refused = _run(url, "remove", "root1")
    assert refused.exit_code == 2 and "last admin" in refused.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_prints_a_one_time_admin_password_and_stops_cleanly(tmp_path: Path) -> None:
    port, syslog_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from netwarden.cli import main; main()", "--db", f"sqlite:///{tmp_path / 'nw.db'}", "serve", "--port", str(port),
         "--syslog-udp", f"127.0.0.1:{syslog_port}", "--syslog-tcp", f"127.0.0.1:{syslog_port}",
         "--netflow", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("netflow udp"):
                break
        text = "".join(lines)
        password = re.search(r"one-time password (\S+)", text)
        assert password, text
        assert f"web: http://127.0.0.1:{port}/" in text and f"syslog udp: 127.0.0.1:{syslog_port}" in text
        assert httpx.get(f"http://127.0.0.1:{port}/login", timeout=10).status_code == 200
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"<38>Nov 21 10:00:00 gw sshd[1]: Failed password for root from 192.0.2.9 port 4 ssh2",
                        ("127.0.0.1", syslog_port))
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, text + out
    assert "stopped" in out
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar_one() == 1  # stored before exit
    finally:
        db.close()
