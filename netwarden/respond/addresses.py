"""What exactly gets blocked: an address or network, normalised before every decision.

``::ffff:203.0.113.7`` is the IPv4 address 203.0.113.7 (so it cannot slip past an IPv4 never-block entry
or an IPv4 set), and an IPv6 offender is blocked by its prefix (a /64 by default): a host owns a whole /64
and can hop across it at will.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressError(ValueError):
    """Not an address or network; the message says what was given and what is expected."""


def parse_network(text: str) -> Network:
    """An address or network as given, with IPv4-mapped IPv6 turned into IPv4; host bits are dropped."""
    raw = str(text).strip()
    if not raw or len(raw) > 64:
        raise AddressError(f"{raw[:80]!r} is not an IP address or network (e.g. 203.0.113.7, 2001:db8::/64)")
    addr_part, _, prefix = raw.partition("/")
    try:
        addr = ipaddress.ip_address(addr_part.split("%", 1)[0] if "%" in addr_part else addr_part)
    except ValueError:
        raise AddressError(f"{raw!r} is not an IP address or network (e.g. 203.0.113.7, 2001:db8::/64)") from None
    if "%" in addr_part:
        raise AddressError(f"{raw!r}: an address with a zone (%) cannot be blocked")
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
        if prefix:
            try:
                bits = int(prefix) - 96
            except ValueError:
                raise AddressError(f"{raw!r}: the prefix length must be a number") from None
            if not 0 <= bits <= 32:
                raise AddressError(f"{raw!r}: an IPv4-mapped network needs a prefix of /96 to /128")
            prefix = str(bits)
    try:
        return ipaddress.ip_network(f"{addr}/{prefix}" if prefix else str(addr), strict=False)
    except ValueError:
        raise AddressError(f"{raw!r}: the prefix length is not valid for this address") from None


def block_target(text: str, ipv6_prefix: int = 64) -> Network:
    """The network a block of ``text`` covers: IPv4 as given (one address: /32), IPv6 widened to at
    least ``ipv6_prefix``."""
    net = parse_network(text)
    if net.version == 6 and net.prefixlen > ipv6_prefix:
        net = net.supernet(new_prefix=ipv6_prefix)
    return net


def display(net: Network) -> str:
    """``203.0.113.7`` for one IPv4 address, ``198.51.100.0/24`` or ``2001:db8::/64`` otherwise."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
