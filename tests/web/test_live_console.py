"""Live settings beyond the response: detectors (on/off, thresholds, rules) swapped in the running engine,
notification channels with "send test" against real receivers on loopback (aiosmtpd, an HTTP server, gammu's
own CLI with its dummy modem), threat feeds by URL with "refresh now" and their errors, and the keys that
need a restart (listeners, the firewall backend). Each change is in the audit trail."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from netwarden.records import Event
from netwarden.web.live_apply import responders
from tests.notify.conftest import Mailbox, free_port


def _put(client, changes):  # type: ignore[no-untyped-def]
    return client.put("/api/v1/settings/live", json={"changes": changes})


def _value(answer, key):  # type: ignore[no-untyped-def]
    return {v["key"]: v for v in answer.json()["values"]}[key]


def _engine(web):  # type: ignore[no-untyped-def]
    return web.app.state.runtime.intake_pipeline().engine


def _failures(n: int, src: str = "203.0.113.50") -> list[Event]:
    start = datetime.now(timezone.utc) - timedelta(seconds=30)
    return [Event(timestamp=start + timedelta(seconds=i), source_kind="ssh", src_ip=src, dst_ip="10.0.0.5",
                  dst_port=22, user="root", outcome="failure", message="Failed password") for i in range(n)]


def test_detectors_change_live_with_audit(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    admin = sqlite_web.client("admin")
    engine = _engine(sqlite_web)
    assert "port_scan" in {d.name for d in engine.detectors}

    answer = _put(admin, {"detect.port_scan": {"enabled": False}})
    assert answer.status_code == 200, answer.text
    assert "port_scan" not in {d.name for d in engine.detectors}  # off in the running engine, no restart
    assert _value(answer, "detect.port_scan")["origin"] == "web app"

    bad = _put(admin, {"detect.brute_force": {"no_such_setting": 1}})
    assert bad.status_code == 400 and "detect.brute_force.no_such_setting" in bad.json()["detail"]
    assert _put(admin, {"detect.nope": {}}).status_code == 400
    assert _put(admin, {"detect.port_scan": "off"}).status_code == 400

    # a threshold rule written in the web app catches at once what the file's settings did not
    rule = {"name": "ssh_root", "where": {"source_kind": "ssh", "outcome": "failure", "user": "root"},
            "by": "src_ip", "window": "5m", "count": 4, "severity": "high"}
    assert _put(admin, {"detect.threshold": {"rules": [rule]}}).status_code == 200
    alerts = engine.process(_failures(4))
    assert any(a.kind == "threshold" and a.subkind == "ssh_root" for a in alerts)
    quiet = engine.process(_failures(2, src="198.51.100.77"))  # below its count: nothing from that source
    assert not [a for a in quiet if a.kind == "threshold" and a.source == "198.51.100.77"]

    trail = admin.get("/api/v1/settings/live").json()["history"]
    assert [h["key"] for h in trail][:2] == ["detect.threshold", "detect.port_scan"]
    assert trail[0]["changed_by"] == "admin" and trail[0]["value"]["rules"][0]["name"] == "ssh_root"

    back = _put(admin, {"detect.port_scan": None})
    assert "port_scan" in {d.name for d in engine.detectors} and _value(back, "detect.port_scan")["origin"] == "file"
    viewer = sqlite_web.client("viewer")
    assert _put(viewer, {"detect.port_scan": {"enabled": False}}).status_code == 403


def test_state_carries_over_a_threshold_change(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    """Failures counted before the change still count after it: an attack in progress is not forgotten."""
    admin = sqlite_web.client("admin")
    engine = _engine(sqlite_web)
    rule = {"name": "ssh_root", "where": {"outcome": "failure"}, "window": "10m", "count": 6}
    assert _put(admin, {"detect.threshold": {"rules": [rule]}}).status_code == 200
    events = _failures(5)
    assert not [a for a in engine.process(events[:3]) if a.kind == "threshold"]
    assert _put(admin, {"detect.threshold": {"rules": [{**rule, "count": 5}]}}).status_code == 200
    assert [a for a in engine.process(events[3:]) if a.kind == "threshold"]


class _Receiver(BaseHTTPRequestHandler):
    def _record(self, body: bytes) -> None:
        kind = self.headers.get("Content-Type", "")
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        fields = json.loads(body) if "json" in kind else {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.server.requests.append({"method": self.command, "query": query, "fields": fields})  # type: ignore[attr-defined]
        status = self.server.status  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self) -> None:
        self._record(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def do_GET(self) -> None:
        if self.path.startswith("/feeds/"):
            body = self.server.feed  # type: ignore[attr-defined]
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")
            return
        self._record(b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http():  # type: ignore[no-untyped-def]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.requests, server.status, server.feed = [], 200, None  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


def test_channels_send_test_to_real_receivers(sqlite_web, http, smtp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    admin = sqlite_web.client("admin")
    controller, mailbox = smtp
    pipeline = sqlite_web.app.state.runtime.intake_pipeline()
    assert pipeline.response.notifier is None  # nothing configured in the file
    hooks = [{"url": f"{http.url}/slack", "style": "slack"}, {"url": f"{http.url}/teams", "style": "teams"},
             {"url": f"http://127.0.0.1:{free_port()}/gone", "style": "json", "timeout": 2}]
    sms = [{"url": f"{http.url}/sendsms", "method": "GET", "recipients": ["+420123456789"],
            "params": {"username": "nw"}},
           {"url": f"{http.url}/api", "json_body": True, "recipients": ["+420987654321"], "to_field": "number",
            "text_field": "message"}]
    answer = _put(admin, {"notify.smtp": {"host": "127.0.0.1", "port": controller.port, "security": "none",
                                          "recipients": ["soc@example.org"]},
                          "notify.webhooks": hooks, "notify.sms_gateways": sms})
    assert answer.status_code == 200, answer.text
    notifier = pipeline.response.notifier  # created live, listening to the engine
    assert notifier is not None and len(notifier.channels) == 6

    def test(channel):  # type: ignore[no-untyped-def]
        return admin.post("/api/v1/settings/notify/test", json={"channel": channel}).json()

    assert test("smtp")["ok"] is True
    assert "test message sent by admin" in mailbox.wait(1)[0]["Subject"]
    assert test("webhook:0")["ok"] and test("webhook:1")["ok"]
    failed = test("webhook:2")
    assert failed["ok"] is False and "ConnectError" in failed["error"]
    assert test("sms:0")["ok"] and test("sms:1")["ok"]
    by_path = http.requests
    assert by_path[0]["fields"]["text"].startswith("NetWarden: test message")  # Slack's text
    assert by_path[1]["fields"]["@type"] == "MessageCard"
    assert by_path[2]["method"] == "GET" and by_path[2]["query"]["to"] == "+420123456789" \
        and by_path[2]["query"]["username"] == "nw" and "test message" in by_path[2]["query"]["text"]
    assert by_path[3]["fields"]["number"] == "+420987654321" and "test message" in by_path[3]["fields"]["message"]
    http.status = 503
    refused = test("sms:0")
    assert refused["ok"] is False and "HTTP 503" in refused["error"]

    missing = admin.post("/api/v1/settings/notify/test", json={"channel": "webhook:7"})
    assert missing.status_code == 404 and "no webhook number 7" in missing.json()["detail"]
    assert admin.post("/api/v1/settings/notify/test", json={"channel": "rm -rf"}).status_code == 422
    assert _put(admin, {"notify.sms_gateways": [{"url": "ftp://x", "recipients": ["1"]}]}).status_code == 400
    bad_number = _put(admin, {"notify.gammu": {"recipients": ["+1 555; reboot"]}})
    assert bad_number.status_code == 400 and "notify.gammu.recipients" in bad_number.json()["detail"]
    own_program = _put(admin, {"notify.gammu": {"recipients": ["+1555"], "command": "/bin/sh"}})
    assert own_program.status_code == 400 and "configuration file only" in own_program.json()["detail"]


@pytest.mark.skipif(shutil.which("gammu") is None, reason="gammu is not installed (scripts/system-packages)")
def test_gammu_send_test_through_its_dummy_modem(sqlite_web, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """gammu's own CLI with its dummy driver (a folder stands for the phone): the text reaches the 'modem'."""
    device, log = tmp_path / "phone", tmp_path / "gammu.log"
    device.mkdir()
    rc = tmp_path / "gammurc"
    rc.write_text(f"[gammu]\ndevice = {device}\nconnection = none\nmodel = dummy\nlogfile = {log}\n"
                  "logformat = textall\n")
    admin = sqlite_web.client("admin")
    assert _put(admin, {"notify.gammu": {"recipients": ["+420777000111"], "config": str(rc)}}).status_code == 200
    answer = admin.post("/api/v1/settings/notify/test", json={"channel": "gammu"}).json()
    assert answer["ok"] is True, answer
    said = log.read_text(errors="replace")
    assert 'Recipient number "+420777000111"' in said and "test message sent by admin" in said

    assert _put(admin, {"notify.gammu": {"recipients": ["+420777000111"], "config": str(tmp_path / "none")}}).status_code == 200
    failed = admin.post("/api/v1/settings/notify/test", json={"channel": "gammu"}).json()
    assert failed["ok"] is False and "gammu: exit status" in failed["error"]


def test_feed_by_url_refresh_and_errors(sqlite_web, http, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # the downloads' folder (netwarden-feeds) is relative
    admin = sqlite_web.client("admin")
    engine = _engine(sqlite_web)
    url = f"{http.url}/feeds/bad_hosts.netset"
    http.feed = b"# test list\n198.51.100.23\n203.0.113.0/28\n"
    answer = _put(admin, {"intel.feeds": [url], "intel.refresh": "1d"})
    assert answer.status_code == 200, answer.text
    refreshed = admin.post("/api/v1/settings/feeds/refresh").json()["feeds"]
    assert refreshed[0]["last_error"] is None and refreshed[0]["bytes"] == len(http.feed)
    intel = next(d for d in engine.detectors if d.name == "intel")
    assert intel.index.check("198.51.100.23") is not None  # the running detector reads the download

    http.feed = None  # the list is gone (404): the last copy stays in use, the error is shown
    failed = admin.post("/api/v1/settings/feeds/refresh").json()["feeds"][0]
    assert failed["last_error"] == "OSError: HTTP 404" and failed["last_update"] == refreshed[0]["last_update"]
    assert intel.index.check("198.51.100.23") is not None
    status = admin.get("/api/v1/settings/feeds").json()
    assert status["refresh"] == "1d" and status["feeds"][0]["last_error"] == "OSError: HTTP 404"

    assert _put(admin, {"intel.feeds": ["ftp://example.org/x"]}).status_code == 400
    assert _put(admin, {"intel.refresh": "soon"}).status_code == 400
    assert _put(admin, {"intel.feeds": None}).status_code == 200
    assert admin.post("/api/v1/settings/feeds/refresh").status_code == 409


def test_restart_keys_are_stored_and_said(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    admin = sqlite_web.client("admin")
    sqlite_web.app.state.runtime.intake_pipeline()  # a running pipeline, with its responder
    answer = _put(admin, {"web.syslog_udp": ["127.0.0.1:5999"], "respond.backend": "iptables"})
    assert answer.status_code == 200, answer.text
    item = _value(answer, "web.syslog_udp")  # nothing listens anew in this app: the next start will
    assert item["restart_needed"] and item["value"] == [":5514"] and item["next_start"] == ["127.0.0.1:5999"]
    # the firewall backend is in force at once, in the settings and in the running responders
    backend = _value(answer, "respond.backend")
    assert not backend["restart_needed"] and backend["value"] == "iptables"
    assert sqlite_web.app.state.settings.respond.backend == "iptables"
    running = responders(sqlite_web.app.state.runtime)
    assert running and all(r.backend_name == "iptables" for r in running)
    bad = _put(admin, {"web.netflow_udp": ["127.0.0.1:99999"]})
    assert bad.status_code == 400 and "web.netflow_udp" in bad.json()["detail"]
    back = _put(admin, {"respond.backend": None})
    assert not _value(back, "respond.backend")["restart_needed"]
    assert all(r.backend_name == "nftables" for r in running)


def test_listeners_changed_in_the_web_app_apply_at_the_next_start(tmp_path: Path) -> None:
    from netwarden.config import Settings
    from netwarden.store.database import Database
    from netwarden.web.live_settings import change
    from netwarden.serve import Server

    url = f"sqlite:///{tmp_path / 'nw.db'}"
    db = Database.open(url)
    port = free_port()
    change(db, Settings(), {"web.syslog_udp": [f"127.0.0.1:{port}"], "web.syslog_tcp": [],
                            "web.netflow_udp": []}, "admin")
    db.close()
    server = Server(Settings(), db_url=url, port=0, use_writer_process=False)
    server.start()
    try:
        assert server.syslog_addresses == [("udp", "127.0.0.1", port)] and server.netflow_addresses == []
    finally:
        server.stop()


def test_secrets_are_hidden_and_kept(sqlite_web) -> None:  # type: ignore[no-untyped-def]
    admin = sqlite_web.client("admin")
    smtp = {"host": "127.0.0.1", "port": 2525, "security": "none", "username": "nw", "password": "s3cret!",
            "recipients": ["soc@example.org"]}
    answer = _put(admin, {"notify.smtp": smtp, "notify.webhooks": [{"url": "http://127.0.0.1:9/h",
                                                                    "headers": {"Authorization": "Bearer t0k"}}]})
    assert answer.status_code == 200 and "s3cret!" not in answer.text and "t0k" not in answer.text
    shown = _value(answer, "notify.smtp")["value"]
    assert shown["password"] == "(hidden)"
    assert _put(admin, {"notify.smtp": {**shown, "port": 2526}}).status_code == 200  # sent back as shown
    running = sqlite_web.app.state.settings.notify
    assert running.smtp.password == "s3cret!" and running.smtp.port == 2526
    assert running.webhooks[0].headers == {"Authorization": "Bearer t0k"}
    assert "s3cret!" not in admin.get("/settings").text and "s3cret!" not in admin.get("/api/v1/settings/live").text


def test_listeners_move_live_under_serve(tmp_path: Path) -> None:
    """Under `netwarden serve` a listener change takes effect at once: the old port stops, the new one stores
    what it receives; a port in use is refused with its reason and the old address keeps listening."""
    import socket
    import time

    import httpx

    from netwarden.accounts import users as accounts
    from netwarden.accounts.sessions import create_token
    from netwarden.config import Settings
    from netwarden.serve import Server
    from netwarden.store.database import Database
    from netwarden.store.schema import events
    from sqlalchemy import func, select

    url = f"sqlite:///{tmp_path / 'nw.db'}"
    db = Database.open(url)
    accounts.add_user(db, "boss", "correct horse battery staple", "admin")
    token = create_token(db, accounts.get_user(db, "boss").id, "t")[1]  # type: ignore[union-attr]
    db.close()
    first, second = free_port(), free_port()
    server = Server(Settings(), db_url=url, port=0, syslog_udp=[f"127.0.0.1:{first}"], syslog_tcp=[],
                    netflow_udp=[], use_writer_process=False)
    server.start()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        answer = api.put("/api/v1/settings/live", json={"changes": {"web.syslog_udp": [f"127.0.0.1:{second}"]}})
        assert answer.status_code == 200, answer.text
        item = _value(answer, "web.syslog_udp")
        assert not item["restart_needed"] and item["value"] == [f"127.0.0.1:{second}"]
        assert server.syslog_addresses == [("udp", "127.0.0.1", second)]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"<34>Dec  4 10:00:00 gw sshd[1]: Failed password for root from 203.0.113.7 port 22 ssh2",
                     ("127.0.0.1", second))
        deadline, stored = time.monotonic() + 20, 0
        while time.monotonic() < deadline and not stored:
            time.sleep(0.2)
            with server.db.engine.connect() as conn:  # type: ignore[union-attr]
                stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
        assert stored == 1

        blocker.bind(("127.0.0.1", first))  # someone else took the first port meanwhile
        refused = api.put("/api/v1/settings/live", json={"changes": {"web.syslog_udp": [f"127.0.0.1:{first}"]}})
        assert refused.status_code == 400 and "web.syslog_udp" in refused.json()["detail"]
        assert server.syslog_addresses == [("udp", "127.0.0.1", second)]  # the old address listens again
    finally:
        blocker.close()
        server.stop()
