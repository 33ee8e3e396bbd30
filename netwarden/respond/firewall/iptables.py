"""iptables + ipset, for hosts without nftables: ``hash:net`` sets with timeouts and one DROP rule per chain.

Sets ``<name>4`` (inet) and ``<name>6`` (inet6) are created with ``timeout 0`` (entries may carry their
own timeout; 0 means permanent), and ``-m set --match-set <set> src -j DROP`` is inserted at the top of
the INPUT and FORWARD chains of iptables and ip6tables. ipset expires entries by itself.
"""

from __future__ import annotations

from netwarden.networks import Network, display
from netwarden.respond.firewall.base import HostFirewall, register, run


@register
class IptablesFirewall(HostFirewall):
    name = "iptables"

    def __init__(self, set_name: str = "netwarden", chains: tuple[str, ...] = ("INPUT", "FORWARD"),
                 ipv6: bool = True, netns: str | None = None) -> None:
        self.set_name = set_name
        self.chains = tuple(chains)
        self.ipv6 = ipv6
        self.netns = netns

    def _families(self) -> list[tuple[int, str, str, str]]:
        out = [(4, f"{self.set_name}4", "inet", "iptables")]
        if self.ipv6:
            out.append((6, f"{self.set_name}6", "inet6", "ip6tables"))
        return out

    def setup(self) -> None:
        for _, set_name, family, tool in self._families():
            run(["ipset", "create", set_name, "hash:net", "family", family, "timeout", "0", "-exist"],
                netns=self.netns)
            rule = ["-m", "set", "--match-set", set_name, "src", "-j", "DROP"]
            for chain in self.chains:
                present = run([tool, "-w", "5", "-C", chain, *rule], netns=self.netns, ok_codes=(0, 1))
                if present.returncode != 0:
                    run([tool, "-w", "5", "-I", chain, "1", *rule], netns=self.netns)

    def _set_for(self, net: Network) -> str:
        if net.version == 6 and not self.ipv6:
            from netwarden.respond.firewall.base import FirewallError

            raise FirewallError("IPv6 blocking is off ([respond.iptables] ipv6 = false)")
        return f"{self.set_name}{net.version}"

    def add(self, net: Network, seconds: float | None, reason: str = "") -> None:
        timeout = "0" if seconds is None else str(max(1, round(seconds)))
        # -exist: an entry already there gets the new timeout instead of an error
        run(["ipset", "add", self._set_for(net), str(net), "timeout", timeout, "-exist"], netns=self.netns)

    def remove(self, net: Network) -> None:
        run(["ipset", "del", self._set_for(net), str(net), "-exist"], netns=self.netns)

    def entries(self) -> set[str] | None:
        import ipaddress

        found: set[str] = set()
        for _, set_name, _, _ in self._families():
            proc = run(["ipset", "save", set_name], netns=self.netns, ok_codes=(0, 1))
            for line in proc.stdout.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "add" and parts[1] == set_name:
                    found.add(display(ipaddress.ip_network(parts[2], strict=False)))
        return found
