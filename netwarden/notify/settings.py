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
"""

from __future__ import annotations

from pydantic import Field

from netwarden.settings_base import Section


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

    @property
    def enabled(self) -> bool:
        return bool(self.smtp.host and self.smtp.recipients) or bool(self.webhooks)
