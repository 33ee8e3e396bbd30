"""Any other firewall: run a command of the administrator's choosing for each block and unblock.

::

    [respond.command]
    add = ["/usr/local/sbin/edge-block", "add", "{address}", "{seconds}"]
    remove = ["/usr/local/sbin/edge-block", "del", "{address}"]
    entries = ["/usr/local/sbin/edge-block", "list"]   # optional: the blocked networks, one a line

The command runs without a shell; ``{address}`` is a validated address or network, ``{seconds}`` the
block's length (``0`` for permanent), ``{reason}`` the reason with control characters removed.
"""

from __future__ import annotations

import re

from netwarden.networks import Network
from netwarden.respond.firewall.base import FirewallError, HostFirewall, register, run

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


@register
class CommandFirewall(HostFirewall):
    name = "command"
    expires_by_itself = False

    def __init__(self, add: list[str], remove: list[str], *, timeout: float = 10.0,
                 netns: str | None = None, entries: list[str] | None = None) -> None:
        if not add or not remove:
            raise FirewallError("[respond.command] needs both add and remove (argument lists)")
        self.add_argv, self.remove_argv = list(add), list(remove)
        self.entries_argv = list(entries or [])
        self.timeout = timeout
        self.netns = netns

    def _argv(self, template: list[str], net: Network, seconds: float | None, reason: str = "") -> list[str]:
        values = {"address": str(net), "seconds": "0" if seconds is None else str(max(1, round(seconds))),
                  "reason": _UNSAFE.sub(" ", reason)[:200]}
        return [part.replace("{address}", values["address"]).replace("{seconds}", values["seconds"])
                .replace("{reason}", values["reason"]) for part in template]

    def add(self, net: Network, seconds: float | None, reason: str = "") -> None:
        run(self._argv(self.add_argv, net, seconds, reason), timeout=self.timeout, netns=self.netns)

    def remove(self, net: Network) -> None:
        run(self._argv(self.remove_argv, net, None), timeout=self.timeout, netns=self.netns)

    def entries(self) -> set[str] | None:
        """What the ``entries`` command prints, one network a line (None without one: strays are then kept)."""
        if not self.entries_argv:
            return None
        out = run(self.entries_argv, timeout=self.timeout, netns=self.netns).stdout
        return {line.strip() for line in out.splitlines() if line.strip()}
