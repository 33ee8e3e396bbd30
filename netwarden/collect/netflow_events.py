"""A decoded NetFlow/IPFIX record (a dict keyed by information-element number) as an
:class:`~netwarden.records.Event`: its times from whichever time elements it carries (absolute, NTP, or
relative to the exporter's boot), addresses, ports, counters, flags and the reverse direction (RFC 5103),
the rest in ``extra``. The templates and exporter state that produce the records are ``netflow_common``'s."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from netwarden.records import Event

REVERSE = 1 << 20  # key offset for RFC 5103 reverse elements (enterprise 29305)
IP_PROTOCOLS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre", 50: "esp", 51: "ah",
                58: "ipv6-icmp", 89: "ospf", 132: "sctp"}
TCP_FLAGS = ((0x02, "SYN"), (0x10, "ACK"), (0x01, "FIN"), (0x04, "RST"), (0x08, "PSH"), (0x20, "URG"),
             (0x40, "ECE"), (0x80, "CWR"))
_FLAG_NAMES: list[str | None] = [None] + [",".join(n for bit, n in TCP_FLAGS if v & bit) for v in range(1, 256)]
NTP_EPOCH = 2208988800  # seconds from 1900 to 1970
MAX_EPOCH = 253402300799.0  # 9999-12-31


# extra keys, in NetWarden's names
EXTRA_NAMES = {10: "in_if", 14: "out_if", 5: "tos", 16: "src_as", 17: "dst_as", 15: "next_hop", 62: "next_hop",
               18: "bgp_next_hop", 63: "bgp_next_hop", 9: "src_mask", 13: "dst_mask", 29: "src_mask",
               30: "dst_mask", 61: "direction", 136: "end_reason", 58: "vlan", 56: "src_mac", 80: "dst_mac",
               81: "post_src_mac", 57: "post_dst_mac", 225: "nat_src_ip", 226: "nat_dst_ip", 281: "nat_src_ip",
               282: "nat_dst_ip", 227: "nat_src_port", 228: "nat_dst_port", 31: "flow_label",
               233: "firewall_event", 89: "forwarding_status", 176: "icmp_type", 177: "icmp_code",
               178: "icmp_type", 179: "icmp_code", 48: "sampler_id", 302: "sampler_id"}
_ZERO_DROPPED = {16, 17, 15, 62, 18, 63, 225, 226, 281, 282, 227, 228, 58, 31}  # 0 / 0.0.0.0 means "none"
_NO_ADDRESS = {"0.0.0.0", "::"}


def ntp_seconds(value: int) -> float:
    return (value >> 32) - NTP_EPOCH + (value & 0xFFFFFFFF) / 4294967296.0


def _uptime_to_epoch(export_secs: float, uptime_ms: int, at_ms: int) -> float:
    delta = (uptime_ms - at_ms) & 0xFFFFFFFF
    if delta >= 0x80000000:  # the record is "after" the header: a little clock skew, or a wrap
        delta -= 0x100000000
    return export_secs - delta / 1000.0


def _absolute_time(rec: dict[int, Any], seconds: int) -> float | None:
    """A flow's start (``seconds`` = 150, flowStartSeconds) or end (151) in Unix seconds. IPFIX numbers each
    precision two apart: milliseconds +2, microseconds +4, nanoseconds +6. A record with several: milliseconds,
    then seconds, microseconds, nanoseconds."""
    if seconds + 2 in rec:
        return rec[seconds + 2] / 1000.0
    if seconds in rec:
        return float(rec[seconds])
    if seconds + 4 in rec:
        return ntp_seconds(rec[seconds + 4])
    if seconds + 6 in rec:
        return ntp_seconds(rec[seconds + 6])
    return None


def flow_times(rec: dict[int, Any], ctx: dict[str, Any]) -> tuple[float | None, float | None]:
    """(start, end) in Unix seconds from whichever time elements the record carries."""
    start = _absolute_time(rec, 150)
    end = _absolute_time(rec, 151)
    if start is None or end is None:
        uptime = ctx.get("uptime_ms")
        if uptime is not None:  # NetFlow v5/v9: relative to the header's sysUptime and export time
            if start is None and 22 in rec:
                start = _uptime_to_epoch(ctx["export_secs"], uptime, rec[22])
            if end is None and 21 in rec:
                end = _uptime_to_epoch(ctx["export_secs"], uptime, rec[21])
        else:  # IPFIX: relative to systemInitTimeMilliseconds (in the record or from an options record)
            init = rec.get(160, ctx.get("init_ms"))
            if init is not None:
                if start is None and 22 in rec:
                    start = (init + rec[22]) / 1000.0
                if end is None and 21 in rec:
                    end = (init + rec[21]) / 1000.0
    if start is not None and end is None and 161 in rec:
        end = start + rec[161] / 1000.0
    if end is not None and start is None and 161 in rec:
        start = end - rec[161] / 1000.0
    return start, end


def make_event(rec: dict[int, Any], ctx: dict[str, Any]) -> Event:
    """One flow record (IE number -> value) as an Event; ``ctx`` carries the header's fields."""
    start, end = flow_times(rec, ctx)
    export = ctx["export_secs"]
    when = start if start is not None else end
    if when is None or not 0 <= when < MAX_EPOCH:
        when = export
    duration = None
    if start is not None and end is not None and 0 <= end - start < 366 * 86400:
        duration = round(end - start, 6)
    proto = rec.get(4)
    src_ip = rec.get(8) or rec.get(27)
    dst_ip = rec.get(12) or rec.get(28)
    octets = rec.get(1, rec.get(85, rec.get(23)))
    packets = rec.get(2, rec.get(86, rec.get(24)))
    extra: dict[str, Any] = {"version": ctx["version"], "exporter": ctx["exporter"]}
    if ctx.get("domain"):
        extra["domain"] = ctx["domain"]
    for ie, value in rec.items():
        name = EXTRA_NAMES.get(ie)
        if name is not None and not (ie in _ZERO_DROPPED and (value == 0 or value in _NO_ADDRESS)):
            extra[name] = value
    icmp = rec.get(32, rec.get(139))
    if icmp is not None and proto in (1, 58) and "icmp_type" not in extra:
        extra["icmp_type"], extra["icmp_code"] = icmp >> 8, icmp & 0xFF
    sampling = rec.get(34) or rec.get(305) or rec.get(50)
    if not sampling:
        sampler = rec.get(48, rec.get(302))
        if sampler is not None:
            sampling = (ctx.get("sampler_intervals") or {}).get(sampler)
        sampling = sampling or ctx.get("sampling")
    if sampling and sampling > 1:
        extra["sampling"] = sampling
    if 4 in rec and proto is not None:
        transport = IP_PROTOCOLS.get(proto) or str(proto)
    else:
        transport = None
    flags = rec.get(6)
    event = Event(
        timestamp=datetime.fromtimestamp(when, timezone.utc),
        source_kind="netflow",
        observer=ctx["exporter"],
        src_ip=src_ip,
        src_port=rec.get(7),
        dst_ip=dst_ip,
        dst_port=rec.get(11),
        transport=transport,
        bytes_out=octets,
        packets_out=packets,
        duration=duration,
        tcp_flags=_FLAG_NAMES[flags & 0xFF] if flags and proto == 6 else None,
        extra=extra,
    )
    if REVERSE + 1 in rec or REVERSE + 85 in rec:  # RFC 5103 biflow: the reverse direction's counts
        event.bytes_in = rec.get(REVERSE + 1, rec.get(REVERSE + 85))
        event.packets_in = rec.get(REVERSE + 2, rec.get(REVERSE + 86))
    return event
