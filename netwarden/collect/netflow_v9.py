"""NetFlow v9 (RFC 3954): templates (FlowSet 0), options templates (FlowSet 1), data FlowSets (>= 256)."""

from __future__ import annotations

import struct
from typing import Any

from netwarden.collect.netflow_common import (MAX_FIELDS, THREE_U16, TWO_U16, ExporterState, ExporterStats,
                                              FieldSpec, Template, add_template, read_header, walk_sets)
from netwarden.records import Event

HEADER = struct.Struct(">HHIIII")


def decode_v9(data: bytes, exporter: str, state: ExporterState, stats: ExporterStats) -> list[Event]:
    _, _count, uptime, secs, _sequence, source_id = read_header(HEADER, data)
    ctx: dict[str, Any] = {"version": 9, "exporter": exporter, "domain": source_id, "uptime_ms": uptime,
                           "export_secs": float(secs)}
    events: list[Event] = []
    walk_sets(memoryview(data), HEADER.size, len(data), ctx, state, stats, events, 0, 1, _templates, _options)
    return events


def _fields(body: memoryview, pos: int, count: int, stats: ExporterStats, *, scope: int = 0) -> list[FieldSpec] | None:
    fields = []
    total = 0
    for i in range(count):
        ie, length = TWO_U16.unpack_from(body, pos + 4 * i)
        if length == 0 or length == 0xFFFF:
            stats.errors["bad_template"] += 1
            return None
        total += length
        fields.append(FieldSpec(ie, length, skip=i < scope))
    if total > 0xFFFF:
        stats.errors["bad_template"] += 1
        return None
    return fields


def _templates(body: memoryview, ctx: dict[str, Any], state: ExporterState, stats: ExporterStats,
               events: list[Event]) -> None:
    pos, end = 0, len(body)
    while end - pos >= 4:  # bounded: each template advances pos by >= 4
        template_id, count = TWO_U16.unpack_from(body, pos)
        pos += 4
        if template_id < 256 or count == 0 or count > MAX_FIELDS:
            if template_id == 0 and count == 0 and not any(body[pos:]):
                return  # zero padding
            stats.errors["bad_template"] += 1
            return
        if end - pos < 4 * count:
            stats.errors["truncated_template"] += 1
            return
        fields = _fields(body, pos, count, stats)
        pos += 4 * count
        if fields is None:
            return
        add_template(Template(template_id, fields), ctx, state, stats, events)


def _options(body: memoryview, ctx: dict[str, Any], state: ExporterState, stats: ExporterStats,
             events: list[Event]) -> None:
    pos, end = 0, len(body)
    while end - pos >= 6:
        template_id, scope_len, option_len = THREE_U16.unpack_from(body, pos)
        pos += 6
        if template_id == 0 and not any(body[pos - 6:]):
            return  # zero padding
        if template_id < 256 or scope_len % 4 or option_len % 4 or scope_len + option_len == 0:
            stats.errors["bad_template"] += 1
            return
        if (scope_len + option_len) // 4 > MAX_FIELDS:
            stats.errors["bad_template"] += 1
            return
        if end - pos < scope_len + option_len:
            stats.errors["truncated_template"] += 1
            return
        count = (scope_len + option_len) // 4
        fields = _fields(body, pos, count, stats, scope=scope_len // 4)
        pos += scope_len + option_len
        if fields is None:
            return
        add_template(Template(template_id, fields, options=True, scope_count=scope_len // 4), ctx, state, stats,
                     events)
