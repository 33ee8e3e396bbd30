"""Addresses as 16 ordered bytes, so that a network is a range on every database engine."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

V4_MAPPED = _V4_MAPPED = b"\x00" * 10 + b"\xff\xff"  # the first 12 bytes of an IPv4 address key


@lru_cache(maxsize=65536)
def address_key(text: str | None) -> bytes | None:
    """IPv4 maps into ``::ffff:0:0/96`` so IPv4 and IPv6 share one ordering."""
    if text is None:
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return _V4_MAPPED + addr.packed if addr.version == 4 else addr.packed


def network_range(text: str) -> tuple[bytes, bytes]:
    """The first and last address key of an address or network (``10.0.0.0/8``, ``2001:db8::/32``).

    Raises ValueError with a message for the administrator on anything else.
    """
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network (e.g. 192.0.2.7 or 10.0.0.0/8)") from None
    if net.version == 4:
        return _V4_MAPPED + net.network_address.packed, _V4_MAPPED + net.broadcast_address.packed
    return net.network_address.packed, net.broadcast_address.packed


def range_of(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[bytes, bytes]:
    """``network_range(str(net))`` of a network already parsed (writing it and parsing it again is most of
    the cost of the responder's first batch under a flood of new sources)."""
    lo = int(net.network_address)
    hi = lo | ((1 << (net.max_prefixlen - net.prefixlen)) - 1)  # the broadcast address, without ipaddress
    if net.version == 4:
        return _V4_MAPPED + lo.to_bytes(4, "big"), _V4_MAPPED + hi.to_bytes(4, "big")
    return lo.to_bytes(16, "big"), hi.to_bytes(16, "big")
