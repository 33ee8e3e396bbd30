"""What exactly gets blocked: an address or network, normalised before every decision.

``::ffff:203.0.113.7`` is the IPv4 address 203.0.113.7 (so it cannot slip past an IPv4 never-block entry
or an IPv4 set), and an IPv6 offender is blocked by its prefix (a /64 by default): a host owns a whole /64
and can hop across it at will.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def unmapped(addr: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 (``::ffff:203.0.113.7``) as the IPv4 address it is; any other address as it is."""
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def host_address(text: str) -> IPAddress | None:
    """An address as a log writes it, ready to look up: without its zone (``fe80::1%eth0``) and unmapped;
    None when it is no address."""
    try:
        return unmapped(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        return None


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


# IPv6 forms that carry an IPv4 address: (name, prefix, where the IPv4 bits start, from the top, and whether they
# are inverted). Traffic to these reaches the IPv4 host through a translator or tunnel.
_TRANSLATED = (("NAT64", ipaddress.IPv6Network("64:ff9b::/96"), 96, False),
               ("6to4", ipaddress.IPv6Network("2002::/16"), 16, False),
               ("Teredo", ipaddress.IPv6Network("2001::/32"), 96, True))  # the client's address, inverted


def embedded_ipv4(net: Network) -> list[tuple[str, ipaddress.IPv4Network]]:
    """The IPv4 networks an IPv6 network reaches through NAT64, 6to4 or Teredo (empty for anything else).
    A network wider than the IPv4 field (``64:ff9b::/64``) reaches every IPv4 address: ``0.0.0.0/0``."""
    if net.version != 6:
        return []
    found = []
    for name, prefix, start, inverted in _TRANSLATED:
        if not net.overlaps(prefix):
            continue
        inner = net if net.subnet_of(prefix) else prefix
        bits = max(0, min(32, inner.prefixlen - start))
        value = (int(inner.network_address) >> (128 - start - 32)) & 0xFFFFFFFF
        if inverted:
            value ^= 0xFFFFFFFF
        mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
        found.append((name, ipaddress.IPv4Network((value & mask, bits))))
    return found


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
