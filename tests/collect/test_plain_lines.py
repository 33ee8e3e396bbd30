"""PlainLines (a file's usual block, without a Line object per line) reads like the list of its Lines, and
parse_lines gives the same batch from it as from that list."""

from __future__ import annotations

import pytest

from netwarden.collect.files import Line, PlainLines
from netwarden.parse.syslog import Syslog
from netwarden.pipeline.batch import IngestResult, parse_lines

TEXTS = [
    "Jan  1 00:00:01 host sshd[1]: Invalid user admin from 203.0.113.7",
    "not a syslog line",
    "Jan  1 00:00:02 host sshd[1]: Failed password for invalid user admin from 203.0.113.7 port 4242 ssh2",
    "",
    "Jan  1 00:00:02 host sshd[1]: Failed password for root from 203.0.113.8 port 22 ssh2",
]


def _plain(first: int = 7) -> PlainLines:
    lengths = [len(t) + 1 for t in TEXTS]
    ends = [100 + sum(lengths[:i + 1]) for i in range(len(TEXTS))]
    return PlainLines(first, list(TEXTS), ends, lengths)


def test_it_reads_like_the_list_of_its_lines() -> None:
    plain = _plain()
    lines = [Line(7 + i, t, plain.ends[i], plain.lengths[i]) for i, t in enumerate(TEXTS)]
    assert list(plain) == lines and len(plain) == len(lines) and plain == lines
    assert plain[0] == lines[0] and plain[-1] == lines[-1] and plain[2] == lines[2]
    with pytest.raises(IndexError):
        plain[len(lines)]
    assert isinstance(plain[1:4], PlainLines) and list(plain[1:4]) == lines[1:4]
    assert list(plain[::2]) == lines[::2] and list(plain[10:]) == []
    joined = plain[:2].joined(plain[2:])
    assert isinstance(joined, PlainLines) and list(joined) == lines
    gap = plain[:2].joined(plain[3:])  # not consecutive: a list of Lines, nothing renumbered
    assert gap == [*lines[:2], *lines[3:]]


def test_parse_lines_gives_the_same_batch_from_it() -> None:
    plain = _plain()
    got_counts, want_counts = IngestResult("x", "syslog"), IngestResult("x", "syslog")
    got = parse_lines(Syslog(), plain, got_counts, 1000)
    want = parse_lines(Syslog(), list(plain), want_counts, 1000)
    assert got.events == want.events and got.line_numbers == want.line_numbers == [7, 9, 11]
    assert got.quarantined == want.quarantined and [q.line_no for q in got.quarantined] == [8]
    assert (got_counts.lines, got_counts.events, got_counts.skipped) == (want_counts.lines, 3, 1)
