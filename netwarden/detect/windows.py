"""Bounded, time-windowed state keyed by an entity, for stateful detectors.

Time is event time. Memory is bounded twice: keys idle longer than ``idle`` are dropped by ``prune``,
and at most ``max_keys`` keys are kept (the least recently seen goes first), so a spoofed flood of
source addresses cannot grow NetWarden without limit.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Generic, TypeVar

V = TypeVar("V")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_seconds(when: datetime) -> float:
    """Seconds since 1970 of an event time (naive times are UTC)."""
    return (when - _EPOCH).total_seconds() if when.tzinfo else (when.replace(tzinfo=timezone.utc) - _EPOCH
                                                                 ).total_seconds()


class KeyedState(Generic[V]):
    def __init__(self, factory: Callable[[], V], *, idle: timedelta, max_keys: int = 100_000) -> None:
        self.factory = factory
        self.idle = idle
        self.max_keys = max_keys
        self._items: OrderedDict[str, tuple[datetime, V]] = OrderedDict()
        self.evicted = 0  # keys dropped because the table was full (least recently seen first)
        self.expired = 0  # keys dropped by prune() because they were idle

    def get(self, key: str, now: datetime) -> V:
        items = self._items
        item = items.get(key)
        if item is None:
            value = self.factory()
            if len(items) >= self.max_keys:
                items.popitem(last=False)
                self.evicted += 1
            items[key] = (now, value)
            return value
        items.move_to_end(key)
        if item[0] is not now:  # (parsers share one time object among the lines of a second)
            items[key] = (now, item[1])
        return item[1]

    def peek(self, key: str) -> V | None:
        item = self._items.get(key)
        return None if item is None else item[1]

    def pop(self, key: str) -> V | None:
        item = self._items.pop(key, None)
        return None if item is None else item[1]

    def prune(self, now: datetime) -> int:
        cutoff = now - self.idle
        dropped = 0
        while self._items:
            key, (seen, _) = next(iter(self._items.items()))
            if seen >= cutoff:
                break
            del self._items[key]
            dropped += 1
        self.expired += dropped
        return dropped

    def items(self) -> Iterator[tuple[str, datetime, V]]:
        for key, (seen, value) in self._items.items():
            yield key, seen, value

    def put(self, key: str, seen: datetime, value: V) -> None:
        """For restoring saved state."""
        self._items[key] = (seen, value)
        self._items.move_to_end(key)

    def __len__(self) -> int:
        return len(self._items)


class SlidingWindow:
    """Timestamps (and an optional value each) within the last ``span``; bounded in length."""

    __slots__ = ("span", "limit", "times", "values")

    def __init__(self, span: timedelta, limit: int = 100_000) -> None:
        self.span = span
        self.limit = limit
        self.times: deque[datetime] = deque()
        self.values: deque[object] = deque()

    def add(self, when: datetime, value: object = None) -> None:
        self.times.append(when)
        self.values.append(value)
        if len(self.times) > self.limit:
            self.times.popleft()
            self.values.popleft()
        self.trim(when)

    def trim(self, now: datetime) -> None:
        cutoff = now - self.span
        while self.times and self.times[0] < cutoff:
            self.times.popleft()
            self.values.popleft()

    def __len__(self) -> int:
        return len(self.times)

    def distinct(self) -> set[object]:
        return set(self.values)
