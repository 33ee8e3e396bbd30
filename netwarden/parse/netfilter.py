"""Linux netfilter LOG / NFLOG lines (iptables, nftables, ufw, firewalld, EdgeOS), as the kernel writes them::

    kernel: [12345.678] [UFW BLOCK] IN=eth0 OUT= MAC=... SRC=203.0.113.5 DST=192.0.2.1 LEN=60 TOS=0x00
      PREC=0x00 TTL=49 ID=0 DF PROTO=TCP SPT=44444 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0

IPv6 has TC/HOPLIMIT/FLOWLBL instead of TOS/TTL/ID. ICMP errors append the offending packet in brackets
(``[SRC=... DST=... ]``): only the outer packet is read. The first ``LEN`` is the IP length (UDP repeats one).
"""

from __future__ import annotations

import re

from netwarden.parse import fields
from netwarden.parse._messages import (PROTO_NUMBERS, MessageParser, action_from_prefix, register_message,
                                       tcp_flags)
from netwarden.parse.base import ParseError
from netwarden.records import Event, SourceKind

_START = re.compile(r"IN=\S* OUT=\S*")
_UPTIME = re.compile(r"^\[ *\d+\.\d+\] ?", re.ASCII)
_TCP_WORDS = frozenset({"SYN", "ACK", "FIN", "RST", "PSH", "URG", "ECE", "CWR"})
_PROTO = re.compile(r"^[A-Za-z0-9-]{1,16}$")
_PROGRAMS = frozenset({"kernel", "ulogd", "ulogd2"})


@register_message
class Netfilter(MessageParser):
    """Kernel packet log lines from iptables/nftables LOG and NFLOG targets."""

    name = "netfilter"
    description = "Linux netfilter LOG/NFLOG packet lines (iptables, nftables, ufw, firewalld)"

    def claims(self, program: str | None, message: str) -> bool:
        return (program is None or program.lower() in _PROGRAMS) and _START.search(message) is not None

    def claims_program(self, program: str | None) -> bool | None:
        return None if program is None or program.lower() in _PROGRAMS else False

    def fill(self, event: Event, program: str | None, message: str) -> None:
        start = _START.search(message)
        assert start is not None  # claims() saw it
        head = _UPTIME.sub("", message[: start.start()], count=1).strip()
        body = message[start.start():]
        inner = body.find(" [")  # an ICMP error quotes the packet it answers: not this packet
        if inner >= 0:
            body = body[:inner]
        values: dict[str, str] = {}
        words: set[str] = set()
        for token in body.split():
            key, eq, value = token.partition("=")
            if eq:
                values.setdefault(key, value)  # first LEN/ID is the IP header's
            else:
                words.add(token)
        extra = event.extra
        event.source_kind = SourceKind.FIREWALL
        if head:
            extra["prefix"] = head[:128]
            event.action = action_from_prefix(head)
        for key, name in (("IN", "in_interface"), ("OUT", "out_interface"), ("PHYSIN", "physin"),
                          ("PHYSOUT", "physout"), ("MAC", "mac")):
            if values.get(key):
                extra[name] = values[key][:128]
        event.src_ip = fields.ip(values.get("SRC"), "source address", optional=False)
        event.dst_ip = fields.ip(values.get("DST"), "destination address", optional=False)
        proto = values.get("PROTO")
        if proto is None:
            raise ParseError("missing_field", "no PROTO=")
        if not _PROTO.match(proto):
            raise ParseError("bad_protocol", f"invalid PROTO={proto[:20]!r}")
        event.transport = PROTO_NUMBERS.get(proto, proto.lower())
        event.src_port = fields.port(values.get("SPT"), "source port")
        event.dst_port = fields.port(values.get("DPT"), "destination port")
        event.bytes_out = fields.counter(values.get("LEN"), "packet length")
        event.packets_out = 1
        if event.transport == "tcp":
            event.tcp_flags = tcp_flags(words & _TCP_WORDS)
        for key, name in (("TYPE", "icmp_type"), ("CODE", "icmp_code"), ("TTL", "ttl"), ("HOPLIMIT", "ttl")):
            if key in values and name not in extra:
                extra[name] = fields.counter(values[key], key)
        if "MARK" in values:
            extra["mark"] = values["MARK"][:32]
