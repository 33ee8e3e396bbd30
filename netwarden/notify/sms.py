"""Text messages: through an HTTP SMS gateway (Kannel, SMSEagle, a provider's API ...) or a GSM modem driven by
gammu. A message is the digest's subject and its first notices, cut to ``max_chars``::

    [[notify.sms_gateways]]
    url = "http://sms.example.org/cgi-bin/sendsms"
    method = "GET"                       # GET: the fields go in the query; POST: a form (JSON: json_body = true)
    recipients = ["+420123456789"]
    params = { username = "netwarden", password = "..." }
    to_field = "to"
    text_field = "text"

    [notify.gammu]
    recipients = ["+420123456789"]
    config = "/etc/gammurc"              # gammu's own configuration (the modem's device and connection)
"""

from __future__ import annotations

import subprocess

import httpx

from netwarden.notify import render
from netwarden.notify.channels import CHANNELS, DeliveryError, UrlChannel, deliver_http
from netwarden.notify.notice import Notice
from netwarden.notify.settings import GammuSettings, NotifySettings, SmsGatewaySettings


def _printable(text: str) -> str:
    """Log text on one line without control characters (a NUL cannot even be a program's argument)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def short_text(notices: list[Notice], omitted: int, limit: int) -> str:
    """The subject, then a line per notice while it fits (log text flattened: no line breaks smuggled in)."""
    text = _printable(render.subject(notices, omitted))
    if len(notices) + omitted > 1:
        for n in notices:
            line = "\n- " + _printable(n.title)
            if len(text) + len(line) > limit:
                break
            text += line
    return text[:limit]


@CHANNELS.register
class SmsGatewayChannel(UrlChannel):
    kind = "sms"
    label, entries = "sms gateway", "sms_gateways"
    settings: SmsGatewaySettings

    def send(self, notices: list[Notice], omitted: int) -> None:
        s = self.settings
        message = short_text(notices, omitted, s.max_chars)
        for number in s.recipients:
            fields = {**s.params, s.to_field: number, s.text_field: message}
            deliver_http(self.name, lambda: self._request(fields), recipient=number)

    def _request(self, fields: dict[str, str]) -> httpx.Response:
        s = self.settings
        if s.method == "GET":
            return httpx.get(s.url, params=fields, headers=s.headers, timeout=s.timeout)
        if s.json_body:
            return httpx.post(s.url, json=fields, headers=s.headers, timeout=s.timeout)
        return httpx.post(s.url, data=fields, headers=s.headers, timeout=s.timeout)


@CHANNELS.register
class GammuChannel:
    """``gammu [-c CONFIG] sendsms TEXT NUMBER -text MESSAGE`` per recipient, without a shell."""

    kind = "gammu"
    missing = "gammu has no recipients (notify.gammu)"

    @classmethod
    def configured(cls, settings: NotifySettings) -> list[GammuChannel]:
        return [cls(settings.gammu)] if settings.gammu.recipients else []

    def __init__(self, settings: GammuSettings) -> None:
        self.settings = settings
        self.name = "gammu " + ", ".join(settings.recipients)

    def send(self, notices: list[Notice], omitted: int) -> None:
        s = self.settings
        message = short_text(notices, omitted, s.max_chars)
        base = [s.command] + (["-c", s.config] if s.config else [])
        for number in s.recipients:
            try:
                done = subprocess.run([*base, "sendsms", "TEXT", number, "-len", str(len(message)),
                                       "-text", message], capture_output=True, text=True, timeout=s.timeout,
                                      stdin=subprocess.DEVNULL)
            except FileNotFoundError:
                raise DeliveryError(f"gammu: {s.command!r} is not installed (apt-get install gammu)") from None
            except subprocess.TimeoutExpired:
                raise DeliveryError(f"gammu: no answer from the modem within {s.timeout:g} s") from None
            if done.returncode != 0:
                said = " ".join((done.stderr or done.stdout).split())[-300:]
                raise DeliveryError(f"gammu: exit status {done.returncode} for {number}: {said}")
