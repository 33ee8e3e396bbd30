"""Reading log files line by line: plain or gzip, any size, any bytes.

A line is never lost here: over-long lines are cut to the limit and flagged, invalid UTF-8 is kept
with the bad bytes escaped (``\\xff``), and every line reports the byte offset where it ends so the
reader can resume exactly there.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator, Sequence
from itertools import accumulate, count
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
BLOCK = 1 << 20  # bytes read at a time by LogFile.chunks
SNIFF_LINES = 30  # lines read to recognise a format
_ONE = 1


class InputError(OSError):
    """A file that cannot be read at all; the message names it and says why."""


@dataclass(slots=True)
class Line:
    number: int  # 1-based
    text: str  # without the line ending
    end: int  # offset in the (decompressed) stream just after this line
    length: int  # the line's true length in bytes
    too_long: bool = False
    bad_utf8: bool = False


class PlainLines(Sequence[Line]):
    """Consecutive lines of the usual block (ASCII, LF endings, none of the size limit or more): the first one's
    number, their texts, where each ends and its length, without a ``Line`` object per line (making them was
    a third of reading's cost; ``pipeline.batch.parse_lines`` reads the texts). A ``Line`` is made when one is
    asked for, so this reads like the list of them."""

    __slots__ = ("first", "texts", "ends", "lengths")

    def __init__(self, first: int, texts: list[str], ends: list[int], lengths: list[int]) -> None:
        self.first, self.texts, self.ends, self.lengths = first, texts, ends, lengths

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self.texts))
            if step != 1:
                return list(self)[index]
            return PlainLines(self.first + start, self.texts[start:stop], self.ends[start:stop],
                              self.lengths[start:stop])
        i = range(len(self.texts))[index]  # IndexError as a list's, negative indexes alike
        return Line(self.first + i, self.texts[i], self.ends[i], self.lengths[i])

    def __iter__(self) -> Iterator[Line]:
        return map(Line, count(self.first), self.texts, self.ends, self.lengths)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"PlainLines({self.first}, {len(self.texts)} lines)"

    def joined(self, after: PlainLines) -> PlainLines | list[Line]:
        """These lines and then ``after``'s (a list of Lines unless ``after`` follows on without a gap)."""
        if after.first != self.first + len(self.texts):
            return [*self, *after]
        return PlainLines(self.first, self.texts + after.texts, self.ends + after.ends, self.lengths + after.lengths)


class NullDigest:
    """A digest for ``LogFile.chunks`` when nothing needs hashing (standard input, sniffing)."""

    def update(self, data: bytes) -> None:
        pass


def decode(data: bytes) -> tuple[str, bool]:
    """UTF-8 text, and whether invalid bytes had to be kept escaped (``\\xff``)."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", "backslashreplace"), True


class LogFile:
    """An open input file. ``size`` and ``position`` are in on-disk bytes, for progress bars."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._disk: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed in close()
            magic = self._disk.read(2)
            self._disk.seek(0)
            self.size = self.path.stat().st_size
        except IsADirectoryError:
            raise InputError(f"{path}: is a directory, not a log file") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        self.compressed = magic == GZIP_MAGIC
        self.stream: BinaryIO = (
            io.BufferedReader(gzip.GzipFile(fileobj=self._disk, mode="rb"), buffer_size=1 << 20)
            if self.compressed else self._disk)

    @classmethod
    def from_stream(cls, stream: BinaryIO, name: str = "-") -> LogFile:
        """An already open byte stream (standard input), read once from where it is; never compressed."""
        log = cls.__new__(cls)
        log.path, log.size, log.compressed = Path(name), 0, False
        log._disk = log.stream = stream
        return log

    @property
    def position(self) -> int:
        return self._disk.tell()

    def close(self) -> None:
        self.stream.close()
        self._disk.close()

    def __enter__(self) -> LogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def first_line(self, limit: int = 4096) -> bytes:
        """The first line's bytes (at most ``limit``), then rewinds. Identifies the file's content."""
        data = self._readline(limit)
        self.rewind()
        return data

    def rewind(self) -> None:
        self.stream.seek(0)

    def _readline(self, limit: int) -> bytes:
        try:
            return self.stream.readline(limit)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:  # corrupt or truncated gzip
            raise InputError(f"{self.path}: unreadable data: {exc}") from None

    def hash_prefix(self, length: int) -> tuple[int, hashlib._Hash]:
        """Hash the first ``length`` bytes; returns how many were there and the running hash."""
        digest = hashlib.sha256()
        remaining = length
        while remaining > 0:
            try:
                chunk = self.stream.read(min(remaining, 1 << 20))
            except (OSError, EOFError) as exc:
                raise InputError(f"{self.path}: unreadable data: {exc}") from None
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
        return length - remaining, digest

    def _read(self, size: int) -> bytes:
        try:
            return self.stream.read(size)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:  # corrupt or truncated gzip
            raise InputError(f"{self.path}: unreadable data: {exc}") from None

    def chunks(self, *, start_offset: int, start_line: int, digest: hashlib._Hash, max_line_bytes: int,
               size: int) -> Iterator[list[Line]]:
        """The lines from the current position (which must be ``start_offset``), in lists of at most ``size``,
        read in blocks (a quarter of the cost of a ``readline`` per line). When a list is handed out,
        ``digest`` has taken exactly the bytes up to its last line, so the list's last ``end`` and the digest
        can be stored together to resume there. A line of ``max_line_bytes`` or more is cut to that and
        flagged ``too_long``; invalid UTF-8 is kept escaped and flagged ``bad_utf8``."""
        offset, number = start_offset, start_line
        carry = b""  # the start of a line whose end is in a later block
        chunk: list[Line] | PlainLines = []
        while True:
            data = self._read(BLOCK)
            # after an over-long line the carry holds the rest of a block: whole lines, even at the end of file
            ended = bool(data) or b"\n" in carry
            if ended:
                buf = carry + data if carry else data
                cut = buf.rfind(b"\n") + 1  # whole lines up to here; the rest waits for its end
                body, carry = buf[:cut], buf[cut:]
                pieces = None  # made below unless the block takes the shortcut
            elif carry:  # the last line has no line ending
                buf, body, pieces, carry = carry, carry, [carry], b""
            else:
                break
            view = memoryview(buf)
            start = pos = 0
            if ended and body.isascii() and b"\r" not in body:
                # the usual block (ASCII, LF endings): its lines made with one decode and loops in C
                texts = body.decode("ascii").split("\n")
                texts.pop()  # after the last line ending: nothing
                lengths = list(map(_ONE.__add__, map(len, texts)))
                if not lengths or max(lengths) <= max_line_bytes:  # no line of max_line_bytes or more
                    if len(chunk) >= size:  # full with an over-long line (size 1): out before this block
                        yield chunk
                        chunk = []
                    ends = list(accumulate(lengths))
                    lines = PlainLines(number + 1, texts, list(map(offset.__add__, ends)), lengths)
                    number += len(lines)
                    offset += len(body)
                    done = 0
                    while done < len(lines):
                        take = lines[done:done + size - len(chunk)]
                        if not chunk:
                            chunk = take
                        elif isinstance(chunk, PlainLines):
                            chunk = chunk.joined(take)
                        else:
                            chunk += take
                        done += len(take)
                        if len(chunk) >= size:
                            pos = ends[done - 1]
                            digest.update(view[start:pos])
                            start = pos
                            yield chunk
                            chunk = []
                    pieces = []
                    pos = len(body)
            if pieces is None:
                pieces = body.split(b"\n")
                pieces.pop()
            if pieces and isinstance(chunk, PlainLines):  # Lines of other kinds follow: a list of them all
                chunk = list(chunk)
            for piece in pieces:
                length = len(piece) + 1 if ended else len(piece)
                pos += length
                number += 1
                offset += length
                too_long = len(piece) >= max_line_bytes
                content = (piece[:max_line_bytes] if too_long else piece).rstrip(b"\r\n")
                try:
                    chunk.append(Line(number, content.decode("utf-8"), offset, length, too_long, False))
                except UnicodeDecodeError:
                    chunk.append(Line(number, content.decode("utf-8", "backslashreplace"), offset, length,
                                      too_long, True))
                if len(chunk) >= size:
                    digest.update(view[start:pos])
                    start = pos
                    yield chunk
                    chunk = []
            digest.update(view[start:pos])  # lines of the list being filled: nothing reads it before it is out
            del view
            if len(carry) >= max_line_bytes:  # an over-long line: keep its head, stream the rest past
                if chunk:
                    yield chunk
                    chunk = []
                line, carry = self._long_line(carry, digest, max_line_bytes)
                number += 1
                offset += line.length
                line.number, line.end = number, offset
                chunk.append(line)
        if chunk:
            yield chunk

    def _long_line(self, head: bytes, digest: hashlib._Hash, max_line_bytes: int) -> tuple[Line, bytes]:
        """Read on to the end of a line that has reached the limit; returns it (number and end unset) and the
        bytes after it. Memory stays bounded whatever the line's length."""
        digest.update(head)
        length = len(head)
        rest = b""
        while True:
            data = self._read(BLOCK)
            if not data:
                break
            newline = data.find(b"\n")
            if newline >= 0:
                digest.update(data[:newline + 1])
                length += newline + 1
                rest = data[newline + 1:]
                break
            digest.update(data)
            length += len(data)
        text, bad = decode(head[:max_line_bytes].rstrip(b"\r\n"))
        return Line(0, text, 0, length, True, bad), rest
