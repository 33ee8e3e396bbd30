"""One followed path over time: which file is there now, which rotated-away files are still being finished,
and what it gave so far. ``Watch.look`` is the rotation tracking of ``collect/follow.py``: a change of
device/inode at the path is a rotation (the old file, still open, is finished), a file shorter than what
was read, or one whose first line changed, was truncated in place (copytruncate)."""

from __future__ import annotations

import os
import stat as stat_module
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from netwarden.collect.files import InputError
from netwarden.collect.sink import Counts
from netwarden.collect.tail import Tail, first_line_changed


class FollowError(Exception):
    """A file that cannot be followed as it is (unrecognisable format, not a regular file ...)."""


@dataclass
class FileStats:
    """What one followed path gave so far; ``netwarden follow`` prints these."""

    path: str
    format: str | None = None
    state: str = "starting"  # waiting, following, recognising, error
    lines: int = 0
    events: int = 0
    skipped: int = 0
    quarantined: Counter = field(default_factory=Counter)
    bad_utf8: int = 0
    resumed_at_line: int = 0  # of the first file identified: lines stored by an earlier run
    rotations: int = 0  # renamed or deleted and replaced
    truncations: int = 0  # copytruncate
    recovered_lines: int = 0  # read from rotated copies (after a restart or a copytruncate)
    recovered_events: int = 0
    last_error: str | None = None
    errors: int = 0
    last_line_at: float | None = None

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def add(self, result: Counts) -> None:
        self.lines += result.lines
        self.events += result.events
        self.skipped += result.skipped
        self.quarantined.update(result.quarantined)
        self.bad_utf8 += result.bad_utf8


class Watch:
    """One followed path: the current file there, and rotated-away files still being finished."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self.current: Tail | None = None
        self.draining: list[Tail] = []
        self.stats = FileStats(str(path))
        self.retry_at = 0.0
        self.started = False

    def tails(self) -> Iterator[Tail]:
        """Every open file of this path, rotated-away ones first."""
        yield from self.draining
        if self.current is not None:
            yield self.current

    def close(self) -> None:
        for tail in self.tails():
            tail.close()
        self.current = None
        self.draining = []

    def look(self, truncated: Callable[[Watch, Tail], None]) -> bool:
        """Compare the path with the open file: hand a truncated file to ``truncated``, move a rotated one to
        ``draining``, open the file now there. False if nothing is at the path."""
        try:
            st: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        current = self.current
        if current is not None:
            size = os.fstat(current.fd).st_size
            if size < current.read_pos or size < current.offset or (
                    size > current.read_pos and current.identified and first_line_changed(current)):
                self.stats.truncations += 1
                truncated(self, current)
            if st is None or (st.st_dev, st.st_ino) != (current.dev, current.ino):
                self.stats.rotations += 1
                current.draining_since = current.last_growth = time.monotonic()
                self.draining.append(current)
                self.current = None
        if self.current is None and st is not None:
            self.current = self._open(st)
        return st is not None

    def _open(self, st: os.stat_result) -> Tail | None:
        """The file at the path, or None if it went between stat and open (the next poll sees why)."""
        if not stat_module.S_ISREG(st.st_mode):
            raise FollowError(f"{self.path}: not a regular file")
        try:
            fh = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed in Tail.close()
            opened = os.fstat(fh.fileno())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        if fh.read(2) == b"\x1f\x8b":
            fh.close()
            raise FollowError(f"{self.path}: gzip-compressed; follow reads growing plain-text logs "
                              "(use `netwarden ingest` for .gz files)")
        return Tail(self.path, fh, opened)

    def update_state(self, exists: bool) -> None:
        current = self.current
        if current is None and not exists:
            self.stats.state = "waiting"
        elif current is not None and current.failed:
            self.stats.state = "error"
        elif current is not None and not current.identified:
            self.stats.state = "waiting" if current.w_offset == 0 and not current.buf else "recognising"
        else:
            self.stats.state = "following"
