"""CICFlowMeter flow CSVs, as published in CIC-IDS2017 and CSE-CIC-IDS2018 (and written by the tool today).

The header names the columns, in several spellings that are all accepted:

* CIC-IDS2017 ``TrafficLabelling``: ``Flow ID, Source IP, Source Port, ... Total Fwd Packets, ...`` with a
  leading space on most names and ``Fwd Header Length`` twice (the second becomes ``Fwd Header Length.1``,
  as pandas names it); the ``MachineLearningCVE`` files drop the addresses and the timestamp.
* CSE-CIC-IDS2018 and CICFlowMeter-V4: ``Flow ID,Src IP,Src Port,... Tot Fwd Pkts,TotLen Fwd Pkts,...``;
  several 2018 days have only ``Dst Port,Protocol,Timestamp,...`` and repeat the header inside the file.
* the Python ``cicflowmeter`` package: ``src_ip,dst_ip,src_port,...,tot_fwd_pkts,...``.

Every column goes into ``Event.extra`` under its own (space-trimmed) name, numbers as int/float, so the
ML stage can rebuild the feature vector exactly. ``Infinity``/``NaN`` (rates of zero-length flows) and
blank cells become ``None``: the row is kept. Negative values are kept too, as the tool wrote them
(``Init_Win_bytes_backward`` is -1 when no window was seen; a few durations are negative); only the
mapped Event fields drop values that make no sense there.
``Flow Duration`` is in microseconds. Timestamps are day-first local times (``03/07/2017 08:55:58``,
``3/7/2017 8:55``, ``14/02/2018 08:31:01``, ``21/11/2019 03:52:41 PM``) or ISO (``2020-10-06 17:32:56``);
the verbatim text stays in ``extra["Timestamp"]``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from netwarden.parse import fields
from netwarden.parse._flowcsv import IP_PROTOCOLS, clean_line, number, split_row
from netwarden.parse.base import ParseContext, ParseError, Parser, register
from netwarden.records import Event, SourceKind

# normalised column name (lower case, no spaces/underscores) -> the Event field it feeds
_ROLES: dict[str, str] = {
    "flowid": "flow_id",
    "srcip": "src_ip", "sourceip": "src_ip",
    "srcport": "src_port", "sourceport": "src_port",
    "dstip": "dst_ip", "destinationip": "dst_ip",
    "dstport": "dst_port", "destinationport": "dst_port",
    "protocol": "protocol",
    "timestamp": "timestamp",
    "flowduration": "duration",
    "totfwdpkts": "packets_out", "totalfwdpackets": "packets_out", "totalfwdpacket": "packets_out",
    "totbwdpkts": "packets_in", "totalbackwardpackets": "packets_in", "totalbwdpackets": "packets_in",
    "totlenfwdpkts": "bytes_out", "totallengthoffwdpackets": "bytes_out",
    "totallengthoffwdpacket": "bytes_out",
    "totlenbwdpkts": "bytes_in", "totallengthofbwdpackets": "bytes_in", "totallengthofbwdpacket": "bytes_in",
    "label": "label",
}
# columns that hold text; every other column must be a number
_TEXT_ROLES = frozenset({"flow_id", "src_ip", "dst_ip", "timestamp", "label"})
_TEXT_KEYS = frozenset({"srcmac", "dstmac"})
#: what CICFlowMeter writes when nobody labelled the flows: no ground truth
_NO_LABEL = frozenset({"needmanuallabel", "nolabel"})

_DAY_FIRST = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(?: ?([AaPp][Mm]))?")


def _key(name: str) -> str:
    return name.lower().replace(" ", "").replace("_", "")


def _is_header(cells: list[str]) -> bool:
    return any(_key(c) == "flowduration" for c in cells) and not cells[0].strip().lstrip("-").isdigit()


class _Header:
    """Column names for extra, the converter kind of each column, and where the mapped fields are."""

    def __init__(self, cells: list[str]) -> None:
        names: list[str] = []
        seen: dict[str, int] = {}
        for cell in cells:
            name = cell.strip()
            if name in seen:  # CIC-IDS2017 has "Fwd Header Length" twice; pandas calls the second ".1"
                seen[name] += 1
                name = f"{name}.{seen[name]}"
            else:
                seen[name] = 0
            names.append(name)
        self.width = len(names)
        self.columns: list[tuple[int, str, bool]] = []  # (index, name, is_text), named columns only
        self.role: dict[str, str] = {}  # Event field -> column name
        for i, name in enumerate(names):
            if not name:  # an unnamed pandas index column: not a feature
                continue
            key = _key(name)
            role = _ROLES.get(key)
            if role and role not in self.role:
                self.role[role] = name
            self.columns.append((i, name, role in _TEXT_ROLES or key in _TEXT_KEYS))
        # precomputed for the fast path: which cells are numbers, where the text ones slot back in
        self.ordered_names = [name for _, name, _ in self.columns]
        self.numeric = [i for i, _, is_text in self.columns if not is_text]
        self.take_numeric = operator.itemgetter(*self.numeric) if len(self.numeric) > 1 else None
        self.text_slots = [(k, i, name) for k, (i, name, is_text) in enumerate(self.columns) if is_text]


@register
class CicFlowMeter(Parser):
    """CICFlowMeter CSV (CIC-IDS2017, CSE-CIC-IDS2018, CICFlowMeter-V4, Python cicflowmeter)."""

    name = "cicflowmeter"
    description = "CICFlowMeter flow CSV (CIC-IDS2017, CSE-CIC-IDS2018 and the tool's own output)"
    example = ("Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,Tot Bwd Pkts,...,Label\n"
               "443,6,02/03/2018 08:47:38,141385,9,7,553,3773,...,Benign")
    source_kind = SourceKind.FLOW_CSV
    keep_raw = False

    def __init__(self, context: ParseContext | None = None) -> None:
        super().__init__(context)
        self._header: _Header | None = None
        self._times: dict[str, datetime] = {}

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        for line in lines[:5]:
            keys = {_key(c) for c in clean_line(line).split(",")}
            if "flowduration" in keys and keys & {"totfwdpkts", "totalfwdpackets", "totalfwdpacket"}:
                return 0.95
            if "flowduration" in keys and "label" in keys:
                return 0.8
        return 0.0

    def parse_line(self, line: str) -> Event | None:
        line = clean_line(line)
        if not line.strip():
            return None
        cells = split_row(line)
        if "uration" in line and _is_header(cells):  # the substring test spares data rows the full check
            self._header = _Header(cells)  # also re-read when a file repeats it, or a second file follows
            return None
        header = self._header
        if header is None:
            raise ParseError("no_header", "a CICFlowMeter row before any header line")
        if len(cells) != header.width:
            if not line.strip(", \t"):  # CIC-IDS2017 files end in rows of bare commas: nothing there
                return None
            raise ParseError("wrong_field_count", f"{len(cells)} fields, the header has {header.width}")
        if not line.strip(", \t"):
            return None  # ",,,,": an empty row
        values = self._numbers(header, cells, line.isascii())
        for k, i, name in header.text_slots:  # few (Flow ID, addresses, Timestamp, Label): put them in place
            cell = cells[i].strip()
            if len(cell) > 256:
                raise ParseError("bad_value", f"{name} too long")
            values.insert(k, cell or None)
        return self._event(header, dict(zip(header.ordered_names, values)))

    @staticmethod
    def _numbers(header: _Header, cells: list[str], ascii_line: bool = False) -> list[int | float | None]:
        """The numeric cells, in column order: whole values as int, others float, Infinity/NaN as None."""
        texts = header.take_numeric(cells) if header.take_numeric else [cells[i] for i in header.numeric]
        try:
            if not ascii_line:  # float() reads "٥" as 5: lines with any non-ASCII text take the careful path
                raise ValueError
            floats = list(map(float, texts))  # C speed; blanks and junk take the careful path below
        except ValueError:
            return [number(cells[i], name) for i, name, is_text in header.columns if not is_text]
        # f - f == 0 is false exactly for inf and NaN
        return [int(f) if f.is_integer() else (f if f - f == 0 else None) for f in floats]

    def _event(self, header: _Header, extra: dict[str, Any]) -> Event:
        role = header.role

        def value(field: str) -> Any:
            name = role.get(field)
            return None if name is None else extra.get(name)

        protocol = value("protocol")
        duration_us = value("duration")
        label = value("label")
        if label is not None and _key(label) in _NO_LABEL:
            label = None
        return Event(
            timestamp=self._time(value("timestamp")),
            source_kind=SourceKind.FLOW_CSV,
            observer=self.context.observer,
            src_ip=fields.ip(value("src_ip"), "source address"),
            src_port=_port(value("src_port"), "source port"),
            dst_ip=fields.ip(value("dst_ip"), "destination address"),
            dst_port=_port(value("dst_port"), "destination port"),
            transport=IP_PROTOCOLS.get(protocol) if isinstance(protocol, int) else None,
            bytes_out=_count(value("bytes_out")),
            bytes_in=_count(value("bytes_in")),
            packets_out=_count(value("packets_out")),
            packets_in=_count(value("packets_in")),
            # microseconds; CICFlowMeter writes a few negative durations (clock steps): not a duration
            duration=duration_us / 1e6 if duration_us is not None and duration_us >= 0 else None,
            label=label,
            extra=extra,
        )

    def _time(self, text: str | None) -> datetime | None:
        if text is None:
            return None
        cached = self._times.get(text)
        if cached is not None:
            return cached
        m = _DAY_FIRST.fullmatch(text)
        if m:
            day, month, year, hour, minute, second, frac, ampm = m.groups()
            hh = int(hour)
            if ampm:
                if not 1 <= hh <= 12:
                    raise ParseError("bad_timestamp", f"invalid 12-hour time {text!r}")
                hh = hh % 12 + (12 if ampm.lower() == "pm" else 0)
            try:
                naive = datetime(int(year), int(month), int(day), hh, int(minute), int(second or 0),
                                 int(frac.ljust(6, "0")) if frac else 0)
                value = fields.aware(naive, self.context.local_tz)
            except (ValueError, OverflowError):  # 31/02, or year 9999 pushed past the end by the zone
                raise ParseError("bad_timestamp", f"impossible date {text!r}") from None
        elif len(text) >= 10 and text[4] == "-":
            try:
                value = fields.iso_time(text, self.context.local_tz)  # type: ignore[assignment]
            except OverflowError:
                raise ParseError("bad_timestamp", f"impossible date {text!r}") from None
        else:
            raise ParseError("bad_timestamp", f"unrecognised timestamp {text[:64]!r}")
        if len(self._times) > 4096:  # flows of one second share a timestamp: a small cache is enough
            self._times.clear()
        self._times[text] = value
        return value


def _port(value: int | float | None, what: str) -> int | None:
    if isinstance(value, float):  # 80.5 is no port (and fields.port would truncate it to 80)
        raise ParseError("bad_port", f"{what} {value!r} is not a whole number")
    return fields.port(value, what)


def _count(value: int | float | None) -> int | None:
    """A packet or byte count for an Event field: whole and non-negative, else left out (extra keeps it)."""
    if value is None or value < 0 or value > fields.MAX_COUNTER or value != int(value):
        return None
    return int(value)
