"""Rotated copies of a followed file (``access.log.1``, ``.1.gz``, ``-20250101`` ...), and whether one holds
exactly what an earlier run stored, and more: what ``Follower`` finishes first after a restart."""

from __future__ import annotations

import hashlib
import stat as stat_module
from pathlib import Path
from typing import Any

from netwarden.collect.files import LogFile

ROTATED_SUFFIXES = (".1", ".0", ".1.gz", ".0.gz", "-*")
MAX_ROTATED_CANDIDATES = 6


def rotated_copies(path: Path) -> list[Path]:
    """Likely rotated copies of ``path`` (``.1``, ``.1.gz``, ``-20250101``...), newest first."""
    found: dict[Path, float] = {}
    for suffix in ROTATED_SUFFIXES:
        matches = path.parent.glob(path.name + suffix) if "*" in suffix else [path.with_name(path.name + suffix)]
        for candidate in matches:
            try:
                st = candidate.stat()
            except OSError:
                continue
            if stat_module.S_ISREG(st.st_mode):
                found[candidate] = st.st_mtime
    return sorted(found, key=lambda p: -found[p])[:MAX_ROTATED_CANDIDATES]


def continues(candidate: Path, row: dict[str, Any]) -> bool:
    """True if ``candidate`` holds exactly what ``row`` read, and more."""
    with LogFile(candidate) as log:
        first = log.first_line()
        if hashlib.sha256(first).hexdigest() != row["first_line_sha"]:
            return False
        got, digest = log.hash_prefix(row["offset"])
        if got != row["offset"] or digest.hexdigest() != row["prefix_sha"]:
            return False
        return bool(log.stream.read(1))
