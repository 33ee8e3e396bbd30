"""The rates the denial-of-service detector learns: per target and measure, the count of each minute with its
baseline (an exponentially weighted mean and spread that a flood does not teach it), and per client its own
request rate. Kept apart from the detector (``dos.py``), which decides from them what is a flood."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

DAY = 1440  # minutes


def minute_time(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, timezone.utc)


class Rate:
    """Per-minute count of one measure at one target, with its learned baseline."""

    __slots__ = ("minute", "count", "mean", "var", "minutes", "threshold", "alerted", "sources", "ports",
                 "other_sources", "first", "last", "streak")

    def __init__(self) -> None:
        self.minute = -1
        self.count = 0
        self.mean = 0.0
        self.var = 0.0
        self.minutes = 0  # minutes learned
        self.threshold = 0.0
        self.alerted = 0  # count at the last finding of this minute (0: none yet)
        self.sources: dict[str, int] = {}
        self.other_sources = 0
        self.ports: dict[int, int] = {}
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.streak = 0  # consecutive flooded minutes

    def roll(self, minute: int, alpha: float) -> None:
        """Close the current minute into the baseline (and the silent minutes since) and open ``minute``."""
        if self.minute >= 0:
            gap = minute - self.minute
            if gap > DAY or gap < -DAY:
                self.mean = self.var = 0.0
                self.minutes = 0
                self.streak = 0
            else:
                flooded = self.alerted > 0
                self._learn(self.count, alpha, flooded)
                silent = min(max(gap - 1, 0), DAY)
                if silent:  # silent minutes pull the mean down geometrically (and widen nothing)
                    decay = (1 - alpha) ** silent
                    self.var = self.var * decay + (1 - decay) * self.mean ** 2 * decay
                    self.mean *= decay
                    self.minutes += silent
                self.streak = self.streak + 1 if flooded and gap == 1 else 0
        self.minute = minute
        self.count = 0
        self.alerted = 0
        self.sources = {}
        self.other_sources = 0
        self.ports = {}
        self.first = self.last = None

    def _learn(self, x: float, alpha: float, flooded: bool) -> None:
        if flooded:
            if self.minutes == 0 and self.streak < 2:
                # a flood is not the first thing a baseline learns (the next flood would hide under it), unless
                # the rate has been there from the first three minutes on: then it is the service's own
                return
            alpha = alpha / 10  # a flood should not teach the baseline that floods are normal (much)
        if self.minutes == 0:
            self.mean, self.var = x, 0.0
        else:
            diff = x - self.mean
            incr = alpha * diff
            self.mean += incr
            self.var = (1 - alpha) * (self.var + diff * incr)
        self.minutes += 1

    def to_json(self) -> list[Any]:
        return [self.minute, self.count, self.mean, self.var, self.minutes, self.streak]

    @classmethod
    def from_json(cls, d: list[Any]) -> Rate:
        r = cls()
        r.minute, r.count, r.mean, r.var, r.minutes, r.streak = (int(d[0]), int(d[1]), float(d[2]), float(d[3]),
                                                                 int(d[4]), int(d[5]))
        return r


class Client:
    """One source's own per-minute request rate (a faster baseline than the site's)."""

    __slots__ = ("minute", "count", "prev", "mean", "minutes", "agent", "alerted_minute", "alerted_level")

    def __init__(self) -> None:
        self.minute = -1
        self.count = 0
        self.prev = 0  # the previous minute's count (for a sliding one-minute estimate)
        self.alerted_minute = -10
        self.alerted_level = 0.0
        self.mean = 0.0
        self.minutes = 0
        self.agent: str | None = None
