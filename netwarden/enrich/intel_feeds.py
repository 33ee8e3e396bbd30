"""Threat-intelligence feeds as files: reading one into listings (address intervals with their feed, network,
score and category) and counting what could not be read.

A *feed* is a file (plain or ``.gz``) of addresses and networks; the formats of the common public lists
are recognised line by line, so one loader reads them all:

* plain lists, one IPv4/IPv6 address, CIDR or ``a.b.c.d-e.f.g.h`` range per line, ``#`` comments
  (FireHOL ``.netset``/``.ipset``, Emerging Threats ``compromised-ips.txt``, CINS ``ci-badguys.txt``,
  abuse.ch Feodo ``ipblocklist.txt``, blocklist.de ...);
* IPsum: ``IP<TAB>count`` — the count (how many blocklists list the address) becomes the entry's score;
* Spamhaus DROP/EDROP: ``CIDR ; SBL123456`` — the SBL id becomes the entry's category;
* CSV with a header naming the address column (``ip``, ``ip_address``, ``ipAddress``, ``dst_ip`` ...), with
  optional score (``score``, ``abuseConfidenceScore``, ``count``, ``reports``) and category (``malware``,
  ``category``, ``threat``) columns: AbuseIPDB exports, abuse.ch Feodo ``ipblocklist.csv`` (whose header
  sits in a ``#`` comment) and home-grown lists.

A line that is none of these is counted with its reason and reported (``errors``), never fatal.
"""

from __future__ import annotations

import csv
import gzip
import ipaddress
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

MAX_ERRORS_KEPT = 20  # examples of bad lines kept per feed (all are counted)
_V4_MAX = (1 << 32) - 1
_V6_MAX = (1 << 128) - 1

_IP_COLUMNS = ("ip", "ip_address", "ipaddress", "ipaddr", "address", "addr", "dst_ip", "dest_ip", "src_ip",
               "indicator", "ioc", "network", "cidr", "host", "ip address")
_SCORE_COLUMNS = ("score", "abuseconfidencescore", "confidence", "count", "reports", "numreports",
                  "totalreports", "risk", "severity")
_CATEGORY_COLUMNS = ("category", "categories", "malware", "threat", "threat_type", "type", "tags", "usagetype")


@dataclass(frozen=True, slots=True)
class Listing:
    """One feed's entry: the network as written, and its score/category when the feed gives them."""

    feed: str
    network: str
    score: float | None = None
    category: str | None = None


@dataclass(slots=True)
class FeedStatus:
    path: str
    name: str
    entries: int = 0  # addresses and networks loaded
    networks: int = 0  # of which wider than one address
    addresses: int = 0  # how many IPv4 addresses they cover (overlapping entries counted each)
    lines: int = 0
    skipped: int = 0  # entries under min_score
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    loaded_at: datetime | None = None
    mtime: float | None = None
    size: int | None = None
    problem: str | None = None  # the whole file could not be read

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "name": self.name, "entries": self.entries, "networks": self.networks,
                "addresses": self.addresses, "lines": self.lines, "skipped": self.skipped, "errors": self.errors,
                "error_examples": list(self.error_examples),
                "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None, "problem": self.problem}




def listing_width(entry: Listing) -> int:
    """How many addresses a listing covers (a range a-b counts as very wide: it sorts last)."""
    try:
        net = ipaddress.ip_network(entry.network, strict=False)
        return net.num_addresses
    except ValueError:  # a range a-b
        return 1 << 64


def feed_name(path: str | os.PathLike[str]) -> str:
    """``/var/lib/feeds/ipsum.txt.gz`` → ``ipsum``; ``firehol_level1.netset`` → ``firehol_level1``."""
    name = Path(path).name
    for suffix in (".gz", ".txt", ".netset", ".ipset", ".csv", ".list", ".lst"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name or str(path)


def to_int(address: str) -> tuple[int, int] | None:
    """(version, integer) of an address, or None; IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4."""
    try:
        if ":" in address:
            value = int.from_bytes(socket.inet_pton(socket.AF_INET6, address.split("%", 1)[0]), "big")
            if value >> 32 == 0xFFFF:
                return 4, value & _V4_MAX
            return 6, value
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, address), "big")
    except (OSError, ValueError, TypeError):
        return None


def _parse_network(text: str) -> tuple[int, int, int, str] | None:
    """(version, first, last, canonical text) of an address, CIDR or range; None if it is none of them."""
    if "-" in text and "/" not in text:
        a, _, b = text.partition("-")
        first, last = to_int(a.strip()), to_int(b.strip())
        if first is None or last is None or first[0] != last[0] or first[1] > last[1]:
            return None
        return first[0], first[1], last[1], f"{a.strip()}-{b.strip()}"
    if "/" not in text:
        value = to_int(text)
        if value is None:
            return None
        return value[0], value[1], value[1], text
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    first = int(net.network_address)
    if net.version == 6 and first >> 32 == 0xFFFF and net.prefixlen >= 96:
        return 4, first & _V4_MAX, int(net.broadcast_address) & _V4_MAX, str(net)
    return net.version, first, int(net.broadcast_address), str(net)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


class FeedParser:
    """Reads one feed file line by line, format recognised per line (see the module doc)."""

    def __init__(self, name: str, min_score: float = 1) -> None:
        self.name = name
        self.min_score = min_score
        self.columns: tuple[int, int | None, int | None] | None = None  # ip, score, category (CSV)
        self.status = FeedStatus(path="", name=name)
        self.data_lines = 0  # lines that are not comments; only the first may be a CSV header

    def error(self, lineno: int, reason: str, line: str) -> None:
        self.status.errors += 1
        if len(self.status.error_examples) < MAX_ERRORS_KEPT:
            self.status.error_examples.append(f"line {lineno}: {reason}: {line[:120]!r}")

    def header(self, cells: Sequence[str]) -> bool:
        names = [c.strip().strip('"').strip().lower() for c in cells]
        ip_col = next((names.index(n) for n in _IP_COLUMNS if n in names), None)
        if ip_col is None:
            return False
        score = next((names.index(n) for n in _SCORE_COLUMNS if n in names), None)
        category = next((names.index(n) for n in _CATEGORY_COLUMNS if n in names), None)
        self.columns = (ip_col, score, category)
        return True

    def parse(self, lines: Iterable[str]) -> list[tuple[int, int, int, Listing]]:
        out: list[tuple[int, int, int, Listing]] = []
        for lineno, raw in enumerate(lines, 1):
            self.status.lines += 1
            line = raw.strip().lstrip("\ufeff")
            if not line:
                continue
            if line[0] in "#;" or line.startswith("//"):
                body = line.lstrip("#;/ ").strip()
                if "," in body and self.columns is None:
                    self.header(next(csv.reader([body]), []))  # Feodo CSV keeps its header in a comment
                continue
            self.data_lines += 1
            if len(line) > 4096 or "\x00" in line:
                self.error(lineno, "not an address line", line)
                continue
            try:
                item = self._line(line)
            except Exception:  # noqa: BLE001 - a hostile line must never stop the feed
                item = None, "unreadable"
            entry, problem = item
            if entry is None:
                if problem:
                    self.error(lineno, problem, line)
                continue
            out.append(entry)
        return out

    def _line(self, line: str) -> tuple[tuple[int, int, int, Listing] | None, str | None]:
        score: float | None = None
        category: str | None = None
        if self.columns is not None and ("," in line or '"' in line):
            cells = next(csv.reader([line]), [])
            ip_col, score_col, cat_col = self.columns
            if ip_col >= len(cells):
                return None, "no address column"
            text = cells[ip_col].strip()
            if score_col is not None and score_col < len(cells):
                score = _number(cells[score_col].strip())
            if cat_col is not None and cat_col < len(cells):
                category = cells[cat_col].strip()[:64] or None
        else:
            comment = ""
            for mark in (";", "#"):  # Spamhaus "CIDR ; SBL123", "1.2.3.4 # reason"
                if mark in line:
                    line, _, rest = line.partition(mark)
                    comment = comment or rest.strip()
            parts = line.replace(",", " ").split()
            if not parts:
                return None, "no address"
            text = parts[0]
            if len(parts) > 1:
                score = _number(parts[1])  # IPsum "IP<TAB>count"
                if score is None and len(parts) == 2 and "." not in parts[1] and ":" not in parts[1]:
                    category = parts[1][:64]
            if comment and category is None:
                category = comment.split()[0][:64]
        parsed = _parse_network(text)
        if parsed is None:
            if self.columns is None and self._maybe_header(text, line):
                return None, None
            return None, "not an address or network"
        if score is not None and score < self.min_score:
            self.status.skipped += 1
            return None, None
        version, first, last, canonical = parsed
        return (version, first, last, Listing(self.name, canonical, score, category)), None

    def _maybe_header(self, text: str, line: str) -> bool:
        if self.data_lines != 1 or not any(c.isalpha() for c in text):
            return False
        cells = next(csv.reader([line]), []) if "," in line else line.split()
        return self.header(cells)


def load_feed(path: str | os.PathLike[str], *, min_score: float = 1,
              name: str | None = None) -> tuple[FeedStatus, list[tuple[int, int, int, Listing]]]:
    """Read one feed file; problems are in the returned status, never raised."""
    path = str(path)
    parser = FeedParser(name or feed_name(path), min_score)
    status = parser.status
    status.path = path
    try:
        st = os.stat(path)
        status.mtime, status.size = st.st_mtime, st.st_size
        with open(path, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        opener = gzip.open if gz else open
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as text:
            entries = parser.parse(text)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        status.problem = f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
        entries = []
    status.entries = len(entries)
    status.networks = sum(1 for _, a, b, _ in entries if b > a)
    status.addresses = sum(b - a + 1 for v, a, b, _ in entries if v == 4)
    status.loaded_at = datetime.now(timezone.utc)
    return status, entries
