"""Parsers: one module per format, found by name through one registry.

Every module in this package that is not a helper (``base``, ``fields``, names starting with ``_``) is
imported on first use, so adding a format means adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

from netwarden.parse.base import REGISTRY, ParseContext, ParseError, Parser, register

__all__ = ["ParseContext", "ParseError", "Parser", "register", "parsers", "get_parser", "guess_format",
           "UnknownFormat"]

_HELPERS = {"base", "fields"}
_loaded = False


class UnknownFormat(LookupError):
    """No parser recognises the input, or the named format does not exist."""


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name in _HELPERS or info.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


def parsers() -> dict[str, type[Parser]]:
    """All registered parsers by name, sorted."""
    _load_all()
    return dict(sorted(REGISTRY.items()))


def get_parser(name: str) -> type[Parser]:
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownFormat(
            f"unknown format {name!r}; known formats: {', '.join(sorted(REGISTRY))}") from None


SNIFF_THRESHOLD = 0.5


def guess_format(lines: Sequence[str]) -> type[Parser]:
    """The parser most sure of ``lines`` (the first lines of an input). Raises UnknownFormat."""
    _load_all()
    sample = [line for line in lines if line.strip()][:50]
    if not sample:
        raise UnknownFormat("the input is empty: nothing to recognise")
    scored = []
    for cls in REGISTRY.values():
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
