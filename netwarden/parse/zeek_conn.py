"""Zeek (Bro) ``conn.log``: one record per connection, as TSV with ``#`` headers or as JSON lines.

TSV: the ``#separator``/``#set_separator``/``#empty_field``/``#unset_field`` headers say how to split, and
``#fields`` names the columns; the parser keeps what it learned for the rest of the stream, so extra
columns (``label detailedlabel`` of Stratosphere's labelled files, ``orig_l2_addr``, ``community_id``) are
fine. JSON: one object per line with the same names (``"id.orig_h"``); unset fields are left out.

Decisions:

* ``ts`` is taken as Unix time whatever its size: files rewritten for testing carry small relative
  values (``928.94``), which simply become early-1970 timestamps. JSON ``ts`` may also be an ISO-8601
  string (``JSON::TS_ISO8601``) or integer milliseconds (``JSON::TS_MILLIS``; an integer above 1e11 would
  be beyond the year 5000 as seconds).
* ``history`` (Zeek's own per-direction flag letters, ``ShADadfF``) becomes ``tcp_flags`` for TCP; it and
  ``conn_state`` are also kept in ``extra`` for every protocol.
* ``label`` goes to ``Event.label``; ``detailedlabel`` (or IoT-23's ``detailed-label``) to ``extra``.
* TSV values are kept verbatim: Zeek's ``\\xHH`` escapes inside strings are not undone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from netwarden.parse import fields
from netwarden.parse._jsonline import load_object, objects, plain, scalar, string
from netwarden.parse.base import ParseContext, ParseError, Parser, register
from netwarden.records import Event, SourceKind

_HEX_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")

# columns that map onto Event fields, with the ParseError reason for a value of the wrong JSON type
_MAPPED: dict[str, str] = {
    "ts": "bad_timestamp", "id.orig_h": "bad_address", "id.resp_h": "bad_address",
    "id.orig_p": "bad_port", "id.resp_p": "bad_port", "proto": "bad_value", "service": "bad_value",
    "duration": "bad_number", "orig_bytes": "bad_number", "resp_bytes": "bad_number",
    "orig_pkts": "bad_number", "resp_pkts": "bad_number", "label": "bad_value",
}
_EXTRA_COUNTERS = ("missed_bytes", "orig_ip_bytes", "resp_ip_bytes")
_EXTRA_TEXT = ("uid", "conn_state", "history")
_EXTRA_BOOLS = ("local_orig", "local_resp")
_HANDLED = frozenset(_MAPPED) | frozenset(_EXTRA_COUNTERS + _EXTRA_TEXT + _EXTRA_BOOLS) | {
    "tunnel_parents", "detailedlabel", "detailed-label", "detailed_label"}
_MAX_UNKNOWN = 32  # unknown columns kept in extra; a hostile JSON line may carry thousands of keys
_MS_THRESHOLD = 100_000_000_000  # integer ts above this is JSON::TS_MILLIS


def _unescape(value: str) -> str:
    return _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int) and value > _MS_THRESHOLD:
        return fields.epoch(value / 1000)
    if isinstance(value, str) and value not in fields.MISSING:
        try:
            float(value)
        except ValueError:  # not a number: JSON::TS_ISO8601
            return fields.iso_time(value)
    return fields.epoch(value)


def _text(value: Any, limit: int = 256) -> str | None:
    text = string(value, limit)
    return None if text is None or text in fields.MISSING else text


@register
class ZeekConn(Parser):
    """Zeek ``conn.log``, TSV (with its ``#`` header) or JSON lines."""

    name = "zeek_conn"
    description = "Zeek conn.log (TSV with #fields header, or JSON lines)"
    example = ('{"ts":1700828217.314165,"uid":"CfykLO1IT1nVRJhLA3","id.orig_h":"192.168.1.9",'
               '"id.orig_p":50820,"id.resp_h":"45.33.32.156","id.resp_p":443,"proto":"tcp",'
               '"conn_state":"REJ","history":"Sr"}')
    source_kind = SourceKind.ZEEK
    keep_raw = False  # every column is mapped or kept in extra

    def __init__(self, context: ParseContext | None = None) -> None:
        super().__init__(context)
        self._sep = "\t"
        self._set_sep = ","
        self._empty = "(empty)"
        self._unset = "-"
        self._columns: list[str] | None = None  # names after splitting compound columns
        self._raw_width = 0  # number of separator-split fields in a data line
        self._compound: list[tuple[int, int]] = []  # (raw index, parts) of IoT-23 "a   b   c" columns
        self.path: str | None = None

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        sample = [line.strip() for line in lines if line.strip()]
        if not sample:
            return 0.0
        fields_line = next((line for line in sample if line.startswith("#fields")), None)
        if sample[0].startswith("#separator") or fields_line:
            path = next((line.split()[1:] for line in sample if line.startswith("#path")), None)
            if path == ["conn"]:
                return 1.0
            if fields_line and "id.orig_h" in fields_line and "conn_state" in fields_line:
                return 0.95
            return 0.3  # another Zeek log (dns.log, http.log): readable, but not what this parser is for
        decoded = objects(sample)
        hits = [o for o in decoded
                if o is not None and "ts" in o and ("id.orig_h" in o or isinstance(o.get("id"), dict))]
        if not hits:
            return 0.0
        share = len(hits) / len(decoded)
        if any("conn_state" in o or "orig_bytes" in o or "history" in o for o in hits):
            return 0.95 * share
        return 0.3 * share

    def parse_line(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        head = line.lstrip(" \t")  # test10 of the Slips data starts with "\t#separator"
        if not head:
            return None
        if head.startswith("#"):
            self._header(head)
            return None
        if head[0] in "{[":  # JSON; a TSV line starts with its ts
            return self._event(self._from_json(load_object(line)))
        return self._event(self._from_tsv(line))

    # --- TSV ---------------------------------------------------------------------------------------

    def _header(self, line: str) -> None:
        if line.startswith("#separator"):
            # written before the separator is known: "#separator \x09", value escaped
            sep = _unescape(line[len("#separator"):].lstrip(" "))
            if not sep:
                raise ParseError("bad_header", "empty #separator")
            self._sep = sep
            return
        key, _, rest = line.partition(self._sep)
        values = rest.split(self._sep) if rest else []
        if key == "#set_separator" and values:
            self._set_sep = _unescape(values[0]) or ","
        elif key == "#empty_field" and values:
            self._empty = values[0]
        elif key == "#unset_field" and values:
            self._unset = values[0]
        elif key == "#path" and values:
            self.path = values[0][:64]
        elif key == "#fields":
            self._learn_fields(values)
        # #open, #close, #types and any other comment carry no event

    def _learn_fields(self, names: list[str]) -> None:
        columns: list[str] = []
        compound: list[tuple[int, int]] = []
        for index, name in enumerate(names):
            parts = name.split()
            if len(parts) > 1:
                # IoT-23 writes "tunnel_parents   label   detailed-label" as ONE tab column, space-joined
                compound.append((index, len(parts)))
            columns.extend(parts or [name])
        if "ts" not in columns:
            self._columns = None
            raise ParseError("bad_header", "#fields has no ts column")
        self._columns = columns
        self._raw_width = len(names)
        self._compound = compound

    def _from_tsv(self, line: str) -> dict[str, Any]:
        if self._columns is None:
            raise ParseError("no_header", "data line before any #fields header")
        parts = line.split(self._sep)
        if len(parts) != self._raw_width:
            raise ParseError("wrong_field_count",
                             f"{len(parts)} fields, the #fields header has {self._raw_width}")
        for index, width in reversed(self._compound):
            pieces = parts[index].split(None, width - 1)
            if len(pieces) != width:
                raise ParseError("wrong_field_count", f"column {index + 1} should hold {width} values")
            parts[index:index + 1] = pieces
        unset, empty = self._unset, self._empty
        record: dict[str, Any] = {}
        for name, value in zip(self._columns, parts):
            if value == unset or value == empty:
                continue
            record[name] = value
        if "tunnel_parents" in record:
            record["tunnel_parents"] = record["tunnel_parents"].split(self._set_sep)
        for name in _EXTRA_BOOLS:
            if name in record:
                flag = record[name]
                record[name] = True if flag == "T" else False if flag == "F" else flag
        return record

    # --- JSON --------------------------------------------------------------------------------------

    @staticmethod
    def _from_json(record: dict[str, Any]) -> dict[str, Any]:
        nested = record.get("id")
        if isinstance(nested, dict):  # shippers that un-flatten "id.orig_h" into {"id": {"orig_h": ...}}
            for key in ("orig_h", "orig_p", "resp_h", "resp_p"):
                if key in nested:
                    record.setdefault(f"id.{key}", nested[key])
        for key, reason in _MAPPED.items():
            value = record.get(key)
            if value is not None:
                scalar(value, reason, key)
                if reason == "bad_address" and not isinstance(value, str):
                    raise ParseError("bad_address", f"{key} is not a string")
        return record

    # --- both --------------------------------------------------------------------------------------

    def _event(self, rec: dict[str, Any]) -> Event:
        timestamp = _timestamp(rec.get("ts"))
        if timestamp is None:
            raise ParseError("missing_field", "no ts")
        proto = _text(rec.get("proto"), 16)
        proto = proto.lower() if proto else None
        service = _text(rec.get("service"), 64)
        extra: dict[str, Any] = {}
        for name in _EXTRA_TEXT:
            value = _text(rec.get(name))
            if value is not None:
                extra[name] = value
        for name in _EXTRA_COUNTERS:
            value = fields.counter(scalar(rec.get(name), "bad_number", name), name)
            if value is not None:
                extra[name] = value
        for name in _EXTRA_BOOLS:
            value = rec.get(name)
            if isinstance(value, bool):
                extra[name] = value
        parents = plain(rec.get("tunnel_parents"))
        if parents:
            extra["tunnel_parents"] = parents
        detailed = _text(rec.get("detailedlabel") or rec.get("detailed-label") or rec.get("detailed_label"),
                         1024)
        if detailed is not None:
            extra["detailedlabel"] = detailed
        unknown = 0
        for key, value in rec.items():
            if key in _HANDLED or key == "id" or unknown >= _MAX_UNKNOWN:
                continue
            value = plain(value)
            if value is not None and value != "" and len(key) <= 64:
                extra[key] = value
                unknown += 1
        history = extra.get("history")
        return Event(
            timestamp=timestamp,
            source_kind=SourceKind.ZEEK,
            observer=self.context.observer,
            src_ip=fields.ip(rec.get("id.orig_h"), "originator address"),
            src_port=fields.port(rec.get("id.orig_p"), "originator port"),
            dst_ip=fields.ip(rec.get("id.resp_h"), "responder address"),
            dst_port=fields.port(rec.get("id.resp_p"), "responder port"),
            transport=proto,
            app_protocol=service.lower() if service else None,
            duration=fields.seconds(rec.get("duration")),
            bytes_out=fields.counter(rec.get("orig_bytes"), "orig_bytes"),
            bytes_in=fields.counter(rec.get("resp_bytes"), "resp_bytes"),
            packets_out=fields.counter(rec.get("orig_pkts"), "orig_pkts"),
            packets_in=fields.counter(rec.get("resp_pkts"), "resp_pkts"),
            tcp_flags=history if proto == "tcp" else None,
            label=_text(rec.get("label"), 256),
            extra=extra,
        )
