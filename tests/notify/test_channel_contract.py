"""The notification channel contract, checked for EVERY registered channel kind (parametrised over ``CHANNELS``).

Each kind sends to a real local receiver: an SMTP server (aiosmtpd), an HTTP server for webhooks and SMS
gateways, gammu's own CLI with its dummy modem. Promised by all:

1. a notice carrying attacker text (markup, CR/LF header injection, NUL) is delivered once per recipient,
   with the text escaped where it is markup (no live ``<script>`` in HTML) and no injected header or line;
2. a receiver that cannot be reached is a DeliveryError (what the notifier retries), never another error;
3. ``configured(settings)`` gives no channel when the settings ask for none.

A new kind needs a rig below (its receiver); the test fails for a kind without one.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiosmtpd.controller import Controller

from netwarden.notify.channels import CHANNELS, DeliveryError
from netwarden.notify.notice import Notice
from netwarden.notify.settings import NotifySettings
from netwarden.records import Severity

HOSTILE = Notice("alert", Severity.HIGH, "<script>alert(1)</script>\r\nBcc: evil@example.org\x00 from 203.0.113.9",
                 {"url": "/?q=<img src=x onerror=alert(2)>", "user": "root\r\nX-Injected: 1"})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


@dataclass
class Rig:
    settings: NotifySettings
    delivered: Callable[[], list[str]]  # what the receiver got, one text per message
    unreachable: NotifySettings


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(envelope.original_content.decode("utf-8", "replace"))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@contextmanager
def _smtp(tmp_path: Path) -> Iterator[Rig]:
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_closed_port())
    controller.start()
    try:
        def settings(port: int) -> NotifySettings:
            return NotifySettings.model_validate({"smtp": {"host": "127.0.0.1", "port": port, "security": "none",
                                                           "recipients": ["soc@example.org"], "timeout": 3}})

        def delivered() -> list[str]:
            assert all(r == ["soc@example.org"] for r in mailbox.recipients), "an injected recipient"
            for raw in mailbox.messages:
                message = message_from_bytes(raw.encode(), policy=policy.default)
                assert "Bcc" not in message and "X-Injected" not in message, "an injected header"
                html = message.get_body(("html",))
                assert html is None or "<script>" not in html.get_content(), "live markup in the HTML part"
            return mailbox.messages

        yield Rig(settings(controller.port), delivered, settings(_closed_port()))
    finally:
        controller.stop()


class _Receiver(BaseHTTPRequestHandler):
    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        form = self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        fields = dict(parse_qsl(urlsplit(self.path).query if self.command == "GET" else body if form else ""))
        self.server.got.append(json.dumps(fields) if fields else body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _http(make: Callable[[str], dict]) -> Iterator[Rig]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.got = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/in"
        yield Rig(NotifySettings.model_validate(make(url)), lambda: list(server.got),  # type: ignore[attr-defined]
                  NotifySettings.model_validate(make(f"http://127.0.0.1:{_closed_port()}/in")))
    finally:
        server.shutdown()
        server.server_close()


def _webhook(tmp_path: Path):  # type: ignore[no-untyped-def]
    return _http(lambda url: {"webhooks": [{"url": url, "style": "json", "timeout": 3}]})


def _sms(tmp_path: Path):  # type: ignore[no-untyped-def]
    return _http(lambda url: {"sms_gateways": [{"url": url, "recipients": ["+420123456789"], "timeout": 3}]})


@contextmanager
def _gammu(tmp_path: Path) -> Iterator[Rig]:
    if shutil.which("gammu") is None:
        pytest.skip("gammu is not installed (scripts/system-packages)")
    phone, log = tmp_path / "phone", tmp_path / "gammu.log"
    phone.mkdir()
    rc = tmp_path / "gammurc"
    rc.write_text(f"[gammu]\ndevice = {phone}\nconnection = none\nmodel = dummy\nlogfile = {log}\n"
                  "logformat = textall\n")

    def settings(config: Path) -> NotifySettings:
        return NotifySettings.model_validate({"gammu": {"recipients": ["+420777000111"], "config": str(config),
                                                        "timeout": 30}})

    def delivered() -> list[str]:
        said = log.read_text(errors="replace") if log.exists() else ""
        return [said] * said.count('Recipient number "+420777000111"')

    yield Rig(settings(rc), delivered, settings(tmp_path / "no-such-gammurc"))


RIGS = {"smtp": _smtp, "webhook": _webhook, "sms": _sms, "gammu": _gammu}
KINDS = list(CHANNELS.all())


@pytest.fixture(params=KINDS)
def rig(request, tmp_path: Path) -> Iterator[tuple[str, Rig]]:  # type: ignore[no-untyped-def]
    if request.param not in RIGS:
        pytest.fail(f"channel kind {request.param!r} has no rig in {__file__}: add its receiver")
    with RIGS[request.param](tmp_path) as made:
        yield request.param, made


def test_hostile_text_is_delivered_once_and_harmless(rig) -> None:  # type: ignore[no-untyped-def]
    kind, made = rig
    [channel] = CHANNELS.get(kind).configured(made.settings)
    channel.send([HOSTILE], 0)
    delivered = made.delivered()
    assert len(delivered) == 1, delivered
    text = delivered[0]
    assert "alert(1)" in text or "alert\\u0028" in text, "the notice's title reached the receiver"
    head = text.split("\r\n\r\n", 1)[0] if kind == "smtp" else text  # an e-mail's headers; else all of it
    assert "\r\nBcc:" not in head and "\nX-Injected" not in head


def test_an_unreachable_receiver_is_a_delivery_error(rig) -> None:  # type: ignore[no-untyped-def]
    kind, made = rig
    [channel] = CHANNELS.get(kind).configured(made.unreachable)
    with pytest.raises(DeliveryError):
        channel.send([HOSTILE], 0)


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_configured_no_channel(kind: str) -> None:
    assert CHANNELS.get(kind).configured(NotifySettings()) == []
