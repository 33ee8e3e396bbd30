"""Durations as people write them in settings, rules and commands: ``90s``, ``10m``, ``1h``, ``1d``, ``2w``.

Kept at the bottom of the layers because settings, rules, feeds and the command line all read durations."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | float) -> timedelta:
    """``90``, ``90s``, ``10m``, ``1h``, ``1d``, ``2w`` → a timedelta; ValueError with a hint otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        m = _DURATION.match(str(text))
        if not m:
            raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 10m, 1h, 1d, 2w)")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be longer than zero")
    return timedelta(seconds=seconds)
