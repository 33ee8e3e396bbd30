"""Small helpers for text shown to people."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 alert``, ``2 alerts``, ``1,204 user names``: the count (thousands separated) and the right noun form."""
    return f"{count:,} {singular if count == 1 else (plural_form or singular + 's')}"


def data_size(n: float) -> str:
    """``950 B``, ``1.2 kB``, ``3.4 GB``: a byte count in decimal units, for alert texts."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} B"
