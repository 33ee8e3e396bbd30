"""Argus bidirectional flow records (``.binetflow``), the format of CTU-13 and the Stratosphere captures.

``ra -c , -s stime dur proto saddr sport dir daddr dport state stos dtos pkts bytes sbytes spkts label``
writes a header line (``StartTime,Dur,Proto,SrcAddr,...``) and one flow per line. Columns are found by
their header name, so the 15-column variant without ``SrcPkts``, tab separators and extra columns all work.

Decisions:

* ``StartTime`` (``2019/04/04 16:24:47.672448``) carries no zone: it is read in ``context.local_tz``.
  Epoch seconds (``ra -u``) are accepted too. Dates near 1970 (captures replayed from a relative clock)
  are kept as they are.
* ICMP "ports" are Argus' hex type/code (``0x0008``) and stay in ``src_port``/``dst_port``, as Zeek does.
* An address field holding a MAC (ARP and LLC rows of some Argus versions) is real traffic, not a bad line:
  the MAC goes to ``extra["src_mac"]``/``["dst_mac"]`` and ``src_ip``/``dst_ip`` stay empty.
* ``State`` (``S_RA``, ``CON``, ``ECO``) is kept in ``extra["state"]`` and, for TCP, is ``tcp_flags``.
* ``packets_in``/``bytes_in`` are ``Tot - Src`` when both exist (or ``DstPkts``/``DstBytes`` if present);
  a total smaller than its source part is a corrupt line.
* A ``man`` record (Proto ``man``) is Argus' own management record (monitor start, status: ``STA``),
  about the sensor rather than any traffic, with ``0`` for its addresses. Like Zeek's ``#open`` header it
  yields no event (``None``), so it neither pollutes flow statistics nor counts as quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from netwarden.parse import fields
from netwarden.parse.base import ParseContext, ParseError, Parser, register
from netwarden.records import Event, SourceKind

# re.ASCII: \d is any decimal digit otherwise ("٢٠١٩"), and int()/float() read them all
_TIME = re.compile(r"(\d{4})[/-](\d{2})[/-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?", re.ASCII)
_EPOCH = re.compile(r"\d{1,11}(?:\.\d{1,9})?", re.ASCII)
_MAC = re.compile(r"[0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2}){5}")
_SEPARATORS = ("\t", ",", ";", "|")
# header names (lower case) that are mapped onto Event fields; everything else goes to extra
_MAPPED = frozenset({"starttime", "dur", "proto", "srcaddr", "sport", "dir", "dstaddr", "dport", "state",
                     "stos", "dtos", "totpkts", "totbytes", "srcbytes", "srcpkts", "dstbytes", "dstpkts",
                     "label", "srcmac", "dstmac"})
_MAX_UNKNOWN = 32


def _split_counts(total: int | None, source: int | None, dest: int | None, what: str) -> int | None:
    """The destination's share: its own column if Argus wrote one, else total minus the source's."""
    if dest is not None:
        return dest
    if total is None or source is None:
        return None
    if total < source:
        raise ParseError("bad_number", f"Tot{what} {total} is less than Src{what} {source}")
    return total - source


@register
class ArgusBinetflow(Parser):
    """Argus bidirectional flows as CSV (CTU-13 / Stratosphere ``.binetflow``)."""

    name = "argus_binetflow"
    description = "Argus bidirectional flow CSV (.binetflow, CTU-13 style), comma or tab separated"
    example = ("2019/04/04 16:24:47.672448,63.822830,tcp,10.8.0.69,56101,   ->,14.1.11.113,999,S0,"
               "0,0,31,8764,1887,15,")
    source_kind = SourceKind.ARGUS
    keep_raw = False  # every column is mapped or kept in extra

    def __init__(self, context: ParseContext | None = None) -> None:
        super().__init__(context)
        self._sep = ","
        self._names: list[str] | None = None  # lower-case header names, in column order
        self._index: dict[str, int] = {}

    @staticmethod
    def _is_header(line: str) -> bool:
        return line[:1].isalpha() and "srcaddr" in line.lower() and "dstaddr" in line.lower()

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        sample = [line.strip("\r\n") for line in lines if line.strip()]
        if not sample:
            return 0.0
        if any(cls._is_header(line.lstrip()) and "starttime" in line.lower() for line in sample[:5]):
            return 0.97
        # data rows without their header: recognisable, but columns cannot be named, so say so weakly
        rows = sum(1 for line in sample if _TIME.match(line) and ("->" in line or " who" in line))
        return 0.3 * rows / len(sample)

    def parse_line(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        if not line.strip():
            return None
        if self._is_header(line.lstrip()):
            self._learn_header(line.strip())
            return None
        if self._names is None:
            raise ParseError("no_header", "data line before the StartTime,...,SrcAddr,... header")
        values = line.split(self._sep)
        if len(values) != len(self._names):
            raise ParseError("wrong_field_count", f"{len(values)} fields, the header has {len(self._names)}")
        return self._event(values)

    def _learn_header(self, line: str) -> None:
        sep = next((s for s in _SEPARATORS if s in line), ",")
        names = [name.strip().lower() for name in line.split(sep)]
        if "starttime" not in names:
            self._names = None
            raise ParseError("bad_header", "the header has no StartTime column")
        self._sep = sep
        self._names = names
        self._index = {name: i for i, name in enumerate(names)}

    def _timestamp(self, text: str) -> datetime | None:
        m = _TIME.fullmatch(text)
        if m is None:
            if _EPOCH.fullmatch(text):
                return fields.epoch(text)
            if text in fields.MISSING:
                return None
            raise ParseError("bad_timestamp", f"invalid StartTime {text[:64]!r}")
        year, month, day, hh, mm, ss, frac = m.groups()
        try:
            value = datetime(int(year), int(month), int(day), int(hh), int(mm), int(ss),
                             int(frac[:6].ljust(6, "0")) if frac else 0)
        except ValueError:
            raise ParseError("bad_timestamp", f"impossible StartTime {text!r}") from None
        return fields.aware(value, self.context.local_tz)

    def _event(self, values: list[str]) -> Event | None:
        idx = self._index

        def get(name: str) -> str | None:
            i = idx.get(name)
            return values[i].strip() if i is not None else None

        proto = (get("proto") or "").lower()
        if proto == "man":
            self._timestamp(get("starttime") or "")  # still a well-formed row, or quarantined
            return None  # Argus management record: see the module docstring
        extra: dict[str, Any] = {}
        src_ip, src_mac = self._address(get("srcaddr"), "SrcAddr")
        dst_ip, dst_mac = self._address(get("dstaddr"), "DstAddr")
        # MACs from the address columns (ARP, LLC) or from SrcMac/DstMac columns (ra -s +smac +dmac)
        for key, mac in (("src_mac", src_mac or get("srcmac")), ("dst_mac", dst_mac or get("dstmac"))):
            if mac and _MAC.fullmatch(mac):
                extra[key] = mac.lower()
        direction = get("dir")
        if direction:
            words = direction.split()
            extra["dir"] = words[-1][:16]
            if len(words) > 1:  # test3 of the Slips data has " get_message  ->"
                extra["dir_raw"] = direction[:64]
        state = get("state")
        if state:
            extra["state"] = state[:64]
        for name in ("stos", "dtos"):
            value = fields.counter(get(name), name)
            if value is not None:
                extra[name] = value
        tot_pkts = fields.counter(get("totpkts"), "TotPkts")
        tot_bytes = fields.counter(get("totbytes"), "TotBytes")
        src_pkts = fields.counter(get("srcpkts"), "SrcPkts")
        src_bytes = fields.counter(get("srcbytes"), "SrcBytes")
        dst_pkts = fields.counter(get("dstpkts"), "DstPkts")  # only some ra -s field lists have these
        dst_bytes = fields.counter(get("dstbytes"), "DstBytes")
        if tot_pkts is not None:
            extra["tot_pkts"] = tot_pkts
        if tot_bytes is not None:
            extra["tot_bytes"] = tot_bytes
        unknown = 0
        for name, value in zip(self._names or (), values):
            if name in _MAPPED or unknown >= _MAX_UNKNOWN:
                continue
            text = fields.text(value.strip(), 1024)
            if text is not None and name:
                extra[name[:64]] = text
                unknown += 1
        label = get("label")
        return Event(
            timestamp=self._timestamp(get("starttime") or ""),
            source_kind=SourceKind.ARGUS,
            observer=self.context.observer,
            src_ip=src_ip,
            src_port=fields.port(get("sport"), "Sport"),
            dst_ip=dst_ip,
            dst_port=fields.port(get("dport"), "Dport"),
            transport=proto[:16] or None,
            bytes_out=src_bytes,
            bytes_in=_split_counts(tot_bytes, src_bytes, dst_bytes, "Bytes"),
            packets_out=src_pkts,
            packets_in=_split_counts(tot_pkts, src_pkts, dst_pkts, "Pkts"),
            duration=fields.seconds(get("dur")),
            tcp_flags=state[:64] if state and proto == "tcp" else None,
            label=label[:256] if label else None,
            extra=extra,
        )

    @staticmethod
    def _address(text: str | None, what: str) -> tuple[str | None, str | None]:
        """(IP address, MAC address): an Argus address column holds one or the other."""
        if text and _MAC.fullmatch(text):
            return None, text.lower()
        return fields.ip(text, what), None
