"""LogFile.chunks (block reads) hands out exactly the lines a readline per line gives, with the resume digest
in step with each list's last line, across block boundaries, over-long lines, CRLF, bad UTF-8 and gzip."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
from pathlib import Path

import pytest

from netwarden.collect import files
from netwarden.collect.files import Line, LogFile


def _content(seed: int) -> bytes:
    """Lines of every kind; from seed 6 on mostly plain ASCII with LF endings (whole blocks of them take the
    shortcut in ``chunks``), with the odd CRLF, bad UTF-8 or over-long line in some blocks."""
    rng = random.Random(seed)
    plain = seed >= 6
    lines = []
    for _ in range(400):
        kind = rng.random() * (8 if plain else 1)
        if kind < 0.05:
            lines.append(b"x" * rng.randrange(90, 400))  # over the limit of 100 below, often over a block
        elif kind < 0.1:
            lines.append(b"bad \xff\xfe utf-8")
        elif kind < 0.15:
            lines.append(b"")
        else:
            lines.append(bytes(rng.choice(b"abc def\t") for _ in range(rng.randrange(1, 80))))
    if plain:  # one of each somewhere, so that some blocks do not take the shortcut
        lines[rng.randrange(400)], lines[rng.randrange(400)] = b"y" * 150, b"bad \xff"
    ends = [b"\r\n" if rng.random() < (0.01 if plain else 0.5) else b"\n" for _ in lines]
    data = b"".join(line + end for line, end in zip(lines, ends))
    return data if seed % 2 else data.rstrip(b"\r\n") + b"tail without newline"


def _readline_reference(data: bytes, limit: int) -> list[Line]:
    """What reading line by line gives: a line of ``limit`` bytes or more (ending excluded) is cut to ``limit``
    and flagged; invalid UTF-8 is escaped and flagged."""
    out, offset = [], 0
    for number, raw in enumerate(io.BytesIO(data), start=1):
        offset += len(raw)
        content = raw[:-1] if raw.endswith(b"\n") else raw
        too_long = len(content) >= limit
        text = (content[:limit] if too_long else content).rstrip(b"\r\n")
        try:
            out.append(Line(number, text.decode("utf-8"), offset, len(raw), too_long, False))
        except UnicodeDecodeError:
            out.append(Line(number, text.decode("utf-8", "backslashreplace"), offset, len(raw), too_long, True))
    return out


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("compressed", [False, True])
def test_chunks_equal_lines_and_keep_the_digest_in_step(tmp_path: Path, seed: int, compressed: bool,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # many block boundaries, lines longer than a block; blocks of many lines for the mostly plain contents
    monkeypatch.setattr(files, "BLOCK", 64 if seed < 6 else (64, 300, 1000, 4096, 1 << 20, 777)[seed - 6])
    data = _content(seed)
    path = tmp_path / ("log.gz" if compressed else "log")
    path.write_bytes(gzip.compress(data) if compressed else data)
    expected = _readline_reference(data, 100)
    assert any(line.too_long for line in expected) and any(line.bad_utf8 for line in expected)
    got = []
    digest = hashlib.sha256()
    with LogFile(path) as log:
        for chunk in log.chunks(start_offset=0, start_line=0, digest=digest, max_line_bytes=100, size=7):
            assert 0 < len(chunk) <= 7
            end = chunk[-1].end
            assert digest.hexdigest() == hashlib.sha256(data[:end]).hexdigest()  # resume here is exact
            got += chunk
    assert [(l.number, l.text, l.end, l.length, l.too_long, l.bad_utf8) for l in got] == \
        [(l.number, l.text, l.end, l.length, l.too_long, l.bad_utf8) for l in expected]
    assert got[-1].end == len(data)


def test_a_huge_line_is_streamed_past_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with path.open("wb") as f:
        f.write(b"first\n")
        for _ in range(20):
            f.write(b"y" * (1 << 20))  # a 20 MiB line
        f.write(b"\nlast\n")
    digest = hashlib.sha256()
    with LogFile(path) as log:
        lines = [line for chunk in log.chunks(start_offset=0, start_line=0, digest=digest, max_line_bytes=1000,
                                              size=100) for line in chunk]
    assert [(l.text[:3], l.too_long, l.length) for l in lines] == [
        ("fir", False, 6), ("yyy", True, 20 * (1 << 20) + 1), ("las", False, 5)]
    assert len(lines[1].text) == 1000
    assert digest.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
