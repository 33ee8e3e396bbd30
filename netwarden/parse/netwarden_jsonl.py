"""NetWarden's own event shape as JSON lines: exactly what :meth:`Event.to_dict` writes, one object a line.

``{"timestamp": "2026-01-01T00:00:00Z", "source_kind": "access_log", "src_ip": "203.0.113.7", ...}``

Keys are the names in :data:`~netwarden.records.EVENT_FIELDS`; a field that is ``None`` is simply absent
(``to_dict`` leaves it out), so only ``source_kind`` is required. Every value is checked for its JSON
type and then through the :mod:`~netwarden.parse.fields` helpers, like any other untrusted input.

Unknown keys: the line is kept, and they go to ``extra["unknown"]`` (a dict) rather than being dropped
or quarantining the line. A file written by a newer NetWarden with an extra field, or by a script with a
misspelt one, stays importable and loses nothing; the data sits somewhere visible. Type errors in known
fields, by contrast, quarantine the line: those are never "newer", only wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from netwarden.parse import fields
from netwarden.parse.base import ParseError, Parser, register
from netwarden.records import EVENT_FIELDS, Event, SourceKind

_KNOWN = frozenset(EVENT_FIELDS)
_SOURCE_KINDS = {kind.value: kind for kind in SourceKind}
_TEXT_LIMITS = {
    "observer": 256, "transport": 32, "app_protocol": 64, "tcp_flags": 64, "action": 64, "http_method": 32,
    "url": 8192, "user_agent": 8192, "user": 256, "outcome": 32, "message": 65536, "raw": 65536, "label": 256,
}
_COUNTERS = ("bytes_out", "bytes_in", "packets_out", "packets_in")
# a kind this version does not know is accepted if it looks like one: the store keeps 16 characters
_KIND_SHAPE = re.compile(r"[a-z][a-z0-9_]{0,15}")
MAX_UNKNOWN_KEYS = 64


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN/Infinity: Python's json would otherwise accept them


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0:  # 1e400 is read as inf: no literal, so parse_constant never sees it
        raise ValueError(f"{text[:40]} is out of range")
    return value


def _load(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:  # "[[[[..." nested deeper than the interpreter's stack
        raise ParseError("bad_json", "JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN, the int-digits limit
        raise ParseError("bad_json", str(exc)[:200]) from None
    if not isinstance(value, dict):
        raise ParseError("bad_json", f"a JSON {type(value).__name__}, not an object")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@register
class NetWardenJsonl(Parser):
    """NetWarden event JSON lines (the shape ``Event.to_dict()`` writes; export/import between instances)."""

    name = "netwarden"
    description = "NetWarden event JSON lines (Event.to_dict() shape)"
    example = ('{"timestamp": "2026-01-01T00:00:00Z", "source_kind": "access_log", "src_ip": "203.0.113.7", '
               '"http_method": "GET", "url": "/", "http_status": 200}')
    source_kind = "netwarden"  # no single kind: each event carries its own source_kind
    keep_raw = True  # "raw" is a field of the event itself and comes from the JSON, never the line

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        hits = 0
        for line in lines:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):
                continue
            # Zeek JSON ("uid", "id.orig_h") and Suricata EVE ("event_type") have none of source_kind
            if isinstance(value, dict) and isinstance(value.get("source_kind"), str) and set(value) <= _KNOWN:
                hits += 1
        return 0.95 * hits / len(lines) if lines else 0.0

    def parse_line(self, line: str) -> Event | None:
        if not line.strip():
            return None
        data = _load(line)
        kind = data.get("source_kind")
        if kind is None:
            raise ParseError("missing_field", "no source_kind: not a NetWarden event")
        if not isinstance(kind, str) or not _KIND_SHAPE.fullmatch(kind):
            raise ParseError("bad_field", "source_kind must be a short lower-case name like 'access_log'")
        values: dict[str, Any] = {"source_kind": _SOURCE_KINDS.get(kind, kind)}
        unknown: dict[str, Any] = {}
        for key, value in data.items():
            if key not in _KNOWN:
                unknown[key] = value
            elif key != "source_kind" and value is not None:
                values[key] = self._field(key, value)
        if unknown:
            if len(unknown) > MAX_UNKNOWN_KEYS:
                raise ParseError("bad_field", f"{len(unknown)} unknown keys: not a NetWarden event")
            extra = dict(values.get("extra", {}))
            if "unknown" in extra:
                raise ParseError("bad_field", "unknown keys, and extra already has an 'unknown' entry")
            extra["unknown"] = unknown
            values["extra"] = extra
        values.setdefault("timestamp", None)
        return Event(**values)

    def _field(self, key: str, value: Any) -> Any:
        """One known field, type-checked and validated; raises ParseError naming the field."""
        if key == "timestamp":
            if not isinstance(value, str):
                raise ParseError("bad_timestamp", "timestamp must be an ISO-8601 string")
            try:
                stamp: datetime | None = fields.iso_time(value, self.context.local_tz)
            except OverflowError:  # year 9999 pushed past the end by a zone offset
                raise ParseError("bad_timestamp", f"timestamp {value[:64]!r} out of range") from None
            return stamp
        if key in ("src_ip", "dst_ip"):
            if not isinstance(value, str):
                raise ParseError("bad_address", f"{key} must be a string")
            return fields.ip(value, key, optional=False)
        if key in ("src_port", "dst_port"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ParseError("bad_port", f"{key} must be an integer")
            return fields.port(value, key)
        if key in _COUNTERS:
            # fields.counter would truncate a float 1.5 to 1 (int() of a float never fails): check first
            if not _is_number(value) or (isinstance(value, float) and not value.is_integer()):
                raise ParseError("bad_number", f"{key} must be a whole number")
            return fields.counter(value, key)
        if key == "duration":
            if not _is_number(value) or abs(value) > 1e18:  # float() of a 400-digit int overflows
                raise ParseError("bad_number", "duration must be a number of seconds")
            return fields.seconds(value, key)
        if key == "http_status":
            if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 999:
                raise ParseError("bad_status", f"http_status {value!r} is not an HTTP status")
            return value
        if key == "extra":
            if not isinstance(value, dict):
                raise ParseError("bad_field", "extra must be an object")
            return value
        # the free-text fields; fields.text would turn "-" into None, but in JSON absence is null, so
        # a "-" here is a real value and must survive the round trip
        if not isinstance(value, str):
            raise ParseError("bad_field", f"{key} must be a string")
        limit = _TEXT_LIMITS[key]
        return value if len(value) <= limit else value[:limit]
