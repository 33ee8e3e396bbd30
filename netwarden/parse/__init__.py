"""Parsers: one module per format, found by name through one registry (``base.PARSERS``).

Every public module of this package is imported on first use (private helpers start with ``_``; see
netwarden.plugins), so adding a format means adding one file.
"""

from __future__ import annotations

from collections.abc import Sequence

from netwarden.parse.base import PARSERS, ParseContext, ParseError, Parser, UnknownFormat, register

__all__ = ["ParseContext", "ParseError", "Parser", "register", "parsers", "get_parser", "guess_format",
           "UnknownFormat"]

def parsers() -> dict[str, type[Parser]]:
    """All registered parsers by name, sorted."""
    return PARSERS.all()


def get_parser(name: str) -> type[Parser]:
    return PARSERS.get(name)


SNIFF_THRESHOLD = 0.5


def guess_format(lines: Sequence[str]) -> type[Parser]:
    """The parser most sure of ``lines`` (the first lines of an input). Raises UnknownFormat."""
    sample = [line for line in lines if line.strip()][:50]
    if not sample:
        raise UnknownFormat("the input is empty: nothing to recognise")
    scored = []
    for cls in PARSERS.all().values():
        try:
            score = float(cls.sniff(sample))
        except Exception:  # a sniffer must never take the whole guess down
            score = 0.0
        scored.append((score, cls.name, cls))
    scored.sort(key=lambda item: (-item[0], item[1]))
    best_score, _, best = scored[0]
    if best_score < SNIFF_THRESHOLD:
        raise UnknownFormat("could not recognise the format from the first lines; "
                            "name it with --format (see `netwarden formats`)")
    return best
