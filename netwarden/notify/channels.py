"""Where notifications go: e-mail over SMTP, and webhooks (generic JSON, Slack, Teams); text messages in ``sms``.

A channel kind is a class in a module of netwarden.notify registered in ``CHANNELS`` by its ``kind`` (the
name the Settings page's "send test" uses); ``configured(settings)`` gives the channels of that kind the
``[notify]`` settings ask for. A channel's ``send`` raises DeliveryError on failure; the notifier retries
with a bound.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, ClassVar

import httpx

from netwarden.notify import render
from netwarden.notify.notice import Notice
from netwarden.notify.settings import NotifySettings, SmtpSettings, WebhookSettings
from netwarden.plugins import Registry


class DeliveryError(RuntimeError):
    """A message could not be delivered; the message says where and why."""


#: every channel kind, in registration order (the order messages go out in)
CHANNELS: Registry[Any] = Registry("notification channel", "netwarden.notify", key="kind",
                                   required=("kind", "configured"))


def configured_channels(settings: NotifySettings) -> list[Any]:
    """Every channel the settings ask for, kind by kind."""
    CHANNELS.load()
    return [channel for cls in CHANNELS.entries.values() for channel in cls.configured(settings)]


def deliver_http(channel: str, request: Callable[[], httpx.Response], recipient: str = "") -> None:
    """Make one HTTP request of a channel: a transport error or an answer other than 2xx is a DeliveryError."""
    try:
        response = request()
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{channel}: {type(exc).__name__}: {exc}") from None
    if not response.is_success:
        raise DeliveryError(f"{channel}: HTTP {response.status_code}" + (f" for {recipient}" if recipient else ""))


@CHANNELS.register
class EmailChannel:
    kind = "smtp"
    missing = "e-mail is not configured (notify.smtp host and recipients)"

    @classmethod
    def configured(cls, settings: NotifySettings) -> list[EmailChannel]:
        return [cls(settings.smtp)] if settings.smtp.host and settings.smtp.recipients else []

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.name = f"smtp {settings.host}:{settings.port}"

    def message(self, notices: list[Notice], omitted: int) -> EmailMessage:
        s = self.settings
        msg = EmailMessage()
        msg["Subject"] = render.subject(notices, omitted)
        msg["From"] = s.sender
        msg["To"] = ", ".join(s.recipients)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="netwarden")
        msg.set_content(render.text(notices, omitted))
        msg.add_alternative(render.html_body(notices, omitted), subtype="html")
        return msg

    def send(self, notices: list[Notice], omitted: int) -> None:
        deliver(self.settings, self.message(notices, omitted))


def _tls(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def deliver(s: SmtpSettings, msg: EmailMessage) -> None:
    """Send one message with the [notify.smtp] settings (also used for scheduled reports)."""
    try:
        if s.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=_tls(s))
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with client:
            if s.security == "starttls":
                client.starttls(context=_tls(s))
            if s.username:
                client.login(s.username, s.password)
            client.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"smtp {s.host}:{s.port}: {exc}") from None


class UrlChannel:
    """A channel of one HTTP endpoint per entry of a NotifySettings list (webhooks, SMS gateways). Its name,
    shown in logs and on the Settings page, leaves the query out: that may hold a token or a password."""

    label: ClassVar[str] = ""
    entries: ClassVar[str] = ""  # the NotifySettings field listing the endpoints

    @classmethod
    def configured(cls, settings: NotifySettings) -> list[Any]:
        return [cls(entry) for entry in getattr(settings, cls.entries)]

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.name = f"{self.label} {settings.url.split('?', 1)[0]}"


@CHANNELS.register
class WebhookChannel(UrlChannel):
    kind = "webhook"
    label, entries = "webhook", "webhooks"
    BODIES: ClassVar[dict] = {"json": render.json_body, "slack": render.slack_body, "teams": render.teams_body}
    settings: WebhookSettings

    def send(self, notices: list[Notice], omitted: int) -> None:
        s = self.settings
        body = self.BODIES[s.style](notices, omitted)
        deliver_http(self.name, lambda: httpx.post(s.url, json=body, timeout=s.timeout, headers=s.headers))
