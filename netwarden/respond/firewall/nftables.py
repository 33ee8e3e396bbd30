"""nftables: a ``netwarden`` table of its own, with IPv4/IPv6 sets whose elements carry timeouts.

::

    table inet netwarden {
        set blocked4 { type ipv4_addr; flags interval, timeout; }
        set blocked6 { type ipv6_addr; flags interval, timeout; }
        chain input { type filter hook input priority filter - 10; policy accept;
                      ip saddr @blocked4 drop; ip6 saddr @blocked6 drop; }
        chain forward { ...the same, hook forward... }
    }

The kernel removes an element when its timeout ends, so a block expires on time even if NetWarden is
stopped. Changes go through ``nft -f -`` as one transaction.
"""

from __future__ import annotations

import json

from netwarden.networks import Network
from netwarden.respond.firewall.base import FirewallError, HostFirewall, register, run


@register
class NftablesFirewall(HostFirewall):
    name = "nftables"

    def __init__(self, table: str = "netwarden", hooks: tuple[str, ...] = ("input", "forward"),
                 command: str = "nft", netns: str | None = None) -> None:
        self.table = table
        self.hooks = tuple(hooks)
        self.command = command
        self.netns = netns

    def _nft(self, script: str) -> None:
        run([self.command, "-f", "-"], stdin=script, netns=self.netns)

    def _set(self, net: Network) -> str:
        return "blocked4" if net.version == 4 else "blocked6"

    def setup(self) -> None:
        existing = self._ruleset()
        chains_ok = existing is not None and all(self._chain_has_rules(existing, h) for h in self.hooks)
        if chains_ok:
            return
        t = f"inet {self.table}"
        lines = [f"add table {t}",
                 f"add set {t} blocked4 {{ type ipv4_addr; flags interval, timeout; }}",
                 f"add set {t} blocked6 {{ type ipv6_addr; flags interval, timeout; }}"]
        for hook in self.hooks:
            lines.append(f"add chain {t} {hook} {{ type filter hook {hook} priority filter - 10; policy accept; }}")
            lines.append(f"flush chain {t} {hook}")
            lines.append(f"add rule {t} {hook} ip saddr @blocked4 drop")
            lines.append(f"add rule {t} {hook} ip6 saddr @blocked6 drop")
        self._nft("\n".join(lines) + "\n")

    def _ruleset(self) -> list[dict] | None:
        proc = run([self.command, "-j", "list", "table", "inet", self.table], netns=self.netns, ok_codes=(0, 1))
        if proc.returncode != 0:
            return None
        try:
            return json.loads(proc.stdout).get("nftables", [])
        except ValueError:
            raise FirewallError(f"{self.command} -j printed something that is not JSON") from None

    def _chain_has_rules(self, items: list[dict], hook: str) -> bool:
        sets = {i["set"]["name"] for i in items if "set" in i}
        rules = [i["rule"] for i in items if "rule" in i and i["rule"].get("chain") == hook]
        return {"blocked4", "blocked6"} <= sets and len(rules) >= 2

    def add(self, net: Network, seconds: float | None, reason: str = "") -> None:
        s = f"inet {self.table} {self._set(net)}"
        timeout = f" timeout {max(1, round(seconds))}s" if seconds is not None else ""
        # add (no-op when present), delete, add again: replaces the timeout in one transaction
        self._nft(f"add element {s} {{ {net} }}\ndelete element {s} {{ {net} }}\n"
                  f"add element {s} {{ {net}{timeout} }}\n")

    def remove(self, net: Network) -> None:
        s = f"inet {self.table} {self._set(net)}"
        self._nft(f"add element {s} {{ {net} }}\ndelete element {s} {{ {net} }}\n")

    def entries(self) -> set[str] | None:
        found: set[str] = set()
        for name in ("blocked4", "blocked6"):
            proc = run([self.command, "-j", "list", "set", "inet", self.table, name], netns=self.netns,
                       ok_codes=(0, 1))
            if proc.returncode != 0:
                continue
            for item in json.loads(proc.stdout).get("nftables", []):
                for elem in item.get("set", {}).get("elem", []):
                    found.add(_element_text(elem))
        return found


def _element_text(elem: dict | str) -> str:
    """``{"elem": {"val": {"prefix": {"addr": "198.51.100.0", "len": 24}}, "timeout": 600}}`` → text."""
    if isinstance(elem, dict) and "elem" in elem:
        elem = elem["elem"]["val"]
    if isinstance(elem, dict) and "prefix" in elem:
        return f"{elem['prefix']['addr']}/{elem['prefix']['len']}"
    if isinstance(elem, dict) and "range" in elem:
        return "-".join(elem["range"])
    return str(elem)
