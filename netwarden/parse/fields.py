"""Validation of the values parsers pull out of lines: addresses, ports, counters, timestamps.

Every helper raises :class:`ParseError` with a precise reason, so a bad value quarantines its line
with an explanation instead of storing nonsense or crashing.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from netwarden.parse.base import ParseError

MAX_COUNTER = 2**63 - 1  # what a BIGINT column holds
MISSING = frozenset({"", "-", "(empty)", "null", "None"})


@lru_cache(maxsize=65536)
def _normalise_ip(text: str) -> str:
    addr = ipaddress.ip_address(text)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        # ::ffff:a.b.c.d is the IPv4 host, written as IPv6 by dual-stack servers
        return str(addr.ipv4_mapped)
    return str(addr)


def ip(text: str | None, what: str = "address", *, optional: bool = True) -> str | None:
    """An IPv4 or IPv6 address in canonical form (IPv4-mapped IPv6 becomes IPv4)."""
    if text is None or text in MISSING:
        if optional:
            return None
        raise ParseError("missing_field", f"no {what}")
    if len(text) > 64:
        raise ParseError("bad_address", f"{what} too long")
    candidate = text.strip("[]")
    if "%" in candidate:  # fe80::1%eth0: the zone is not part of the address
        candidate = candidate.split("%", 1)[0]
    try:
        return _normalise_ip(candidate)
    except ValueError:
        raise ParseError("bad_address", f"invalid {what} {text!r}") from None


def port(text: str | int | None, what: str = "port") -> int | None:
    """A TCP/UDP port 0..65535; hexadecimal (Argus writes ICMP types as 0x08) is accepted."""
    if text is None or text in MISSING:
        return None
    value = _integer(text, what, "bad_port", _hexadecimal)
    if not 0 <= value <= 65535:
        raise ParseError("bad_port", f"{what} {_clip(value)} out of range 0-65535")
    return value


def _integer(text: str | int | float, what: str, reason: str, other_form: Callable[[str], int | None]) -> int:
    """A whole number as a log writes it: ASCII digits (int() and float() alone would also read "٢٢", "+22",
    " 22 ", "2_2" and "1e3"), the caller's ``other_form`` of it, or a number that is whole (not 1.5, not True)."""
    try:
        if not isinstance(text, str):
            return _whole(text)
        if text.isdigit() and text.isascii():
            return int(text)
        value = other_form(text)
    except (TypeError, ValueError, OverflowError):  # also more digits than int() converts
        value = None
    if value is None:
        raise ParseError(reason, f"invalid {what} {_clip(text)}")
    return value


def _hexadecimal(text: str) -> int | None:
    return int(text, 16) if text.startswith("0x") and len(text) > 2 and _is_hex(text[2:]) else None


def _is_hex(text: str) -> bool:
    return text.isascii() and text.isalnum() and all(c in "0123456789abcdefABCDEF" for c in text)


def _whole(value: object) -> int:
    """An int, or a float that is one (a JSON 80.0); bools and fractions are no number of anything."""
    if isinstance(value, bool):
        raise TypeError("a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():  # also false for inf and NaN; int(1.5) would silently give 1
            raise ValueError(value)
        return int(value)
    raise TypeError(type(value).__name__)


def _clip(value: object) -> str:
    """A value for a ParseError detail: a 100 KB field must not become a 100 KB detail."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# a count as exports write it: ASCII digits, maybe with a zero fraction ("12.0" in some CSV exports)
_COUNT = re.compile(r"([0-9]+)(?:\.0*)?")


def _zero_fraction(text: str) -> int | None:
    m = _COUNT.fullmatch(text)
    return int(m.group(1)) if m else None


def counter(text: str | int | float | None, what: str = "counter") -> int | None:
    """A non-negative integer count (bytes, packets, status)."""
    if text is None or text in MISSING:
        return None
    value = _integer(text, what, "bad_number", _zero_fraction)
    if not 0 <= value <= MAX_COUNTER:
        raise ParseError("bad_number", f"{what} {_clip(value)} out of range")
    return value


def _decimal(text: str | float) -> float:
    """float() of a number as logs write it; float() alone also reads "١٫٥"-style digits and "1_0"."""
    if isinstance(text, str) and (not text.isascii() or "_" in text):
        raise ValueError(text)
    if isinstance(text, bool):
        raise TypeError("a boolean")
    return float(text)


def _number(text: str | float, reason: str, what: str, within: Callable[[float], bool]) -> float:
    """A finite decimal number for which ``within`` holds, or a ParseError with ``reason``."""
    try:
        value = _decimal(text)
    except (TypeError, ValueError, OverflowError):  # float() of a 400-digit int overflows
        raise ParseError(reason, f"invalid {what} {_clip(text)}") from None
    if not math.isfinite(value) or not within(value):
        raise ParseError(reason, f"{what} {_clip(text)} out of range")
    return value


def seconds(text: str | float | None, what: str = "duration") -> float | None:
    """A non-negative finite duration in seconds."""
    if text is None or text in MISSING:
        return None
    return _number(text, "bad_number", what, lambda v: 0 <= v <= 10 * 365 * 86400)


def epoch(text: str | float | None, what: str = "timestamp") -> datetime | None:
    """A Unix time in seconds (fractions allowed) as an aware UTC datetime."""
    if text is None or text in MISSING:
        return None
    value = _number(text, "bad_timestamp", what, lambda v: 0 <= v < 32503680000)  # before the year 3000
    return datetime.fromtimestamp(value, timezone.utc)


def iso_time(text: str | None, local_tz: tzinfo = timezone.utc, what: str = "timestamp") -> datetime | None:
    """An ISO-8601 timestamp; one without a zone is taken in ``local_tz``."""
    if text is None or text in MISSING:
        return None
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    # Suricata writes +0200 (no colon); fromisoformat accepts it since 3.11
    try:
        value = datetime.fromisoformat(candidate)
    except ValueError:
        raise ParseError("bad_timestamp", f"invalid {what} {text!r}") from None
    return aware(value, local_tz)


def aware(value: datetime, local_tz: tzinfo) -> datetime:
    """Attach ``local_tz`` to a naive datetime and convert to UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_tz)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise ParseError("bad_timestamp", f"{value.isoformat()} is out of range in UTC") from None


MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}


class YearlessClock:
    """Gives a year to timestamps that have none (``Dec 10 06:55:46``), as a syslog reader must.

    The first timestamp gets the reference time's year, or the year before if that would put it more
    than a day in the future. Later timestamps follow the stream: a jump back of more than half a year
    (December to January) moves into the next year.
    """

    def __init__(self, reference: datetime, local_tz: tzinfo) -> None:
        self.reference = reference.astimezone(local_tz) if reference.tzinfo else reference.replace(tzinfo=local_tz)
        self.local_tz = local_tz
        self.year: int | None = None
        self.last: datetime | None = None

    def resolve(self, month: int, day: int, hour: int, minute: int, second: int,
                microsecond: int = 0) -> datetime:
        try:
            if self.year is None:
                year = self.reference.year
                candidate = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=self.local_tz)
                if candidate - self.reference > timedelta(days=1):
                    year -= 1
                    candidate = _with_year(candidate, year, month, day)
                self.year = year
            else:
                candidate = _with_year(
                    datetime(2000, month, day, hour, minute, second, microsecond, tzinfo=self.local_tz),
                    self.year, month, day)
                if self.last is not None and self.last - candidate > timedelta(days=183):
                    self.year += 1
                    candidate = _with_year(candidate, self.year, month, day)
        except ValueError as exc:
            raise ParseError("bad_timestamp", str(exc)) from None
        self.last = candidate
        return candidate.astimezone(timezone.utc)


def _with_year(value: datetime, year: int, month: int, day: int) -> datetime:
    if month == 2 and day == 29:
        # Feb 29 only exists in leap years; find the nearest earlier one
        while not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
            year -= 1
    return value.replace(year=year)


def text(value: str | None, limit: int = 8192) -> str | None:
    """A free-text field; ``-`` means absent. Over-long values are cut (the raw line keeps all of it)."""
    if value is None or value in MISSING:
        return None
    return value if len(value) <= limit else value[:limit]
