"""The parser contract: one small class per format, registered by name.

A parser turns one line of text into one :class:`~netwarden.records.Event`. Writing a new one means
subclassing :class:`Parser`, setting the class attributes and implementing :meth:`Parser.parse_line`::

    @register
    class MyFormat(Parser):
        name = "myformat"
        description = "My appliance's log"
        example = "2026-01-01T00:00:00Z 10.0.0.1 -> 10.0.0.2 allowed"
        source_kind = SourceKind.FIREWALL

        @classmethod
        def sniff(cls, lines):
            return 0.9 if all(" -> " in line for line in lines) else 0.0

        def parse_line(self, line):
            ...  # return an Event, None for a header/comment line, or raise ParseError

A parser instance lives for one input stream, so formats with a header (Zeek's ``#fields``, CSVs) keep
what they learned from it on ``self``. Everything in a line is attacker-controlled: validate, never trust.
Each parser ships a golden sample file in ``tests/data/golden/<name>.log`` (see ``tests/parse/test_golden.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import ClassVar

from netwarden.plugins import Registry
from netwarden.records import Event


class ParseError(ValueError):
    """A line that cannot become an event. ``reason`` is a short stable code used for counting;
    ``detail`` says what exactly was wrong, for the administrator."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class ParseContext:
    """What a parser may need to know about the stream it reads.

    ``reference_time`` anchors timestamps that lack a year (RFC 3164 syslog): the file's modification
    time for files, now for live streams. ``local_tz`` is the zone of timestamps that carry none.
    """

    source: str = "-"
    observer: str | None = None
    reference_time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    local_tz: tzinfo = timezone.utc


class Parser(ABC):
    """Base of every format parser. See the module docstring for how to write one."""

    name: ClassVar[str]
    description: ClassVar[str]
    example: ClassVar[str]
    source_kind: ClassVar[str]
    #: keep the original line in ``Event.raw`` (off for bulky, fully structured formats like flow CSVs)
    keep_raw: ClassVar[bool] = True

    def __init__(self, context: ParseContext | None = None) -> None:
        self.context = context or ParseContext()

    @classmethod
    @abstractmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        """How sure (0..1) this parser is that ``lines`` (the first lines of a file) are its format."""

    @abstractmethod
    def parse_line(self, line: str) -> Event | None:
        """Parse one line (without its line ending).

        Returns the event, or ``None`` for a line that carries no event (a header, a comment, a blank
        line). Raises :class:`ParseError` for a line that should be quarantined.
        """


class UnknownFormat(LookupError):
    """No parser recognises the input, or the named format does not exist."""


#: every format parser: the public modules of netwarden.parse (see netwarden.plugins)
PARSERS: Registry[type[Parser]] = Registry("format", "netwarden.parse", error=UnknownFormat,
                                           required=("name", "description", "example", "source_kind"))
REGISTRY = PARSERS.entries
register = PARSERS.register  # class decorator: make a parser available by its ``name``
