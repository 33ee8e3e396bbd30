"""Shared bits for the labelled flow-record CSV parsers (NSL-KDD, UNSW-NB15, CICFlowMeter).

These files are big (millions of rows) and fully numeric, so the helpers favour speed: ``str.split``
when a row has no quotes, and numeric checks that raise no exception on the common path.
"""

from __future__ import annotations

import csv
import math

from netwarden.parse.base import ParseError
from netwarden.parse.fields import MAX_COUNTER

_INF = math.inf

#: IP protocol numbers as CICFlowMeter writes them, to the names Event.transport uses
IP_PROTOCOLS: dict[int, str] = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah",
                                58: "ipv6-icmp", 132: "sctp"}


def split_row(line: str) -> list[str]:
    """One CSV row as cells. Quotes are rare in these files: only then pay for the csv module."""
    if '"' not in line:
        return line.split(",")
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration) as exc:
        raise ParseError("bad_csv", str(exc)[:200]) from None


def clean_line(line: str) -> str:
    """Drop what a reader may leave around a row: a UTF-8 BOM in front, a CR behind (CRLF files)."""
    if line.endswith("\r"):
        line = line.rstrip("\r")
    if line.startswith("\ufeff"):
        line = line[1:]
    return line


def _plain(text: str) -> str:
    """``text`` if it can be a number as these files write one. int() and float() also read other scripts'
    digits ("٢٢" is 22) and underscores ("1_0" is 10); no export writes those, so they are no number."""
    if not text.isascii() or "_" in text:
        raise ValueError(text)
    return text


def nonneg_int(text: str, what: str) -> int:
    """A non-negative integer cell; ``12.0`` is accepted (some exports write integers as floats)."""
    if text.isdigit() and text.isascii() and len(text) < 19:
        return int(text)
    try:
        value = int(_plain(text))
    except ValueError:
        f = nonneg_float(text, what)
        if f != int(f):
            raise ParseError("bad_number", f"{what} {text[:40]!r} is not a whole number") from None
        value = int(f)
    if not 0 <= value <= MAX_COUNTER:
        raise ParseError("bad_number", f"{what} {text[:40]!r} out of range")
    return value


def nonneg_float(text: str, what: str) -> float:
    """A non-negative finite number cell."""
    try:
        value = float(_plain(text))
    except ValueError:
        raise ParseError("bad_number", f"invalid {what} {text[:40]!r}") from None
    if not 0 <= value < _INF:  # also false for NaN
        raise ParseError("bad_number", f"{what} {text[:40]!r} out of range")
    return value


def number(text: str, what: str) -> int | float | None:
    """Any number cell, negative allowed: int when the value is whole (``3``, ``1024.0``), else float.

    ``Infinity``/``NaN`` (CICFlowMeter divides by a zero duration) and empty cells become ``None``:
    the row stays, the ML stage sees a missing value rather than a fake one.
    """
    if not text or text.isspace():
        return None
    try:
        value = float(_plain(text))
    except ValueError:
        raise ParseError("bad_number", f"invalid {what} {text[:40]!r}") from None
    if value - value != 0:  # inf or NaN
        return None
    return int(value) if value.is_integer() else value
