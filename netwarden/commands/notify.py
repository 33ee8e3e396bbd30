"""``netwarden notify test``: send one test message to every configured channel, and say how it went."""

from __future__ import annotations

import sys

import click
from rich.text import Text

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.terminal import out, safe


@click.group("notify")
def notify_group() -> None:
    """E-mail and webhook notifications ([notify] settings)."""


@notify_group.command("test")
@click.pass_obj
def test_command(obj: Context) -> None:
    """Send a test message to every channel now (no digest wait); exit 1 if any fails."""
    from netwarden.notify.notice import Notice
    from netwarden.notify.notifier import Notifier
    from netwarden.records import Severity

    settings = obj.settings.notify
    channels = Notifier._channels(settings)
    if not channels:
        out.print("no channels configured: set [notify.smtp] host and recipients, or add [[notify.webhooks]]")
        sys.exit(1)
    notice = Notice("test", Severity.LOW, "test message from NetWarden",
                    {"what": "a test of the [notify] settings", "settings": obj.settings.source})
    failed = 0
    for channel in channels:
        try:
            channel.send([notice], 0)
        except Exception as exc:  # noqa: BLE001 -- every failure is reported, whatever the channel raised
            failed += 1
            out.print(Text(f"{safe(channel.name)}: FAILED: {safe(exc)}", style="red"))
        else:
            out.print(Text(f"{safe(channel.name)}: sent"))
    sys.exit(1 if failed else 0)
