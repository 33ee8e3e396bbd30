"""UNSW-NB15 flow records, in both published layouts.

* The train/test partition CSVs (``UNSW_NB15_training-set.csv``, ``..._testing-set.csv``): 45 columns
  with a header row (``id,dur,proto,service,state,...,attack_cat,label``). The official files carry a
  UTF-8 BOM and CRLF line endings. No addresses, no times.
* The raw record files (``UNSW-NB15_1.csv`` ... ``_4.csv``): 49 columns, no header, starting
  ``srcip,sport,dstip,dsport,proto,state,dur,...`` (names from ``NUSW-NB15_features.csv``), with
  addresses, ports (sometimes hexadecimal, ``0x000b``) and ``Stime``/``Ltime`` epoch seconds.

Columns are mapped by header name; a file without a header (a split-off chunk) gets the official layout
that matches its field count. Every column goes into ``Event.extra`` under its own name (numbers as
int/float, empty cells as ``None``) so the ML stage can rebuild the feature vector exactly.
``Event.label`` is ``"normal"`` for ``label`` 0, otherwise the attack category (``Generic``,
``Exploits`` ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from netwarden.parse import fields
from netwarden.parse._flowcsv import clean_line, nonneg_float, nonneg_int, split_row
from netwarden.parse.base import ParseContext, ParseError, Parser, register
from netwarden.records import Event, SourceKind

PARTITION_COLUMNS: tuple[str, ...] = (
    "id", "dur", "proto", "service", "state", "spkts", "dpkts", "sbytes", "dbytes", "rate", "sttl", "dttl",
    "sload", "dload", "sloss", "dloss", "sinpkt", "dinpkt", "sjit", "djit", "swin", "stcpb", "dtcpb", "dwin",
    "tcprtt", "synack", "ackdat", "smean", "dmean", "trans_depth", "response_body_len", "ct_srv_src",
    "ct_state_ttl", "ct_dst_ltm", "ct_src_dport_ltm", "ct_dst_sport_ltm", "ct_dst_src_ltm", "is_ftp_login",
    "ct_ftp_cmd", "ct_flw_http_mthd", "ct_src_ltm", "ct_srv_dst", "is_sm_ips_ports", "attack_cat", "label",
)
#: NUSW-NB15_features.csv spells no. 44 "ct_src_ ltm" (a stray space); we use the evident "ct_src_ltm"
RAW_COLUMNS: tuple[str, ...] = (
    "srcip", "sport", "dstip", "dsport", "proto", "state", "dur", "sbytes", "dbytes", "sttl", "dttl", "sloss",
    "dloss", "service", "Sload", "Dload", "Spkts", "Dpkts", "swin", "dwin", "stcpb", "dtcpb", "smeansz",
    "dmeansz", "trans_depth", "res_bdy_len", "Sjit", "Djit", "Stime", "Ltime", "Sintpkt", "Dintpkt", "tcprtt",
    "synack", "ackdat", "is_sm_ips_ports", "ct_state_ttl", "ct_flw_http_mthd", "is_ftp_login", "ct_ftp_cmd",
    "ct_srv_src", "ct_srv_dst", "ct_dst_ltm", "ct_src_ltm", "ct_src_dport_ltm", "ct_dst_sport_ltm",
    "ct_dst_src_ltm", "attack_cat", "Label",
)
_LAYOUTS = {len(PARTITION_COLUMNS): PARTITION_COLUMNS, len(RAW_COLUMNS): RAW_COLUMNS}

# column kinds, by lower-case name; every other column is a non-negative integer count
_FLOATS = frozenset({"dur", "rate", "sload", "dload", "sinpkt", "dinpkt", "sintpkt", "dintpkt", "sjit",
                     "djit", "tcprtt", "synack", "ackdat"})
_TEXT = frozenset({"proto", "service", "state", "attack_cat", "srcip", "dstip"})
_PORTS = frozenset({"sport", "dsport"})

#: the raw files and the partitions spell one category differently; labels use the partitions' spelling
_CATEGORY_SPELLING = {"backdoors": "Backdoor"}


def _count(text: str, what: str) -> int | None:
    if text.isdigit() and text.isascii() and len(text) < 19:
        return int(text)
    text = text.strip()
    return nonneg_int(text, what) if text else None  # the raw files leave some counts blank


def _float(text: str, what: str) -> float | None:
    return nonneg_float(text, what) if text and not text.isspace() else None


def _text(text: str, what: str) -> str | None:
    text = text.strip()  # the raw files pad some categories: " Fuzzers "
    if len(text) > 256:
        raise ParseError("bad_value", f"{what} too long")
    return text or None


def _port(text: str, what: str) -> int | None:
    return fields.port(text.strip(), what)


_CONVERTERS: dict[str, Callable[[str, str], Any]] = {
    "float": _float, "text": _text, "port": _port, "int": _count}


def _kind(name: str) -> str:
    key = name.lower()
    if key in _FLOATS:
        return "float"
    if key in _TEXT:
        return "text"
    if key in _PORTS:
        return "port"
    return "int"


class _Layout:
    """What a header (or the official layout) tells: how to convert each column, where the mapped ones are."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.width = len(names)
        self.plan = [(i, name, _CONVERTERS[_kind(name)]) for i, name in enumerate(names) if name]
        index = {name.lower(): name for name in names if name}
        # Event field -> the column name it comes from (None when this layout lacks it)
        self.src_ip, self.dst_ip = index.get("srcip"), index.get("dstip")
        self.src_port, self.dst_port = index.get("sport"), index.get("dsport")
        self.proto, self.service, self.state = index.get("proto"), index.get("service"), index.get("state")
        self.sbytes, self.dbytes = index.get("sbytes"), index.get("dbytes")
        self.spkts, self.dpkts = index.get("spkts"), index.get("dpkts")
        self.dur, self.stime = index.get("dur"), index.get("stime")
        self.label, self.attack_cat = index.get("label"), index.get("attack_cat")


_DEFAULT_LAYOUTS = {width: _Layout(names) for width, names in _LAYOUTS.items()}


def _is_header(first_cell: str) -> bool:
    return first_cell.strip().lower() in ("id", "srcip")


@register
class UnswNb15(Parser):
    """UNSW-NB15 labelled flows: the 45-column partition CSVs and the 49-column raw record files."""

    name = "unsw_nb15"
    description = "UNSW-NB15 flow records (45-column train/test partitions, 49-column raw UNSW-NB15_*.csv)"
    example = ("id,dur,proto,service,state,spkts,dpkts,sbytes,dbytes,rate,...,attack_cat,label\n"
               "1,0.000011,udp,-,INT,2,0,496,0,90909.0902,254,0,180363632,0,0,0,0.011,0,0,0,0,0,0,0,0,0,0,"
               "248,0,0,0,2,2,1,1,1,2,0,0,0,1,2,0,Normal,0")
    source_kind = SourceKind.FLOW_CSV
    keep_raw = False

    def __init__(self, context: ParseContext | None = None) -> None:
        super().__init__(context)
        self._layout: _Layout | None = None

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        if not lines:
            return 0.0
        first = clean_line(lines[0]).lower().replace(" ", "")
        if first.startswith("id,dur,proto,service,state,") and "attack_cat" in first:
            return 0.98
        hits = 0
        for line in lines:
            cells = clean_line(line).split(",")
            if len(cells) == len(RAW_COLUMNS):
                # srcip, ..., proto, ..., Label 0/1
                if cells[0].count(".") == 3 and cells[4].isalpha() and cells[-1].strip() in ("0", "1"):
                    hits += 1
            elif len(cells) == len(PARTITION_COLUMNS):
                # a headerless chunk of a partition: id, dur, proto, ..., label 0/1
                if cells[0].isdigit() and cells[2].isalpha() and cells[-1].strip() in ("0", "1"):
                    hits += 0.75
        return 0.9 * hits / len(lines)

    def parse_line(self, line: str) -> Event | None:
        line = clean_line(line)
        if not line.strip():
            return None
        cells = split_row(line)
        if _is_header(cells[0]):
            names = [c.strip() for c in cells]
            names = ["ct_src_ltm" if n == "ct_src_ ltm" else n for n in names]
            if len(set(names)) != len(names):
                raise ParseError("bad_header", "a column name appears twice")
            self._layout = _Layout(names)
            return None
        layout = self._layout or _DEFAULT_LAYOUTS.get(len(cells))
        if layout is None:
            raise ParseError("wrong_field_count",
                             f"{len(cells)} fields and no header; expected 45 (partition) or 49 (raw)")
        if len(cells) != layout.width:
            raise ParseError("wrong_field_count", f"{len(cells)} fields, the header has {layout.width}")
        extra = {name: convert(cells[i], name) for i, name, convert in layout.plan}
        return self._event(layout, extra)

    def _event(self, layout: _Layout, extra: dict[str, Any]) -> Event:
        get = extra.get
        service = get(layout.service) if layout.service else None
        state = get(layout.state) if layout.state else None
        proto = get(layout.proto) if layout.proto else None
        dur = get(layout.dur) if layout.dur else None
        stime = get(layout.stime) if layout.stime else None
        return Event(
            timestamp=fields.epoch(stime, "Stime") if stime is not None else None,
            source_kind=SourceKind.FLOW_CSV,
            observer=self.context.observer,
            src_ip=fields.ip(get(layout.src_ip), "srcip") if layout.src_ip else None,
            src_port=get(layout.src_port) if layout.src_port else None,
            dst_ip=fields.ip(get(layout.dst_ip), "dstip") if layout.dst_ip else None,
            dst_port=get(layout.dst_port) if layout.dst_port else None,
            transport=proto.lower() if proto else None,
            app_protocol=None if service in (None, "-") else service,
            bytes_out=get(layout.sbytes) if layout.sbytes else None,
            bytes_in=get(layout.dbytes) if layout.dbytes else None,
            packets_out=get(layout.spkts) if layout.spkts else None,
            packets_in=get(layout.dpkts) if layout.dpkts else None,
            duration=dur,
            tcp_flags=None if state in (None, "-") else state,  # Argus state (FIN, CON, INT ...), verbatim
            label=self._label(layout, extra),
            extra=extra,
        )

    @staticmethod
    def _label(layout: _Layout, extra: dict[str, Any]) -> str | None:
        binary = extra.get(layout.label) if layout.label else None
        if binary not in (None, 0, 1):
            raise ParseError("bad_label", f"label {binary!r} is not 0 or 1")
        category = extra.get(layout.attack_cat) if layout.attack_cat else None
        if binary == 0 or (binary is None and category is not None and category.lower() == "normal"):
            return "normal"
        if category is None or category.lower() == "normal":
            return None if binary is None else "attack"  # label 1 without a category
        return _CATEGORY_SPELLING.get(category.lower(), category)
