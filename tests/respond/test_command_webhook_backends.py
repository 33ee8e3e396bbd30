"""The backends for anything else: a command (argument list, no shell) and a webhook (JSON POST)."""

from __future__ import annotations

import json
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from netwarden.networks import block_target
from netwarden.respond.firewall.base import FirewallError
from netwarden.respond.firewall.command import CommandFirewall
from netwarden.respond.firewall.webhook import WebhookFirewall
from netwarden.respond.responder import Responder
from netwarden.respond.settings import RespondSettings
from netwarden.store.blocks import BlockState, get_block

RECORDER = "import json, sys; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"


def test_command_backend_runs_argument_lists_without_a_shell(tmp_path: Path, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "calls.jsonl"
    settings = RespondSettings(mode="enforce", backend="command")
    settings.command.add = [sys.executable, "-c", RECORDER, str(log), "add", "{address}", "{seconds}", "{reason}"]
    settings.command.remove = [sys.executable, "-c", RECORDER, str(log), "del", "{address}"]
    r = Responder(sqlite_db, settings).start(sweep=False)
    try:
        block = r.block("2001:db8:9::1", reason="$(touch /tmp/pwned); `id`\n", by="alice",
                        duration=timedelta(minutes=10))
        r.unblock(block.id, by="alice")  # type: ignore[arg-type]
        assert r.flush(10)
    finally:
        r.close()
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls == [["add", "2001:db8:9::/64", "600", "$(touch /tmp/pwned); `id` "], ["del", "2001:db8:9::/64"]]


def test_command_failure_is_reported(tmp_path: Path) -> None:
    fw = CommandFirewall([sys.executable, "-c", "import sys; sys.exit('router says no')"], ["true"])
    with pytest.raises(FirewallError, match="router says no"):
        fw.add(block_target("203.0.113.5"), 60)
    with pytest.raises(FirewallError, match="needs both"):
        CommandFirewall([], ["true"])


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)  # type: ignore[attr-defined]
        status = self.server.statuses.pop(0) if self.server.statuses else 200  # type: ignore[attr-defined]
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.bodies, server.statuses = [], []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_webhook_backend_posts_block_and_unblock(receiver, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    settings = RespondSettings(mode="enforce", backend="webhook")
    settings.webhook.url = f"http://127.0.0.1:{receiver.server_address[1]}/firewall"
    r = Responder(sqlite_db, settings)
    try:
        ok = r.block("203.0.113.5", reason="x", by="alice", permanent=True)
        r.unblock("203.0.113.5", by="bob")
        assert r.flush(10)
        receiver.statuses.append(500)
        failed = r.block("203.0.113.6", reason="y", by="alice", duration=timedelta(seconds=90))
        assert r.flush(10)
        with sqlite_db.engine.connect() as conn:
            assert get_block(conn, ok.id).state == BlockState.REMOVED
            stored = get_block(conn, failed.id)
        assert stored.state == BlockState.FAILED and "HTTP 500" in stored.detail
    finally:
        r.close()
    assert receiver.bodies == [{"action": "block", "address": "203.0.113.5/32", "seconds": None, "reason": "x"},
                               {"action": "unblock", "address": "203.0.113.5/32", "seconds": None, "reason": ""},
                               {"action": "block", "address": "203.0.113.6/32", "seconds": 90, "reason": "y"}]


def test_webhook_backend_needs_an_http_url() -> None:
    with pytest.raises(FirewallError, match="http"):
        WebhookFirewall("file:///etc/passwd")


def _recorder(settings: RespondSettings, log: Path) -> RespondSettings:
    settings.command.add = [sys.executable, "-c", RECORDER, str(log), "add", "{address}"]
    settings.command.remove = [sys.executable, "-c", RECORDER, str(log), "del", "{address}"]
    return settings


def test_another_firewall_takes_over_the_active_blocks_live(tmp_path: Path, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    """The web app's live settings name another firewall: the active blocks leave the old one and reach the new
    one, without a restart; ended blocks go to neither, and other settings leave the firewall alone."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    r = Responder(sqlite_db, _recorder(RespondSettings(mode="enforce", backend="command"), first)).start(sweep=False)
    try:
        kept = r.block("203.0.113.7", reason="scan", by="alice", duration=timedelta(hours=1))
        ended = r.block("198.51.100.9", reason="scan", by="alice", duration=timedelta(hours=1))
        r.unblock(ended.id, by="alice")  # type: ignore[arg-type]
        assert r.flush(10)
        calm = _recorder(RespondSettings(mode="enforce", backend="command", threshold=0.99), first)
        r.reconfigure(calm)  # the same firewall: nothing moves
        assert r.flush(10)
        before = first.read_text()
        r.reconfigure(_recorder(RespondSettings(mode="enforce", backend="command"), second))
        assert r.flush(10)
        later = r.block("192.0.2.200", reason="brute force", by="bob", duration=timedelta(hours=1))
        assert r.flush(10)
    finally:
        r.close()
    old = [json.loads(line) for line in first.read_text().splitlines()]
    new = [json.loads(line) for line in second.read_text().splitlines()]
    assert [c for c in old if c[0] == "add"] == [["add", "203.0.113.7/32"], ["add", "198.51.100.9/32"]]
    assert first.read_text().startswith(before) and old[len(before.splitlines()):] == [["del", "203.0.113.7/32"]]
    assert new == [["add", "203.0.113.7/32"], ["add", "192.0.2.200/32"]]
    with sqlite_db.engine.connect() as conn:
        assert get_block(conn, kept.id).state == BlockState.ACTIVE  # type: ignore[arg-type, union-attr]
    assert later.state == BlockState.ACTIVE
