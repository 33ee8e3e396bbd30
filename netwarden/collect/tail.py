"""One followed file, open by descriptor: how far it was stored (offset, line count, hash of everything
stored), what was read ahead of that, and the cutting of the bytes read into complete lines (an over-long
line keeps its head and is hashed whole; an unterminated last line waits). The follower
(``collect/follow.py``) decides when to read, identify, store and rotate."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwarden.collect.files import Line, decode
from netwarden.parse import Parser

FIRST_LINE_LIMIT = 4096  # as LogFile.first_line(): how much of the first line identifies a file


@dataclass
class LongLine:
    """An over-long line still being read: only its head is kept, all of it is hashed."""

    head: bytes
    length: int
    digest: Any


class Tail:
    """One open file (by descriptor) and how far it was stored."""

    def __init__(self, path: Path, fh: Any, st: os.stat_result) -> None:
        self.path = path
        self.fh = fh
        self.fd = fh.fileno()
        self.dev, self.ino = st.st_dev, st.st_ino
        self.identified = False
        self.source_id: int | None = None
        self.first_sha = ""
        self.format: str | None = None
        self.parser: Parser | None = None
        self.failed: str | None = None  # permanent: this file cannot be followed
        # committed (stored) state
        self.offset = 0
        self.lines = 0
        self.digest = hashlib.sha256()
        self.stored_through = 0  # lines stored ahead of the position by an interrupted import (not stored again)
        # read ahead of the committed state; dropped on a failure
        self._reset_work()
        self.draining_since: float | None = None  # set once rotated away
        self.last_growth = time.monotonic()

    def _reset_work(self) -> None:
        self.w_offset = self.offset
        self.w_lines = self.lines
        self.w_digest = self.digest.copy()
        self.buf = bytearray()
        self.long: LongLine | None = None
        self.read_pos = self.offset

    def restart_from_zero(self) -> None:
        self.identified = False
        self.source_id = None
        self.first_sha = ""
        self.parser = None
        self.offset = 0
        self.lines = 0
        self.digest = hashlib.sha256()
        self.stored_through = 0
        self._reset_work()

    def close(self) -> None:
        try:
            self.fh.close()
        except OSError:
            pass

    def absorb(self, data: bytes, ready: list[Line], limit: int) -> None:
        """Cut what was read into complete lines (appended to ``ready``); keep the rest for the next read."""
        if self.long is not None:
            cut = data.find(b"\n")
            part = data if cut < 0 else data[:cut + 1]
            self.long.digest.update(part)
            self.long.length += len(part)
            if cut < 0:
                return
            self.end_long(ready, limit)
            data = data[cut + 1:]
        buf = self.buf
        buf += data
        start = 0
        while True:
            cut = buf.find(b"\n", start)
            if cut < 0:
                break
            raw = bytes(buf[start:cut + 1])
            self.w_lines += 1
            self.w_offset += len(raw)
            ready.append(cut_line(self.w_lines, raw, self.w_offset, limit))
            start = cut + 1
        if start:
            self.w_digest.update(memoryview(buf)[:start])
            del buf[:start]
        if len(buf) >= limit:
            digest = self.w_digest.copy()
            digest.update(buf)
            self.long = LongLine(bytes(buf[:limit]), len(buf), digest)
            buf.clear()

    def end_long(self, ready: list[Line], limit: int) -> None:
        """The over-long line being read has ended: one line, its head kept, marked too long."""
        long = self.long
        assert long is not None
        self.w_lines += 1
        self.w_offset += long.length
        self.w_digest = long.digest
        line = cut_line(self.w_lines, long.head, self.w_offset, limit)
        line.length, line.too_long = long.length, True
        ready.append(line)
        self.long = None

    def finish_partial(self, ready: list[Line], limit: int) -> None:
        """The file was rotated away and stayed idle: its unterminated last line is final."""
        if self.long is not None:
            self.end_long(ready, limit)
        elif self.buf:
            raw = bytes(self.buf)
            self.w_digest.update(raw)
            self.w_lines += 1
            self.w_offset += len(raw)
            ready.append(cut_line(self.w_lines, raw, self.w_offset, limit))
            self.buf.clear()


def first_line_changed(tail: Tail) -> bool:
    """A file truncated and refilled between two polls no longer starts with the line it started with."""
    head = os.pread(tail.fd, FIRST_LINE_LIMIT, 0)
    cut = head.find(b"\n")
    first = head[:cut + 1] if cut >= 0 else head
    return hashlib.sha256(first).hexdigest() != tail.first_sha


def hash_fd(fd: int, length: int) -> tuple[Any, int]:
    digest = hashlib.sha256()
    done = 0
    while done < length:
        chunk = os.pread(fd, min(1 << 20, length - done), done)
        if not chunk:
            break
        digest.update(chunk)
        done += len(chunk)
    return digest, done


def cut_line(number: int, raw: bytes, end: int, limit: int) -> Line:
    """A Line like LogFile.chunks() makes: cut to ``limit`` bytes if longer, invalid UTF-8 escaped."""
    length = len(raw)
    too_long = length > limit or (length == limit and not raw.endswith(b"\n"))
    data = raw[:limit] if too_long else raw
    text, bad = decode(data.rstrip(b"\r\n"))
    if "\r" in text:
        text = text.rstrip("\r")
    return Line(number, text, end, length, too_long, bad)
