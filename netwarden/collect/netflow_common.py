"""What NetFlow v5, v9 and IPFIX share: information elements, compiled templates, exporter state, sets.

A flow record is decoded into a dict keyed by information-element number (the IANA IPFIX registry, which
NetFlow v9 shares below 128), then ``netflow_events.make_event`` turns it into an
:class:`~netwarden.records.Event`.
Everything here assumes hostile input: the callers check lengths against the datagram, and the state kept
per exporter is bounded (exporters, templates, buffered sets).
"""

from __future__ import annotations

import socket
import struct
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

from netwarden.collect.netflow_events import REVERSE, make_event
from netwarden.records import Event

MAX_EXPORTERS = 1024  # exporters whose templates are kept (least recently heard evicted first)
MAX_TEMPLATES = 512  # templates per exporter, all observation domains together
MAX_FIELDS = 512  # fields per template; real exporters use tens
MAX_PENDING_SETS = 64  # data sets per exporter waiting for their template
MAX_PENDING_BYTES = 256 * 1024  # ... and their bytes per exporter
PENDING_SECONDS = 30.0  # a data set waits this long for its template, then is counted as no_template
MAX_STATS = 4096  # exporters with their own counters; the rest are counted under "other"

REVERSE_PEN = 29305
VARIABLE = 0xFFFF  # IPFIX variable-length field

# information elements NetWarden reads: number -> kind. Others are skipped by their length.
IP4 = {8, 12, 15, 18, 130, 225, 226}
IP6 = {27, 28, 62, 63, 131, 281, 282}
MAC = {56, 57, 80, 81}
UINT = {1, 2, 4, 5, 6, 7, 9, 10, 11, 13, 14, 16, 17, 21, 22, 23, 24, 29, 30, 31, 32, 34, 35, 48, 49, 50, 58,
        60, 61, 85, 86, 89, 136, 139, 150, 151, 152, 153, 154, 155, 156, 157, 160, 161, 176, 177, 178, 179,
        227, 228, 233, 302, 304, 305, 306}
_UINT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


class DecodeError(Exception):
    """A datagram (or the rest of it) cannot be decoded; ``reason`` is the counter it goes under."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class ExporterStats:
    packets: int = 0
    records: int = 0  # flow records decoded
    options_records: int = 0
    templates: int = 0  # templates received (including refreshes)
    template_withdrawals: int = 0
    buffered: int = 0  # data sets held until their template came
    errors: Counter = field(default_factory=Counter)  # by reason
    stored: int = 0  # records handed to the stream (not dropped)
    dropped: int = 0  # records the stream refused (overload)
    versions: Counter = field(default_factory=Counter)
    last_seen: float = 0.0

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())


def _convert_ip4(value: bytes) -> str:
    return socket.inet_ntoa(value)


def _convert_ip6(value: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, value)


def _convert_mac(value: bytes) -> str:
    return value.hex(":")


def _convert_uint(value: bytes) -> int:
    return int.from_bytes(value, "big")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    ie: int
    length: int
    enterprise: int = 0
    skip: bool = False  # v9 option scope fields: their numbers are not information elements


class Template:
    """A compiled template: one struct for fixed-length records, a slower walk for variable-length ones."""

    __slots__ = ("template_id", "fields", "options", "record_length", "variable", "_struct", "_keys",
                 "_converters", "scope_count")

    def __init__(self, template_id: int, fields: list[FieldSpec], *, options: bool = False,
                 scope_count: int = 0) -> None:
        self.template_id = template_id
        self.fields = tuple(fields)
        self.options = options
        self.scope_count = scope_count
        self.variable = any(f.length == VARIABLE for f in fields)
        # minimum length for variable-length records: one length byte per variable field
        self.record_length = sum(1 if f.length == VARIABLE else f.length for f in fields)
        codes = [">"]
        keys: list[int] = []
        converters: list[tuple[int, Any]] = []
        for spec in fields:
            key, code, conv = _field_code(spec)
            if spec.length == VARIABLE:
                continue
            if key is None:
                codes.append(f"{spec.length}x")
                continue
            if conv is not None:
                converters.append((len(keys), conv))
            keys.append(key)
            codes.append(code)
        self._struct = None if self.variable else struct.Struct("".join(codes))
        self._keys = tuple(keys)
        self._converters = tuple(converters)

    def same_as(self, other: Template) -> bool:
        return self.fields == other.fields and self.options == other.options

    def records(self, body: memoryview, stats: ExporterStats) -> list[dict[int, Any]]:
        """The records of one data set's body (padding after the last whole record ignored)."""
        if self._struct is not None:
            size = self._struct.size
            n = len(body) // size
            if n == 0:
                return []
            keys, converters = self._keys, self._converters
            out = []
            for values in self._struct.iter_unpack(body[:n * size]):
                if converters:
                    values = list(values)
                    for i, conv in converters:
                        values[i] = conv(values[i])
                out.append(dict(zip(keys, values)))
            return out
        return self._variable_records(body, stats)

    def _variable_records(self, body: memoryview, stats: ExporterStats) -> list[dict[int, Any]]:
        out = []
        pos, end = 0, len(body)
        for _ in range(len(body) // max(1, self.record_length) + 1):  # bounded: every record takes >= 1 byte
            if end - pos < self.record_length:
                break  # padding
            record: dict[int, Any] = {}
            for spec in self.fields:
                length = spec.length
                if length == VARIABLE:
                    if pos >= end:
                        stats.errors["bad_record"] += 1
                        return out
                    length = body[pos]
                    pos += 1
                    if length == 255:
                        if end - pos < 2:
                            stats.errors["bad_record"] += 1
                            return out
                        length = (body[pos] << 8) | body[pos + 1]
                        pos += 2
                if end - pos < length:
                    stats.errors["bad_record"] += 1
                    return out
                key, code, conv = _field_code(FieldSpec(spec.ie, length, spec.enterprise, spec.skip))
                if key is not None:
                    raw = bytes(body[pos:pos + length])
                    if conv is not None:
                        record[key] = conv(raw)
                    else:
                        record[key] = int.from_bytes(raw, "big")
                pos += length
            out.append(record)
        return out


def _field_code(spec: FieldSpec) -> tuple[int | None, str, Any]:
    """(record key, struct code, converter) for a field; key None: skipped."""
    if spec.skip or spec.length == VARIABLE:
        return None, "", None
    ie, length = spec.ie, spec.length
    if spec.enterprise:
        if spec.enterprise == REVERSE_PEN and ie in (1, 2, 85, 86) and length in _UINT_CODES:
            return REVERSE + ie, _UINT_CODES[length], None
        return None, "", None
    if ie in UINT:
        if length in _UINT_CODES:
            return ie, _UINT_CODES[length], None
        if length <= 8:
            return ie, f"{length}s", _convert_uint  # reduced-size encoding
        return None, "", None
    if ie in IP4 and length == 4:
        return ie, "4s", _convert_ip4
    if ie in IP6 and length == 16:
        return ie, "16s", _convert_ip6
    if ie in MAC and length == 6:
        return ie, "6s", _convert_mac
    return None, "", None


class ExporterState:
    """Templates and options of one exporter (address), all observation domains and versions."""

    __slots__ = ("templates", "pending", "pending_bytes", "init_ms", "sampling", "sampler_intervals")

    def __init__(self) -> None:
        self.templates: dict[tuple[int, int, int], Template] = {}  # (version, domain, template id)
        self.pending: list[tuple[float, tuple[int, int, int], bytes, dict[str, Any]]] = []
        self.pending_bytes = 0
        self.init_ms: dict[tuple[int, int], int] = {}  # (version, domain) -> systemInitTimeMilliseconds
        self.sampling: dict[tuple[int, int], int] = {}  # (version, domain) -> sampling interval from options
        self.sampler_intervals: dict[tuple[int, int], dict[int, int]] = {}  # (version, domain) -> sampler -> interval

    def expire_pending(self, now: float, stats: ExporterStats) -> None:
        if self.pending and now - self.pending[0][0] > PENDING_SECONDS:
            keep = [p for p in self.pending if now - p[0] <= PENDING_SECONDS]
            stats.errors["no_template"] += len(self.pending) - len(keep)
            self.pending = keep
            self.pending_bytes = sum(len(p[2]) for p in keep)


class ExporterTable:
    """Bounded per-exporter state and counters."""

    def __init__(self, max_exporters: int = MAX_EXPORTERS, max_stats: int = MAX_STATS) -> None:
        self.max_exporters = max_exporters
        self.max_stats = max_stats
        self.states: OrderedDict[str, ExporterState] = OrderedDict()
        self.stats: dict[str, ExporterStats] = {}
        self.evicted = 0

    def state(self, exporter: str) -> ExporterState:
        state = self.states.get(exporter)
        if state is None:
            state = self.states[exporter] = ExporterState()
            if len(self.states) > self.max_exporters:
                self.states.popitem(last=False)
                self.evicted += 1
        else:
            self.states.move_to_end(exporter)
        return state

    def stats_for(self, exporter: str) -> ExporterStats:
        stats = self.stats.get(exporter)
        if stats is None:
            if len(self.stats) >= self.max_stats:
                exporter = "other"
                stats = self.stats.get(exporter)
            if stats is None:
                stats = self.stats[exporter] = ExporterStats()
        return stats


def note_options(rec: dict[int, Any], state: ExporterState, version: int, domain: int) -> None:
    """Keep what an options record tells about the exporter: its boot time and sampling."""
    if 160 in rec:
        state.init_ms[(version, domain)] = rec[160]
    interval = rec.get(34) or rec.get(305) or rec.get(50)
    if interval:
        sampler = rec.get(48, rec.get(302))
        if sampler is not None:
            samplers = state.sampler_intervals.setdefault((version, domain), {})
            if sampler in samplers or len(samplers) < 256:
                samplers[sampler] = interval
        else:
            state.sampling[(version, domain)] = interval


def now() -> float:
    return time.monotonic()


# -- sets: shared by NetFlow v9 and IPFIX --------------------------------------------------------------------

TWO_U16 = struct.Struct(">HH")  # a set header; a template's id and field count; a field's number and length
THREE_U16 = struct.Struct(">HHH")  # an options template's head


def read_header(header: struct.Struct, data: bytes) -> tuple[Any, ...]:
    """A message's header fields; a datagram shorter than the header is a DecodeError."""
    if len(data) < header.size:
        raise DecodeError("truncated_header", f"{len(data)} bytes")
    return header.unpack_from(data)


def walk_sets(view: memoryview, pos: int, end: int, ctx: dict[str, Any], state: ExporterState,
              stats: ExporterStats, events: list[Event], template_set: int, options_set: int,
              parse_templates: Any, parse_options: Any) -> None:
    """Every set (v9: FlowSet) of one message, each length checked against the message."""
    while end - pos >= 4:  # bounded: each set advances pos by >= 4
        set_id, set_len = TWO_U16.unpack_from(view, pos)
        if set_len < 4:
            stats.errors["bad_set_length"] += 1
            return
        if set_len > end - pos:
            stats.errors["truncated_set"] += 1
            return
        body = view[pos + 4:pos + set_len]
        pos += set_len
        if set_id == template_set:
            parse_templates(body, ctx, state, stats, events)
        elif set_id == options_set:
            parse_options(body, ctx, state, stats, events)
        elif set_id >= 256:
            data_set(set_id, body, ctx, state, stats, events)
        else:
            stats.errors["unknown_set"] += 1
    if end - pos and ctx["version"] == 10:
        stats.errors["trailing_bytes"] += 1  # v9 exporters may pad the last FlowSet; IPFIX may not


def add_template(template: Template, ctx: dict[str, Any], state: ExporterState, stats: ExporterStats,
                 events: list[Event]) -> None:
    key = (ctx["version"], ctx["domain"], template.template_id)
    if key not in state.templates and len(state.templates) >= MAX_TEMPLATES:
        stats.errors["template_limit"] += 1
        return
    state.templates[key] = template
    stats.templates += 1
    if state.pending:
        waiting = [p for p in state.pending if p[1] == key]
        if waiting:
            state.pending = [p for p in state.pending if p[1] != key]
            state.pending_bytes = sum(len(p[2]) for p in state.pending)
            for _, _, body, old_ctx in waiting:
                data_set(key[2], memoryview(body), old_ctx, state, stats, events)


def withdraw(ctx: dict[str, Any], state: ExporterState, stats: ExporterStats, template_id: int | None,
             options: bool) -> None:
    """IPFIX template withdrawal: one template, or all (of one kind) of this observation domain."""
    version, domain = ctx["version"], ctx["domain"]
    if template_id is not None:
        if state.templates.pop((version, domain, template_id), None) is not None:
            stats.template_withdrawals += 1
        return
    for key in [k for k, t in state.templates.items() if k[:2] == (version, domain) and t.options == options]:
        del state.templates[key]
        stats.template_withdrawals += 1


def data_set(template_id: int, body: memoryview, ctx: dict[str, Any], state: ExporterState,
             stats: ExporterStats, events: list[Event]) -> None:
    version, domain = ctx["version"], ctx["domain"]
    template = state.templates.get((version, domain, template_id))
    if template is None:
        _hold(template_id, body, ctx, state, stats)
        return
    records = template.records(body, stats)
    if template.options:
        for rec in records:
            note_options(rec, state, version, domain)
        stats.options_records += len(records)
        return
    if not records:
        return
    full = dict(ctx)
    full["init_ms"] = state.init_ms.get((version, domain))
    full["sampling"] = state.sampling.get((version, domain))
    full["sampler_intervals"] = state.sampler_intervals.get((version, domain))
    events.extend([make_event(rec, full) for rec in records])
    stats.records += len(records)


def _hold(template_id: int, body: memoryview, ctx: dict[str, Any], state: ExporterState,
          stats: ExporterStats) -> None:
    """A data set before its template: kept a little while (bounded), else counted as no_template."""
    moment = now()
    state.expire_pending(moment, stats)
    if len(state.pending) >= MAX_PENDING_SETS or state.pending_bytes + len(body) > MAX_PENDING_BYTES:
        stats.errors["no_template"] += 1
        return
    state.pending.append((moment, (ctx["version"], ctx["domain"], template_id), bytes(body), ctx))
    state.pending_bytes += len(body)
    stats.buffered += 1
