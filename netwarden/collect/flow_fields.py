"""A flow of :class:`~netwarden.collect.flows.FlowTable` is a list (fast to update in place): the positions of
its fields, the names of protocols and TCP flags, and the decoding of raw addresses, text and times that the
table and its application layer (``flow_apps.py``) share."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

ARP = 0x10806  # pseudo protocol number for ARP "flows" (sender address → target address)

PROTO_NAMES = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "icmpv6",
               89: "ospf", 103: "pim", 112: "vrrp", 132: "sctp", ARP: "arp"}
_FLAG_BITS = ((1, "FIN"), (2, "SYN"), (4, "RST"), (8, "PSH"), (16, "ACK"), (32, "URG"), (64, "ECE"), (128, "CWR"))
FLAG_NAMES = tuple(",".join(name for bit, name in _FLAG_BITS if mask & bit) for mask in range(256))

# a flow is a list (fast to update in place); the fields:
START, LAST, PK_OUT, PK_IN, BY_OUT, BY_IN, FL_OUT, FL_IN, KEY, CLOSED, FINS, APP, PART, DEAD = range(14)

ADDRS: dict[bytes, str] = {}


def addr_text(raw: bytes) -> str:
    text = ADDRS.get(raw)
    if text is None:
        text = socket.inet_ntoa(raw) if len(raw) == 4 else socket.inet_ntop(socket.AF_INET6, raw)
        if len(ADDRS) >= 65536:
            ADDRS.clear()
        ADDRS[raw] = text
    return text


def clip_text(raw: bytes, limit: int = 1024) -> str:
    return raw[:limit].decode("utf-8", "backslashreplace")


def stamp_time(ts: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(ts, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None  # an absurd stamp in a corrupt capture: stored with the time of arrival


def mac_text(raw: bytes) -> str:
    return raw.hex(":")
