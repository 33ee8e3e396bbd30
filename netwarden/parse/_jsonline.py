"""Shared bits for parsers of JSON-lines formats (Zeek JSON, Suricata EVE).

``json.loads`` hands back whatever the line says: a list where a string belongs, a nested object where a
port belongs. The :mod:`~netwarden.parse.fields` helpers expect strings or numbers, so every value taken
from a decoded object passes through :func:`scalar` first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from netwarden.parse.base import ParseError

Scalar = str | int | float


def load_object(line: str) -> dict[str, Any]:
    """Decode one line that must hold a JSON object."""
    try:
        value = json.loads(line)
    except RecursionError:  # "[[[[..." nested deeper than the interpreter's stack
        raise ParseError("bad_json", "JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and the int-digits limit of Python 3.11
        raise ParseError("bad_json", str(exc)[:200]) from None
    if not isinstance(value, dict):
        raise ParseError("bad_json", f"a JSON {type(value).__name__}, not an object")
    return value


def scalar(value: Any, reason: str, what: str) -> Scalar | None:
    """``value`` if it is a string or a number (not a bool), ``None`` if absent; else ParseError."""
    if value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool)):
        return value
    raise ParseError(reason, f"{what} is a JSON {type(value).__name__}")


def string(value: Any, limit: int = 8192) -> str | None:
    """A free-text value: strings are cut to ``limit``, numbers become text, anything else is dropped."""
    if isinstance(value, str):
        return value[:limit] if value else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def obj(container: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object, or an empty one when it is absent or not an object."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def plain(value: Any) -> Any:
    """A JSON-ready copy of a small scalar or list of scalars for ``Event.extra``, or ``None``."""
    if isinstance(value, str):
        return value[:1024]
    if isinstance(value, bool) or (isinstance(value, int) and abs(value) <= 2**63 - 1):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        items = [plain(v) for v in value[:32] if not isinstance(v, (list, dict))]
        return [v for v in items if v is not None]
    return None


def objects(lines: Sequence[str], limit: int = 20) -> list[dict[str, Any] | None]:
    """For sniffing: each of the first ``limit`` non-blank lines decoded as an object, or ``None``."""
    out: list[dict[str, Any] | None] = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        value: Any = None
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):
                value = None
        out.append(value if isinstance(value, dict) else None)
        if len(out) >= limit:
            break
    return out
