"""The ``[notify]`` settings section.

Example::

    [notify]
    min_severity = "high"        # alerts at or above this severity; blocks always (blocks = true)
    digest_seconds = 300         # notices within this time go into one message
    max_per_hour = 12            # messages at most; the rest wait for the next digest

    [notify.smtp]
    host = "mail.example.org"
    port = 587
    security = "starttls"        # starttls, ssl, none
    username = "netwarden"
    password = "..."
    sender = "netwarden@example.org"
    recipients = ["admin@example.org"]

    [[notify.webhooks]]
    url = "https://hooks.slack.com/services/..."
    style = "slack"              # json, slack, teams

Text messages: ``[[notify.sms_gateways]]`` and ``[notify.gammu]`` (examples in netwarden.notify.sms).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from netwarden.settings_base import Section


# a phone number for text messages: digits, an optional + in front
Phone = Annotated[str, Field(pattern=r"^\+?[0-9]{3,20}$")]


class SmtpSettings(Section):
    host: str = ""  # empty: no e-mail
    port: int = Field(587, ge=1, le=65535)
    security: str = Field("starttls", pattern=r"^(starttls|ssl|none)$")
    username: str = ""
    password: str = ""
    sender: str = "netwarden@localhost"
    recipients: list[str] = Field(default_factory=list)
    ca_file: str = ""  # to verify the server's certificate; empty: the system's
    verify: bool = True
    timeout: float = Field(10.0, gt=0, le=120)


class WebhookSettings(Section):
    url: str = Field(pattern=r"^https?://")
    style: str = Field("json", pattern=r"^(json|slack|teams)$")
    timeout: float = Field(5.0, gt=0, le=60)
    headers: dict[str, str] = Field(default_factory=dict)


class SmsGatewaySettings(Section):
    url: str = Field(pattern=r"^https?://")
    method: str = Field("POST", pattern=r"^(GET|POST)$")
    json_body: bool = False  # POST the fields as JSON instead of a form
    recipients: list[Phone] = Field(min_length=1)
    params: dict[str, str] = Field(default_factory=dict)  # sent with every message (account, sender ...)
    headers: dict[str, str] = Field(default_factory=dict)
    to_field: str = Field("to", min_length=1, max_length=64)
    text_field: str = Field("text", min_length=1, max_length=64)
    max_chars: int = Field(160, ge=20, le=1600)  # one SMS
    timeout: float = Field(10.0, gt=0, le=60)


class GammuSettings(Section):
    recipients: list[Phone] = Field(default_factory=list)  # empty: no text messages through a modem
    command: str = "gammu"  # set in the file only (the web app cannot choose a program to run)
    config: str = ""  # gammu's -c file; empty: gammu's own search (~/.gammurc, /etc/gammurc)
    max_chars: int = Field(160, ge=20, le=1600)  # one SMS
    timeout: float = Field(60.0, gt=0, le=600)


class NotifySettings(Section):
    """Notifications: SMTP and webhooks, severity floor, digests."""

    min_severity: str = Field("high", pattern=r"^(low|medium|high|critical)$")
    blocks: bool = True  # tell about blocks (made, failed) too
    first_delay: float = Field(5.0, ge=0, le=600)  # gather a burst this long before the first message
    digest_seconds: float = Field(300.0, gt=0, le=86400)  # at most one message per channel this often
    max_per_hour: int = Field(12, ge=1, le=3600)
    max_items: int = Field(50, ge=1, le=1000)  # notices listed in one message; the rest are counted
    retries: int = Field(3, ge=0, le=10)  # extra attempts per message and channel
    retry_delay: float = Field(5.0, ge=0, le=600)  # doubled after each failed attempt
    smtp: SmtpSettings = SmtpSettings()
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    sms_gateways: list[SmsGatewaySettings] = Field(default_factory=list)
    gammu: GammuSettings = GammuSettings()

    @property
    def enabled(self) -> bool:
        return bool(self.smtp.host and self.smtp.recipients) or bool(self.webhooks) or bool(self.sms_gateways) \
            or bool(self.gammu.recipients)
