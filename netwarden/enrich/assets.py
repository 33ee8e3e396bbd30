"""Which addresses are the site's own ("inside") and which are the internet ("outside").

Detectors ask this to tell an inbound scan from an internal one, or an upload to the internet from a
backup to the file server. By default the private and local ranges are inside (RFC 1918, RFC 4193
unique-local, loopback, link-local, CGNAT); a site with public addresses of its own lists them in
``[network] home``::

    [network]
    home = ["10.0.0.0/8", "192.0.2.0/24", "2001:db8:100::/48"]
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

DEFAULT_HOME = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
                "169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Assets:
    """>>> Assets().is_inside("192.168.1.7"), Assets().is_inside("203.0.113.5")
    (True, False)
    """

    def __init__(self, home: Iterable[str] = DEFAULT_HOME) -> None:
        self.home: tuple[Network, ...] = tuple(ipaddress.ip_network(n, strict=False) for n in home)
        # every detector asks both questions of every event: parsing the address each time cost a fifth of
        # a replay's time, so both answers are cached (bounded)
        self._inside = lru_cache(maxsize=65536)(self._compute)
        self._outside = lru_cache(maxsize=65536)(self._compute_outside)

    def _compute(self, address: str) -> bool:
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(addr in net for net in self.home if net.version == addr.version)

    def is_inside(self, address: str | None) -> bool:
        return address is not None and self._inside(address)

    def is_outside(self, address: str | None) -> bool:
        """A public address that is not ours (multicast, broadcast and unspecified are neither)."""
        return address is not None and self._outside(address)

    def _compute_outside(self, address: str) -> bool:
        if self._inside(address):
            return False
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            return False
        return not (addr.is_multicast or addr.is_unspecified or addr.is_reserved or
                    (addr.version == 4 and address.endswith(".255")))


DEFAULT = Assets()
