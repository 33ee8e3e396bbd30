"""The never-block list: networks NetWarden refuses to block, automatically or by hand.

Administrators fear locking out their own users or gateway more than the attacker, so the check runs
before every block and refuses any target that *overlaps* a protected network (a /64 around the admin's
address, or a /16 that contains the gateway, is refused just like the address itself).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netwarden.networks import Network, embedded_ipv4, parse_network

if TYPE_CHECKING:
    from netwarden.respond.settings import RespondSettings

PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
# never meaningful to block: this host, link-local, multicast, unspecified, broadcast
ALWAYS = ("127.0.0.0/8", "0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32",
          "::1/128", "::/128", "fe80::/10", "ff00::/8")


@dataclass(frozen=True)
class Protected:
    network: Network
    why: str  # "gateway", "DNS server", "administrator", "home network", ...


class NeverBlockList:
    """>>> NeverBlockList(gateways=["192.0.2.1"]).refusal(ipaddress.ip_network("192.0.2.0/24"))
    'overlaps 192.0.2.1/32 (gateway)'
    """

    def __init__(self, *, home: Iterable[str] = (), private: bool = True, gateways: Iterable[str] = (),
                 dns_servers: Iterable[str] = (), admin_addresses: Iterable[str] = (),
                 extra: Iterable[str] = ()) -> None:
        entries: list[Protected] = []
        for why, nets in (("gateway", gateways), ("DNS server", dns_servers), ("administrator", admin_addresses),
                          ("never-block list", extra), ("home network", home),
                          ("private range", PRIVATE if private else ()), ("local/special range", ALWAYS)):
            for text in nets:
                entries.append(Protected(parse_network(text), why))
        self.entries = tuple(entries)
        # each entry's version and first and last address as integers: two networks overlap when their
        # ranges do (ipaddress's ``overlaps`` on every entry was most of deciding a flood's new block)
        self._ranges = tuple((e.network.version, int(e.network.network_address), int(e.network.broadcast_address), e)
                             for e in entries)

    @classmethod
    def from_settings(cls, respond: RespondSettings, home: Iterable[str]) -> NeverBlockList:
        return cls(home=home if respond.protect_home else (), private=respond.protect_private,
                   gateways=respond.gateways, dns_servers=respond.dns_servers,
                   admin_addresses=respond.admin_addresses, extra=respond.never_block)

    def refusal(self, target: Network) -> str | None:
        """Why ``target`` must not be blocked, or None when it may be."""
        # the IPv4 hosts an IPv6 target reaches through NAT64/6to4/Teredo are protected as well
        forms = [(target, "")] + [(v4, f" through {name} {target}") for name, v4 in embedded_ipv4(target)]
        for net, via in forms:
            version, first, last = net.version, int(net.network_address), int(net.broadcast_address)
            for entry_version, entry_first, entry_last, entry in self._ranges:
                if entry_version == version and entry_first <= last and first <= entry_last:
                    return f"overlaps {entry.network} ({entry.why}){via}"
        return None


__all__ = ["ALWAYS", "PRIVATE", "NeverBlockList", "ipaddress"]
