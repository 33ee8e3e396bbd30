"""The "send test" of a notification channel (Settings page): one short message through one channel, now,
with the channel's error when it fails (no retries: the person is waiting)."""

from __future__ import annotations

from typing import Any

from netwarden.notify.notice import Notice
from netwarden.notify.settings import NotifySettings
from netwarden.records import Severity


class ChannelMissing(LookupError):
    """The channel asked for is not configured."""


def channel_of(settings: NotifySettings, ref: str) -> Any:
    from netwarden.notify.channels import EmailChannel, WebhookChannel
    from netwarden.notify.sms import GammuChannel, SmsGatewayChannel

    kind, _, index = ref.partition(":")
    if kind == "smtp":
        if not (settings.smtp.host and settings.smtp.recipients):
            raise ChannelMissing("e-mail is not configured (notify.smtp host and recipients)")
        return EmailChannel(settings.smtp)
    if kind == "gammu":
        if not settings.gammu.recipients:
            raise ChannelMissing("gammu has no recipients (notify.gammu)")
        return GammuChannel(settings.gammu)
    items = {"webhook": (settings.webhooks, WebhookChannel), "sms": (settings.sms_gateways, SmsGatewayChannel)}
    listed, cls = items[kind]
    if int(index) >= len(listed):
        raise ChannelMissing(f"there is no {kind} number {index} (notify has {len(listed)})")
    return cls(listed[int(index)])


def send_test(settings: NotifySettings, ref: str, by: str) -> dict[str, Any]:
    channel = channel_of(settings, ref)
    notice = Notice("test", Severity.LOW, f"test message sent by {by}", {"what": "a test from the Settings page"})
    try:
        channel.send([notice], 0)
    except Exception as exc:  # DeliveryError, or any failure of the channel: shown to the person
        return {"ok": False, "channel": channel.name, "error": str(exc)[:500]}
    return {"ok": True, "channel": channel.name, "error": None}
