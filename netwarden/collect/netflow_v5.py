"""NetFlow v5: a 24-byte header and up to 30 fixed 48-byte IPv4 flow records."""

from __future__ import annotations

import socket
import struct
from typing import Any

from netwarden.collect.netflow_common import DecodeError, ExporterStats, read_header
from netwarden.collect.netflow_events import make_event
from netwarden.records import Event

HEADER = struct.Struct(">HHIIIIBBH")
RECORD = struct.Struct(">4s4s4sHHIIIIHHxBBBHHBB2x")
MAX_RECORDS = 30  # Cisco's limit; a bigger count is a lie or another protocol


def decode_v5(data: bytes, exporter: str, stats: ExporterStats) -> list[Event]:
    _, count, uptime, secs, nsecs, _sequence, engine_type, engine_id, sampling = read_header(HEADER, data)
    if count == 0 or count > MAX_RECORDS:
        raise DecodeError("bad_count", f"{count} records")
    if len(data) < HEADER.size + count * RECORD.size:
        raise DecodeError("truncated_packet", f"{count} records in {len(data)} bytes")
    interval = sampling & 0x3FFF
    ctx: dict[str, Any] = {"version": 5, "exporter": exporter, "domain": 0, "uptime_ms": uptime,
                           "export_secs": secs + nsecs / 1e9, "sampling": interval}
    ntoa = socket.inet_ntoa
    events = []
    for (src, dst, hop, in_if, out_if, pkts, octets, first, last, sport, dport, flags, proto, tos,
         src_as, dst_as, src_mask, dst_mask) in RECORD.iter_unpack(
            memoryview(data)[HEADER.size:HEADER.size + count * RECORD.size]):
        rec = {8: ntoa(src), 12: ntoa(dst), 15: ntoa(hop), 10: in_if, 14: out_if, 2: pkts, 1: octets, 22: first,
               21: last, 7: sport, 11: dport, 6: flags, 4: proto, 5: tos, 16: src_as, 17: dst_as, 9: src_mask,
               13: dst_mask}
        event = make_event(rec, ctx)
        if engine_type or engine_id:
            event.extra["engine"] = f"{engine_type}/{engine_id}"
        events.append(event)
    stats.records += count
    return events
