"""Decoding one captured packet, never trusting the bytes: the link layer (Ethernet with 802.1Q/802.1ad tags,
Linux cooked v1 and v2, raw IP, BSD loopback), IPv4/IPv6, TCP/UDP/ICMP and ARP, straight into a
:class:`~netwarden.collect.flows.FlowTable`. No object is made per packet beyond the flow key; a packet too
short for its headers is skipped and counted. The capture formats around the packets are
:mod:`netwarden.collect.pcap`'s."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from netwarden.collect.flow_fields import ARP
from netwarden.collect.flows import FlowTable

if TYPE_CHECKING:
    from netwarden.collect.pcap import CaptureStats

# link types (https://www.tcpdump.org/linktypes.html)
LINK_NULL, LINK_ETHERNET, LINK_RAW, LINK_LOOP, LINK_SLL, LINK_IPV4, LINK_IPV6, LINK_SLL2 = 0, 1, 101, 108, 113, 228, 229, 276
LINK_NAMES = {LINK_NULL: "null", LINK_ETHERNET: "ethernet", LINK_RAW: "raw", 12: "raw", 14: "raw",
              LINK_LOOP: "loop", LINK_SLL: "linux_sll", LINK_IPV4: "ipv4", LINK_IPV6: "ipv6", LINK_SLL2: "linux_sll2"}
_RAW_LINKS = frozenset({LINK_RAW, 12, 14})
_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
_IPV6_EXT = frozenset({0, 43, 60, 51, 135, 139, 140})  # hop-by-hop, routing, dest opts, AH, mobility, HIP, shim6

_U16 = struct.Struct("!H")
_ETH_IP4 = struct.Struct("!12xHBxHxxHxB2x4s4s")  # ethertype, then the IPv4 fields below
_VLAN_IP4 = struct.Struct("!16xHBxHxxHxB2x4s4s")  # the same behind one 802.1Q tag
_IP4 = struct.Struct("!BxHxxHxB2x4s4s")  # ver/ihl, total length, flags/fragment, protocol, src, dst
_IP6 = struct.Struct("!4xHBx16s16s")  # payload length, next header, src, dst
_PORTS = struct.Struct("!HH")
_TCP = struct.Struct("!HH8xBB")  # ports, data offset, flags
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_NULL_LE = struct.Struct("<I")
_NULL_BE = struct.Struct(">I")



class PacketDecoder:
    """Link layer → network → transport, straight into the flow table."""

    def __init__(self, table: FlowTable, stats: CaptureStats) -> None:
        self.table = table
        self.stats = stats
        self._add = table.add

    def packet(self, link: int, ts: float, buf: bytes, off: int, end: int, wirelen: int) -> None:
        # the hot path, inline: Ethernet, IPv4 without options or fragments (TCP, UDP, ICMP ...), ARP;
        # scans and sweeps are mostly these, one packet or two per flow
        if link == 1 and end - off >= 42:  # LINK_ETHERNET
            etype, vihl, total, frag, proto, src, dst = _ETH_IP4.unpack_from(buf, off)
            ip = off + 14
            if etype == 0x8100 and end - off >= 46:  # one 802.1Q tag (a fifth of the dataset's packets)
                etype, vihl, total, frag, proto, src, dst = _VLAN_IP4.unpack_from(buf, off)
                ip = off + 18
            if etype == 0x0800 and vihl == 0x45 and not frag & 0x3FFF:
                if total >= 20:
                    if ip + total < end:
                        end = ip + total
                else:
                    total = end - ip
                l4 = ip + 20
                if proto == 6:
                    if end - l4 >= 14:  # else the slow path counts a short header
                        sport, dport, doff, flags = _TCP.unpack_from(buf, l4)
                        self._add(ts, 6, src, dst, sport, dport, flags, total, buf, l4 + ((doff >> 4) << 2), end)
                        return
                elif proto == 17:
                    if end - l4 >= 4:
                        sport, dport = _PORTS.unpack_from(buf, l4)
                        self._add(ts, 17, src, dst, sport, dport, 0, total, buf, l4 + 8, end)
                        return
                else:  # ICMP, GRE ...: as transport() does
                    self._add(ts, proto, src, dst, 0, 0, 0, total, buf, l4, end)
                    return
            elif etype == 0x0806:
                self.arp(ts, buf, ip, end, wirelen)
                return
        self.slow_path(link, ts, buf, off, end, wirelen)

    def slow_path(self, link: int, ts: float, buf: bytes, off: int, end: int, wirelen: int) -> None:
        if link == LINK_ETHERNET:
            if end - off < 14:
                self.stats.skipped["short_link_header"] += 1
                return
            etype = _U16.unpack_from(buf, off + 12)[0]
            off += 14
            if etype in _VLAN:
                for _ in range(4):
                    if off + 4 > end:
                        self.stats.skipped["short_link_header"] += 1
                        return
                    etype = _U16.unpack_from(buf, off + 2)[0]
                    off += 4
                    if etype not in _VLAN:
                        break
            self.network(etype, ts, buf, off, end, wirelen)
            return
        self.other_link(link, ts, buf, off, end, wirelen)

    def other_link(self, link: int, ts: float, buf: bytes, off: int, end: int, wirelen: int) -> None:
        if link == LINK_SLL or link == LINK_SLL2:
            size = 16 if link == LINK_SLL else 20
            if end - off < size:
                self.stats.skipped["short_link_header"] += 1
                return
            etype = _U16.unpack_from(buf, off + (14 if link == LINK_SLL else 0))[0]
            off += size
            self.network(etype, ts, buf, off, end, wirelen)
            return
        if link in _RAW_LINKS or link == LINK_IPV4 or link == LINK_IPV6:
            self.raw_ip(ts, buf, off, end)
            return
        if link == LINK_NULL or link == LINK_LOOP:
            if end - off < 4:
                self.stats.skipped["short_link_header"] += 1
                return
            family = (_NULL_BE if link == LINK_LOOP else _NULL_LE).unpack_from(buf, off)[0]
            if family > 0xFFFF:  # written in the other byte order
                family = _NULL_BE.unpack_from(buf, off)[0] if link == LINK_NULL else _NULL_LE.unpack_from(buf, off)[0]
            if family == 2:
                self.ipv4(ts, buf, off + 4, end)
            elif family in (10, 24, 28, 30):
                self.ipv6(ts, buf, off + 4, end)
            else:
                self.stats.non_ip += 1
            return
        self.stats.skipped["unsupported_link_type"] += 1

    def network(self, etype: int, ts: float, buf: bytes, off: int, end: int, wirelen: int) -> None:
        """The network layer after a link header (Ethernet or Linux cooked) that named its EtherType."""
        if etype == 0x0800:
            self.ipv4(ts, buf, off, end)
        elif etype == 0x86DD:
            self.ipv6(ts, buf, off, end)
        elif etype == 0x0806:
            self.arp(ts, buf, off, end, wirelen)
        else:
            self.stats.non_ip += 1

    def raw_ip(self, ts: float, buf: bytes, off: int, end: int) -> None:
        if off >= end:
            self.stats.skipped["short_ip_header"] += 1
            return
        version = buf[off] >> 4
        if version == 4:
            self.ipv4(ts, buf, off, end)
        elif version == 6:
            self.ipv6(ts, buf, off, end)
        else:
            self.stats.skipped["bad_ip_version"] += 1

    def ipv4(self, ts: float, buf: bytes, off: int, end: int) -> None:
        if end - off < 20:
            self.stats.skipped["short_ip_header"] += 1
            return
        vihl, total, frag, proto, src, dst = _IP4.unpack_from(buf, off)
        ihl = (vihl & 15) << 2
        if vihl >> 4 != 4 or ihl < 20:
            self.stats.skipped["bad_ip_header"] += 1
            return
        if total >= ihl:
            if off + total < end:
                end = off + total  # Ethernet padding
        else:
            total = end - off  # 0 with TCP segmentation offload: what was captured
        if frag & 0x3FFF:
            self.stats.fragments += 1
            if frag & 0x1FFF:  # a later fragment carries no transport header
                self.stats.skipped["ip_fragment"] += 1
                return
        self.transport(ts, proto, src, dst, buf, off + ihl, end, total)

    def ipv6(self, ts: float, buf: bytes, off: int, end: int) -> None:
        if end - off < 40:
            self.stats.skipped["short_ip_header"] += 1
            return
        plen, nxt, src, dst = _IP6.unpack_from(buf, off)
        if buf[off] >> 4 != 6:
            self.stats.skipped["bad_ip_header"] += 1
            return
        size = plen + 40 if plen else end - off  # 0: jumbogram or offload
        if plen and off + size < end:
            end = off + size
        off += 40
        for _ in range(8):
            if nxt in _IPV6_EXT:
                if off + 2 > end:
                    self.stats.skipped["short_ip_header"] += 1
                    return
                hdr_len = (buf[off + 1] + 2) * 4 if nxt == 51 else (buf[off + 1] + 1) * 8
                nxt = buf[off]
                off += hdr_len
            elif nxt == 44:  # fragment header
                if off + 8 > end:
                    self.stats.skipped["short_ip_header"] += 1
                    return
                self.stats.fragments += 1
                if _U16.unpack_from(buf, off + 2)[0] & 0xFFF8:
                    self.stats.skipped["ip_fragment"] += 1
                    return
                nxt = buf[off]
                off += 8
            else:
                break
        else:
            self.stats.skipped["too_many_extension_headers"] += 1
            return
        self.transport(ts, nxt, src, dst, buf, off, end, size)

    def transport(self, ts: float, proto: int, src: bytes, dst: bytes, buf: bytes, off: int, end: int,
                  size: int) -> None:
        if proto == 6:
            if end - off < 14:
                if end - off >= 4:
                    sport, dport = _PORTS.unpack_from(buf, off)
                    self._add(ts, 6, src, dst, sport, dport, 0, size, buf, end, end)
                else:
                    self.stats.skipped["short_tcp_header"] += 1
                return
            sport, dport, doff, flags = _TCP.unpack_from(buf, off)
            self._add(ts, 6, src, dst, sport, dport, flags, size, buf, off + ((doff >> 4) << 2), end)
        elif proto == 17:
            if end - off < 4:
                self.stats.skipped["short_udp_header"] += 1
                return
            sport, dport = _PORTS.unpack_from(buf, off)
            self._add(ts, 17, src, dst, sport, dport, 0, size, buf, off + 8, end)
        else:  # ICMP, ICMPv6, GRE, ESP ...: one flow per protocol and address pair; the table reads ICMP types
            self._add(ts, proto, src, dst, 0, 0, 0, size, buf, off, end)

    def arp(self, ts: float, buf: bytes, off: int, end: int, wirelen: int) -> None:
        if end - off < 28:
            self.stats.skipped["short_arp"] += 1
            return
        htype, ptype, hlen, plen, _op, _sha, spa, _tha, tpa = _ARP.unpack_from(buf, off)
        if ptype != 0x0800 or hlen != 6 or plen != 4:
            self.stats.non_ip += 1
            return
        self._add(ts, ARP, spa, tpa, 0, 0, 0, wirelen, buf, off, end)
