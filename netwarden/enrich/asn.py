"""Offline AS numbers: address → autonomous system (number and organisation), from RouteViews and DB-IP's
free "IP to ASN Lite" data (CC BY 4.0) in the npm package ``@ip-location-db/asn``, installed with the other
front-end packages by ``scripts/setup``. Nothing is downloaded at run time; without the package there is
simply no AS to show.

The package holds CSV ranges (``start,end,asn,organisation`` with numeric addresses: ~412k IPv4 and ~103k
IPv6 rows). They are read once, on the first lookup, into sorted arrays searched with ``bisect``.

>>> AsnDatabase.bundled().lookup("1.1.1.1")     # doctest: +SKIP
As(number=13335, organisation='Cloudflare, Inc.')
"""

from __future__ import annotations

import csv
import threading
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from netwarden.networks import host_address

PACKAGE = Path("@ip-location-db/asn")
FILES = {4: "asn-ipv4-num.csv", 6: "asn-ipv6-num.csv"}


@dataclass(frozen=True, slots=True)
class As:
    number: int
    organisation: str

    def label(self) -> str:
        return f"AS{self.number} {self.organisation}".strip()


class _Table:
    """One file's ranges: the numbers in arrays (numpy reads them in C: ~0.5 s for IPv4), the organisation
    read from the mapped file only for the rows asked about."""

    def __init__(self, path: Path, version: int) -> None:
        import mmap

        import numpy as np

        with open(path, "rb") as fh:
            self.text = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        ends = np.flatnonzero(np.frombuffer(self.text, dtype=np.uint8) == 10)
        self.line_starts = np.concatenate(([0], ends[:-1] + 1)) if len(ends) else np.zeros(0, dtype=np.int64)
        if version == 4:
            table = np.loadtxt(path, delimiter=",", usecols=(0, 1, 2), dtype=np.uint64, quotechar='"', ndmin=2)
            self.starts, self.ends, self.numbers = table[:, 0], table[:, 1], table[:, 2]
        else:  # 128-bit numbers: Python integers (read on the first IPv6 lookup only)
            starts, last, numbers = [], [], []
            for line in self.text[:].split(b"\n"):
                parts = line.split(b",", 3)
                if len(parts) == 4:
                    starts.append(int(parts[0]))
                    last.append(int(parts[1]))
                    numbers.append(int(parts[2]) if parts[2].isdigit() else 0)
            self.starts, self.ends, self.numbers = starts, last, numbers

    def find(self, value: int) -> As | None:
        if isinstance(self.starts, list):
            i = bisect_right(self.starts, value) - 1
        else:
            import numpy as np

            i = int(np.searchsorted(self.starts, np.uint64(value), side="right")) - 1
        if i < 0 or value > int(self.ends[i]) or not int(self.numbers[i]):
            return None
        start = int(self.line_starts[i])
        line = self.text[start:self.text.find(b"\n", start) if self.text.find(b"\n", start) >= 0 else None]
        row = next(csv.reader([line.decode("utf-8", "replace")]))
        return As(int(self.numbers[i]), row[3] if len(row) > 3 else "")


class AsnDatabase:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._tables: dict[int, _Table | None] = {}  # None: that version's file is not installed
        self._lock = threading.Lock()
        self.lookup = lru_cache(maxsize=65_536)(self._lookup)

    @classmethod
    def bundled(cls, vendor_dir: str | Path | None = None) -> AsnDatabase | None:
        """The npm package's data, or None when it is not installed."""
        from netwarden.enrich.geo import REPO

        folder = Path(vendor_dir or REPO / "node_modules") / PACKAGE
        return cls(folder) if (folder / FILES[4]).is_file() else None

    def _table(self, version: int) -> _Table | None:
        with self._lock:  # the first lookups of several requests load it once
            if version not in self._tables:
                path = self.folder / FILES[version]
                self._tables[version] = _Table(path, version) if path.is_file() else None
            return self._tables[version]

    def _lookup(self, address: str) -> As | None:
        ip = host_address(address)
        if ip is None or not ip.is_global:
            return None
        table = self._table(ip.version)
        return table.find(int(ip)) if table is not None else None


_SHARED: dict[str, AsnDatabase | None] = {}


def shared(vendor_dir: str | Path | None = None) -> AsnDatabase | None:
    key = str(vendor_dir or "")
    if key not in _SHARED:
        _SHARED[key] = AsnDatabase.bundled(vendor_dir)
    return _SHARED[key]
