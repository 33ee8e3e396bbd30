"""IPFIX (RFC 7011): templates (set 2), options templates (set 3), withdrawals, enterprise and
variable-length fields, data sets (>= 256)."""

from __future__ import annotations

import struct
from typing import Any

from netwarden.collect.netflow_common import (MAX_FIELDS, THREE_U16, TWO_U16, DecodeError, ExporterState,
                                              ExporterStats, FieldSpec, Template, add_template, read_header,
                                              walk_sets, withdraw)
from netwarden.records import Event

HEADER = struct.Struct(">HHIII")
_U32 = struct.Struct(">I")


def decode_ipfix(data: bytes, exporter: str, state: ExporterState, stats: ExporterStats) -> list[Event]:
    _, length, export_time, _sequence, domain = read_header(HEADER, data)
    if length < HEADER.size:
        raise DecodeError("bad_length", f"message length {length}")
    if length > len(data):
        raise DecodeError("truncated_packet", f"message length {length} in {len(data)} bytes")
    if length < len(data):
        stats.errors["trailing_bytes"] += 1  # counted; the message itself is decoded
    ctx: dict[str, Any] = {"version": 10, "exporter": exporter, "domain": domain, "export_secs": float(export_time)}
    events: list[Event] = []
    walk_sets(memoryview(data), HEADER.size, length, ctx, state, stats, events, 2, 3, _templates, _options)
    return events


def _fields(body: memoryview, pos: int, count: int, stats: ExporterStats) -> tuple[list[FieldSpec], int] | None:
    """``count`` field specifiers from pos; (fields, new pos), or None (counted) when they do not fit."""
    end = len(body)
    fields = []
    total = 0
    for _ in range(count):
        if end - pos < 4:
            stats.errors["truncated_template"] += 1
            return None
        ie, length = TWO_U16.unpack_from(body, pos)
        pos += 4
        enterprise = 0
        if ie & 0x8000:
            if end - pos < 4:
                stats.errors["truncated_template"] += 1
                return None
            enterprise = _U32.unpack_from(body, pos)[0]
            pos += 4
            ie &= 0x7FFF
        if length == 0:
            stats.errors["bad_template"] += 1
            return None
        total += 1 if length == 0xFFFF else length
        fields.append(FieldSpec(ie, length, enterprise))
    if total > 0xFFFF:
        stats.errors["bad_template"] += 1
        return None
    return fields, pos


def _template_set(body: memoryview, ctx: dict[str, Any], state: ExporterState, stats: ExporterStats,
                  events: list[Event], *, options: bool) -> None:
    """A template set (2) or an options template set (3, whose records also carry a scope field count).
    A record with no fields withdraws: the set's own id all its templates, an id >= 256 that one."""
    pos, end = 0, len(body)
    while end - pos >= 4:  # bounded: each record advances pos by >= 4
        template_id, count = TWO_U16.unpack_from(body, pos)
        scope = 0
        if count == 0:  # withdrawal: 4 bytes, no scope count
            pos += 4
            if template_id == (3 if options else 2):
                withdraw(ctx, state, stats, None, options=options)
            elif template_id >= 256:
                withdraw(ctx, state, stats, template_id, options=options)
            elif template_id == 0 and not any(body[pos - 4:]):
                return  # padding
            else:
                stats.errors["bad_template"] += 1
                return
            continue
        if not options:
            pos += 4
        elif end - pos < 6:
            if any(body[pos:]):  # not padding
                stats.errors["truncated_template"] += 1
            return
        else:
            template_id, count, scope = THREE_U16.unpack_from(body, pos)
            pos += 6
            if scope == 0 or scope > count:
                stats.errors["bad_template"] += 1
                return
        if template_id < 256 or count > MAX_FIELDS:
            stats.errors["bad_template"] += 1
            return
        parsed = _fields(body, pos, count, stats)
        if parsed is None:
            return
        fields, pos = parsed
        add_template(Template(template_id, fields, options=options, scope_count=scope), ctx, state, stats, events)


def _templates(body: memoryview, ctx: dict[str, Any], state: ExporterState, stats: ExporterStats,
               events: list[Event]) -> None:
    _template_set(body, ctx, state, stats, events, options=False)


def _options(body: memoryview, ctx: dict[str, Any], state: ExporterState, stats: ExporterStats,
             events: list[Event]) -> None:
    _template_set(body, ctx, state, stats, events, options=True)
