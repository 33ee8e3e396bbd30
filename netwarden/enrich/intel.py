"""Threat intelligence: IP reputation feeds as files, and fast lookups of an address in all of them.

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

The index is a sorted table of disjoint integer intervals per IP version: the feeds' networks are cut at
every boundary and each piece remembers every listing that covers it (which feed, which network, what
score), so one ``bisect`` answers "who lists this address" in O(log n), and an LRU cache in front makes
repeated addresses (the common case in traffic) cost a dictionary lookup.

**Bogons.** FireHOL level1 includes the full bogons, i.e. 10/8, 172.16/12, 192.168/16, 127/8, 224/3 ...
Matching those would flag every LAN address, so private, loopback, link-local, CGNAT, multicast, reserved
and unspecified addresses are never reported as listed unless ``flag_private`` is set. The documentation
ranges (192.0.2/24, 198.51.100/24, 203.0.113/24) are *not* excluded: they stand for public addresses in
examples and tests.
"""

from __future__ import annotations

import csv
import gzip
import ipaddress
import os
import socket
import threading
import time
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

EXAMPLE_FEED = str(Path(__file__).with_name("example_feed.netset"))
MAX_ERRORS_KEPT = 20  # examples of bad lines kept per feed (all are counted)
_V4_MAX = (1 << 32) - 1
_V6_MAX = (1 << 128) - 1

# Never malicious by default: our own kinds of addresses, which bogon lists include (see module doc)
_NOT_FLAGGED = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",  # 240/4 reserved, includes 255.255.255.255
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8"))

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


@dataclass(frozen=True, slots=True)
class Match:
    """Who lists an address: every listing covering it, strongest first."""

    address: str
    listings: tuple[Listing, ...]

    @property
    def feeds(self) -> list[str]:
        return sorted({entry.feed for entry in self.listings})

    @property
    def score(self) -> float | None:
        scores = [entry.score for entry in self.listings if entry.score is not None]
        return max(scores) if scores else None

    @property
    def network(self) -> str:
        """The most specific listed network (an exact address before a /8)."""
        return min(self.listings, key=_width).network

    def describe(self) -> str:
        """e.g. "on firehol_level1 and dshield (45.205.1.0/24); IPsum: on 7 blocklists"."""
        names = self.feeds
        text = "on " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])
        text += f" ({self.network})"
        for entry in self.listings:
            if entry.score is not None and "ipsum" in entry.feed.lower():
                text += f"; IPsum: on {entry.score:g} blocklist{'s' if entry.score != 1 else ''}"
                break
        else:
            score = self.score
            if score is not None:
                text += f"; score {score:g}"
        categories = sorted({e.category for e in self.listings if e.category})
        if categories:
            text += f"; {', '.join(categories[:3])}"
        return text


def _width(entry: Listing) -> int:
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
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as text:  # type: ignore[operator]
            entries = parser.parse(text)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        status.problem = f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
        entries = []
    status.entries = len(entries)
    status.networks = sum(1 for _, a, b, _ in entries if b > a)
    status.addresses = sum(b - a + 1 for v, a, b, _ in entries if v == 4)
    status.loaded_at = datetime.now(timezone.utc)
    return status, entries


class IntervalTable:
    """Disjoint sorted intervals, each with the listings covering it; one table per IP version."""

    __slots__ = ("starts", "ends", "labels")

    def __init__(self, entries: Sequence[tuple[int, int, Listing]]) -> None:
        # sweep over the boundaries: at each one, the set of listings active from there on
        bounds: dict[int, list[tuple[int, int]]] = {}
        for i, (first, last, _) in enumerate(entries):
            bounds.setdefault(first, []).append((1, i))
            bounds.setdefault(last + 1, []).append((-1, i))
        active: dict[int, None] = {}
        listing = [entry[2] for entry in entries]
        starts: list[int] = []
        ends: list[int] = []
        labels: list[tuple[Listing, ...]] = []
        points = sorted(bounds)
        for k, point in enumerate(points):
            for op, i in bounds[point]:
                if op > 0:
                    active[i] = None
                else:
                    active.pop(i, None)
            if active and k + 1 < len(points):
                label = tuple(map(listing.__getitem__, active))
                if starts and ends[-1] == point - 1 and labels[-1] == label:
                    ends[-1] = points[k + 1] - 1  # same listings continue: merge
                else:
                    starts.append(point)
                    ends.append(points[k + 1] - 1)
                    labels.append(label)
        self.starts, self.ends, self.labels = starts, ends, labels

    def find(self, value: int) -> tuple[Listing, ...] | None:
        i = bisect_right(self.starts, value) - 1
        if i >= 0 and value <= self.ends[i]:
            return self.labels[i]
        return None

    def __len__(self) -> int:
        return len(self.starts)


class IntelIndex:
    """Loaded feeds and their interval tables; reloads a feed when its file changes."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]] = (EXAMPLE_FEED,), *, min_score: float = 1,
                 flag_private: bool = False, reload_every: float = 5.0) -> None:
        self.paths = [str(p) for p in paths]
        self.min_score = min_score
        self.flag_private = flag_private
        self.reload_every = reload_every
        self.status: dict[str, FeedStatus] = {}
        self._entries: dict[str, list[tuple[int, int, int, Listing]]] = {}
        self._v4 = IntervalTable([])
        self._v6 = IntervalTable([])
        self._checked = 0.0
        self._lock = threading.Lock()
        self.generation = 0  # bumped on every rebuild (lets callers drop their own caches)
        self.lookup = lru_cache(maxsize=262_144)(self._lookup)
        self.reload(force=True)

    @classmethod
    def from_settings(cls, settings: Any) -> IntelIndex:
        """From the ``[intel]`` settings (netwarden.config.IntelSettings)."""
        return cls(settings.feeds, min_score=settings.min_score, flag_private=settings.flag_private,
                   reload_every=settings.reload_every)

    # -- loading ------------------------------------------------------------------------------------

    def reload(self, force: bool = False) -> list[str]:
        """Re-read the feeds whose file changed (size or mtime), or all with ``force``; the names reloaded."""
        with self._lock:
            self._checked = time.monotonic()
            changed = []
            for path in self.paths:
                old = self.status.get(path)
                if not force and old is not None:
                    try:
                        st = os.stat(path)
                        same = (st.st_mtime, st.st_size) == (old.mtime, old.size)
                    except OSError:
                        same = old.problem is not None
                    if same:
                        continue
                status, entries = load_feed(path, min_score=self.min_score)
                self.status[path] = status
                self._entries[path] = entries
                changed.append(status.name)
            if changed or force:
                self._rebuild()
            return changed

    def maybe_reload(self) -> list[str]:
        """Cheap: looks at the files at most every ``reload_every`` seconds."""
        if time.monotonic() - self._checked < self.reload_every:
            return []
        return self.reload()

    def _rebuild(self) -> None:
        v4: list[tuple[int, int, Listing]] = []
        v6: list[tuple[int, int, Listing]] = []
        for entries in self._entries.values():
            for version, first, last, listing in entries:
                (v4 if version == 4 else v6).append((first, last, listing))
        self._v4, self._v6 = IntervalTable(v4), IntervalTable(v6)
        self.lookup.cache_clear()
        self.generation += 1

    # -- lookups ------------------------------------------------------------------------------------

    def _lookup(self, address: str | None) -> Match | None:
        if not address:
            return None
        value = to_int(address)
        if value is None:
            return None
        version, number = value
        labels = (self._v4 if version == 4 else self._v6).find(number)
        if labels is None:
            return None
        if not self.flag_private and not_flagged(address):
            return None
        ordered = tuple(sorted(labels, key=lambda e: (-(e.score or 0), _width(e), e.feed)))
        return Match(address, ordered)

    def check(self, address: str, *, include_private: bool = True) -> Match | None:
        """Who lists this address, bogon rule ignored (for the `netwarden intel check` command)."""
        value = to_int(address)
        if value is None:
            raise ValueError(f"{address!r} is not an IP address")
        labels = (self._v4 if value[0] == 4 else self._v6).find(value[1])
        if labels is None or (not include_private and not_flagged(address)):
            return None
        return Match(address, tuple(sorted(labels, key=lambda e: (-(e.score or 0), _width(e), e.feed))))

    @property
    def intervals(self) -> int:
        return len(self._v4) + len(self._v6)

    @property
    def entries(self) -> int:
        return sum(s.entries for s in self.status.values())

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.status.values())


@lru_cache(maxsize=65_536)
def not_flagged(address: str) -> bool:
    """Private, loopback, link-local, CGNAT, multicast, reserved or unspecified (see the module doc)."""
    try:
        addr = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in _NOT_FLAGGED if net.version == addr.version)


_SHARED: dict[tuple, IntelIndex] = {}
_SHARED_LOCK = threading.Lock()


def shared_index(paths: Sequence[str], *, min_score: float = 1, flag_private: bool = False,
                 reload_every: float = 5.0) -> IntelIndex:
    """One loaded index per configuration, shared by every detector instance and engine in the process."""
    key = (tuple(str(p) for p in paths), min_score, flag_private, reload_every)
    with _SHARED_LOCK:
        index = _SHARED.get(key)
        if index is None:
            if len(_SHARED) >= 16:
                _SHARED.pop(next(iter(_SHARED)))
            index = _SHARED[key] = IntelIndex(paths, min_score=min_score, flag_private=flag_private,
                                              reload_every=reload_every)
        return index
