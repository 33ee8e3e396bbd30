"""NSL-KDD and KDD Cup '99 connection records: 41 features and a label, comma-separated, no header.

``KDDTrain+.txt``/``KDDTest+.txt`` (NSL-KDD) add a 43rd field, the difficulty level (0-21); the KDD'99
files (``kddcup.data``, ``corrected``) have 42 fields and labels ending in a dot (``normal.``).

Every one of the 41 features goes into ``Event.extra`` under its official ARFF name, converted to int
or float, so the ML stage can rebuild the feature vector exactly; ``extra["label"]`` and
``Event.label`` carry the attack name and ``extra["attack_category"]`` its 4-class group.
The records have no addresses and no times: ``timestamp`` stays ``None`` (ingest stamps the import time).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from netwarden.parse._flowcsv import clean_line, nonneg_float, nonneg_int
from netwarden.parse.base import ParseError, Parser, register
from netwarden.parse.fields import MAX_COUNTER
from netwarden.records import Event, SourceKind

COLUMNS: tuple[str, ...] = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land", "wrong_fragment",
    "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted",
    "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
    "is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate",
    "rerror_rate", "srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate",
    "dst_host_count", "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
)
_SYMBOLIC = (1, 2, 3)  # protocol_type, service, flag
_RATES = tuple(i for i, name in enumerate(COLUMNS) if name.endswith("_rate"))
_COUNTS = tuple(i for i in range(len(COLUMNS)) if i not in _SYMBOLIC and i not in _RATES)
# the dict is built in one zip(), so the values are laid out in this order: counts, then rates
_NUMERIC_NAMES = tuple(COLUMNS[i] for i in _COUNTS + _RATES)

#: The usual 4-class grouping (Lincoln Lab's DARPA 1998/99 taxonomy), with the attacks that appear only in
#: the test sets (KDDTest+, KDD'99 ``corrected``). Sources disagree on two of them; we follow Lincoln Lab
#: and put ``httptunnel`` and ``worm`` in R2L (some tables say U2R and DoS).
ATTACK_CATEGORIES: dict[str, str] = {
    "normal": "normal",
    **dict.fromkeys(("back", "land", "neptune", "pod", "smurf", "teardrop",
                     "apache2", "mailbomb", "processtable", "udpstorm"), "DoS"),
    **dict.fromkeys(("ipsweep", "nmap", "portsweep", "satan", "mscan", "saint"), "Probe"),
    **dict.fromkeys(("ftp_write", "guess_passwd", "imap", "multihop", "phf", "spy", "warezclient",
                     "warezmaster", "httptunnel", "named", "sendmail", "snmpgetattack", "snmpguess",
                     "worm", "xlock", "xsnoop"), "R2L"),
    **dict.fromkeys(("buffer_overflow", "loadmodule", "perl", "rootkit", "ps", "sqlattack", "xterm"), "U2R"),
}
UNKNOWN_CATEGORY = "unknown"

_PROTOCOLS = frozenset({"tcp", "udp", "icmp"})


@register
class NslKdd(Parser):
    """NSL-KDD / KDD Cup '99 connection records (labelled training/test data)."""

    name = "nsl_kdd"
    description = "NSL-KDD / KDD Cup '99 connection records (41 features + label [+ difficulty])"
    example = ("0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,"
               "0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20")
    source_kind = SourceKind.FLOW_CSV
    keep_raw = False

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        hits = 0
        for line in lines:
            cells = clean_line(line).split(",")
            if (len(cells) in (42, 43) and cells[1] in _PROTOCOLS and cells[0].isdigit()
                    and cells[4].isdigit() and cells[5].isdigit() and cells[41]):
                hits += 1
        return 0.95 * hits / len(lines) if lines else 0.0

    def parse_line(self, line: str) -> Event | None:
        line = clean_line(line)
        if not line.strip():
            return None
        cells = line.split(",")  # the files never quote: a quote would make the row wrong anyway
        n = len(cells)
        if cells[0] == "duration" and n > 1 and cells[1] == "protocol_type":
            return None  # a header row that CSV re-exports of the data set (pandas, Kaggle) add
        if n not in (42, 43):
            raise ParseError("wrong_field_count",
                             f"{n} fields, expected 42 or 43 (41 features, label [, difficulty])")
        counts, rates = self._numbers(cells, line.isascii())
        extra = dict(zip(_NUMERIC_NAMES, counts + rates))
        protocol, service, flag = (cells[1].strip(), cells[2].strip(), cells[3].strip())
        if not (protocol and service and flag) or len(service) > 64 or len(flag) > 16 or len(protocol) > 16:
            raise ParseError("bad_value", "empty or over-long protocol_type, service or flag")
        extra["protocol_type"] = protocol
        extra["service"] = service
        extra["flag"] = flag
        label = cells[41].strip()
        if label.endswith("."):  # KDD'99 writes "normal.", NSL-KDD "normal"
            label = label[:-1]
        if not label or len(label) > 64:
            raise ParseError("bad_label", "empty or over-long label")
        extra["label"] = label
        extra["attack_category"] = ATTACK_CATEGORIES.get(label.lower(), UNKNOWN_CATEGORY)
        if n == 43:
            extra["difficulty"] = nonneg_int(cells[42].strip(), "difficulty")
        return Event(
            timestamp=None,
            source_kind=SourceKind.FLOW_CSV,
            observer=self.context.observer,
            transport=protocol.lower(),
            app_protocol=service,
            tcp_flags=flag,
            bytes_out=extra["src_bytes"],
            bytes_in=extra["dst_bytes"],
            duration=float(extra["duration"]),
            label=label,
            extra=extra,
        )

    @staticmethod
    def _numbers(cells: list[str], ascii_line: bool = False) -> tuple[list[int], list[float]]:
        """The 38 numeric features: counts as int, rates as float; all must be non-negative."""
        counts: list[int] | None = None
        rates: list[float] | None = None
        if ascii_line:  # int()/float() read "٠" as 0: lines with any non-ASCII text take the careful path
            try:
                # fast path: one C-level map per kind; errors and edge cases go the slow way below
                counts = [int(cells[i]) for i in _COUNTS]
                rates = [float(cells[i]) for i in _RATES]
            except ValueError:
                counts = rates = None
        if counts is not None and rates is not None:
            total = sum(rates)  # NaN or inf anywhere makes the sum non-finite
            if min(counts) >= 0 and max(counts) <= MAX_COUNTER and min(rates) >= 0 and math.isfinite(total):
                return counts, rates
        counts = [nonneg_int(cells[i].strip(), COLUMNS[i]) for i in _COUNTS]
        rates = [nonneg_float(cells[i], COLUMNS[i]) for i in _RATES]
        return counts, rates
