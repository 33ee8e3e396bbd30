"""Small helpers for text shown to people."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 alert``, ``2 alerts``, ``1,204 user names``: the count (thousands separated) and the right noun form."""
    return f"{count:,} {singular if count == 1 else (plural_form or singular + 's')}"
