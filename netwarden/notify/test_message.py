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
    """``kind`` (a kind configured once: smtp, gammu) or ``kind:N`` (the N-th of a list: webhook:0, sms:1)."""
    from netwarden.notify.channels import CHANNELS

    kind, _, index = ref.partition(":")
    if kind not in CHANNELS:
        raise ChannelMissing(f"no channel kind {kind!r}; known: {', '.join(CHANNELS.names())}")
    cls = CHANNELS.get(kind)
    found = cls.configured(settings)
    number = int(index or 0)
    if number >= len(found):
        single = getattr(cls, "missing", None)
        raise ChannelMissing(single if single and not index else
                             f"there is no {kind} number {number} (notify has {len(found)})")
    return found[number]


def send_test(settings: NotifySettings, ref: str, by: str) -> dict[str, Any]:
    channel = channel_of(settings, ref)
    notice = Notice("test", Severity.LOW, f"test message sent by {by}", {"what": "a test from the Settings page"})
    try:
        channel.send([notice], 0)
    except Exception as exc:  # DeliveryError, or any failure of the channel: shown to the person
        return {"ok": False, "channel": channel.name, "error": str(exc)[:500]}
    return {"ok": True, "channel": channel.name, "error": None}
