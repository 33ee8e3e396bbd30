"""MikroTik RouterOS firewall log lines, as its remote (syslog) logging action sends them::

    firewall,info DROP_WAN input: in:ether1 out:(unknown 0), src-mac 00:0c:29:aa:bb:cc,
      proto TCP (SYN), 203.0.113.5:51514->192.168.88.1:22, len 60

RouterOS puts its topics (``firewall,info``) where a program would be, then the rule's log prefix, then the
chain. Without topics and prefix the chain looks like a program (``input: in:ether1 ...``). NAT shows as
``NAT (src->translated)->dst`` (srcnat) or ``NAT src->(dst->translated)`` (dstnat). IPv6 endpoints with a
port are bracketed: ``[2001:db8::1]:443``.
"""

from __future__ import annotations

import re

from netwarden.parse import fields
from netwarden.parse._messages import (PROTO_NUMBERS, MessageParser, action_from_prefix, register_message,
                                       tcp_flags)
from netwarden.parse.base import ParseError
from netwarden.records import Event, SourceKind

_HEAD = re.compile(r"^(?:(?P<topics>[a-z0-9-]{1,32}(?:,[a-z0-9-]{1,32})+) )?(?:(?P<prefix>.{1,64}?) )?"
                   r"(?P<chain>[\w.-]{1,64}): (?P<body>in:.*)$")
_CHAIN = re.compile(r"^[\w.-]{1,64}$")
_IFACE = r"\([^()]{0,32}\)|.{1,128}?"  # "(unknown 0)" has a space; names seldom do
_BODY = re.compile(rf"^in:(?P<in>{_IFACE}) out:(?P<out>{_IFACE}),? (?P<rest>.*)$")
_PACKET = re.compile(r"(?:^|, )proto (?P<proto>[A-Za-z0-9-]{1,16})(?: \((?P<info>[^)]{0,64})\))?, "
                     r"(?P<src>[^\s,>]{1,64}?)->(?P<dst>[^\s,>]{1,64})(?:, NAT (?P<nat>[^\s,]{1,200}))?, "
                     r"len (?P<len>\d{1,9})", re.ASCII)
_MAC = re.compile(r"src-mac (?P<mac>[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})")
_STATE = re.compile(r"connection-state:(?P<state>[a-z-]{1,32}(?:,[a-z-]{1,32})*)")
_ICMP = re.compile(r"^type (?P<type>\d{1,3}), code (?P<code>\d{1,3})$", re.ASCII)
_BRACKETED = re.compile(r"^\[(?P<ip>[^\]]{1,64})\](?::(?P<port>\d{1,6}))?$", re.ASCII)
_SRCNAT = re.compile(r"^\((?P<orig>[^()]+?)->(?P<new>[^()]+)\)->(?P<dst>.+)$")
_DSTNAT = re.compile(r"^(?P<src>[^()]+?)->\((?P<orig>[^()]+?)->(?P<new>[^()]+)\)$")
_BOTHNAT = re.compile(r"^\((?P<orig>[^()]+?)->(?P<new>[^()]+)\)->\((?P<dorig>[^()]+?)->(?P<dnew>[^()]+)\)$")
_NO_INTERFACE = frozenset({"(unknown 0)", "(none)", ""})


def _endpoint(text: str, what: str) -> tuple[str | None, int | None]:
    """``1.2.3.4:80``, ``1.2.3.4``, ``[2001:db8::1]:80`` or a bare IPv6 address."""
    m = _BRACKETED.match(text)
    if m:
        return fields.ip(m.group("ip"), what, optional=False), fields.port(m.group("port"), f"{what} port")
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return fields.ip(host, what, optional=False), fields.port(port, f"{what} port")
    return fields.ip(text, what, optional=False), None


def _nat(extra: dict, text: str) -> None:
    extra["nat"] = text
    both = _BOTHNAT.match(text)
    src = _SRCNAT.match(text) if both is None else None
    dst = _DSTNAT.match(text) if both is None and src is None else None
    if both is None and src is None and dst is None:
        raise ParseError("bad_nat", f"unreadable NAT translation {text[:80]!r}")
    if both or src:
        extra["nat_src_ip"], extra["nat_src_port"] = _endpoint((both or src).group("new"), "NAT source")
    if both or dst:
        extra["nat_dst_ip"], extra["nat_dst_port"] = _endpoint(
            both.group("dnew") if both else dst.group("new"), "NAT destination")


@register_message
class MikroTik(MessageParser):
    """RouterOS firewall rules with ``log=yes``."""

    name = "mikrotik"
    description = "MikroTik RouterOS firewall log (filter/raw/mangle/nat rules with log=yes)"

    def claims(self, program: str | None, message: str) -> bool:
        if program is None:
            return _HEAD.match(message) is not None
        return message.startswith("in:") and " out:" in message and _CHAIN.match(program) is not None

    def claims_program(self, program: str | None) -> bool | None:
        return None if program is None or _CHAIN.match(program) else False

    def claim_prefixes(self, program: str | None) -> tuple[str, ...] | None:
        return None if program is None else ("in:",)  # a chain name ("sshd" may be one) stands as the program

    def fill(self, event: Event, program: str | None, message: str) -> None:
        extra = event.extra
        if program is None:
            head = _HEAD.match(message)
            assert head is not None  # claims() saw it
            chain, body = head.group("chain"), head.group("body")
            if head.group("topics"):
                extra["topics"] = head.group("topics")
            prefix = head.group("prefix")
        else:  # the chain stood where a program would: it is not one
            chain, body, prefix = program, message, None
            extra.pop("program", None)
        event.source_kind = SourceKind.FIREWALL
        extra["chain"] = chain
        if prefix:
            extra["prefix"] = prefix
            event.action = action_from_prefix(prefix)
        m = _BODY.match(body)
        if m is None:
            raise ParseError("no_match", "RouterOS firewall line without in:/out: interfaces")
        for key, name in (("in", "in_interface"), ("out", "out_interface")):
            if m.group(key) not in _NO_INTERFACE:
                extra[name] = m.group(key)
        rest = m.group("rest")
        packet = _PACKET.search(rest)
        if packet is None:
            raise ParseError("no_match", "RouterOS firewall line without proto/addresses/len")
        if mac := _MAC.search(rest, 0, packet.start() + 1):
            extra["src_mac"] = mac.group("mac").lower()
        if state := _STATE.search(rest, 0, packet.start() + 1):
            extra["connection_state"] = state.group("state")
        event.src_ip, event.src_port = _endpoint(packet.group("src"), "source address")
        event.dst_ip, event.dst_port = _endpoint(packet.group("dst"), "destination address")
        proto = packet.group("proto")
        transport = PROTO_NUMBERS.get(proto, proto.lower())
        if transport == "icmp" and event.src_ip and ":" in event.src_ip:
            transport = "icmpv6"  # RouterOS says ICMP for IPv6's ICMP too
        event.transport = transport
        info = packet.group("info")
        if info and transport == "tcp":
            event.tcp_flags = tcp_flags(set(info.upper().split(",")))
        elif info and (icmp := _ICMP.match(info)):
            extra["icmp_type"], extra["icmp_code"] = int(icmp.group("type")), int(icmp.group("code"))
        if packet.group("nat"):
            _nat(extra, packet.group("nat"))
        event.bytes_out = fields.counter(packet.group("len"), "packet length")
        event.packets_out = 1
