"""Threat intelligence: fast lookups of an address in every IP reputation feed (the feeds themselves are read
by :mod:`netwarden.enrich.intel_feeds`).

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

import ipaddress
import os
import threading
import time
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from netwarden.enrich.intel_feeds import FeedStatus, Listing, listing_width, load_feed, to_int
from netwarden.networks import host_address

EXAMPLE_FEED = str(Path(__file__).with_name("example_feed.netset"))

# Never malicious by default: our own kinds of addresses, which bogon lists include (see module doc)
_NOT_FLAGGED = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",  # 240/4 reserved, includes 255.255.255.255
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8"))


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
        return min(self.listings, key=listing_width).network

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
        ordered = tuple(sorted(labels, key=lambda e: (-(e.score or 0), listing_width(e), e.feed)))
        return Match(address, ordered)

    def check(self, address: str, *, include_private: bool = True) -> Match | None:
        """Who lists this address, bogon rule ignored (for the `netwarden intel check` command)."""
        value = to_int(address)
        if value is None:
            raise ValueError(f"{address!r} is not an IP address")
        labels = (self._v4 if value[0] == 4 else self._v6).find(value[1])
        if labels is None or (not include_private and not_flagged(address)):
            return None
        return Match(address, tuple(sorted(labels, key=lambda e: (-(e.score or 0), listing_width(e), e.feed))))

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
    addr = host_address(address)
    if addr is None:
        return True
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
