"""User threshold rules: "count of events matching X, by a field, over a window, reaching N" — written in
the configuration file, no code::

    [[detect.threshold.rules]]
    name = "ssh_failures"
    description = "many failed SSH logins from one address"
    where = { source_kind = "ssh", outcome = "failure" }   # field = value, or a list of values
    by = "src_ip"
    window = "2m"
    count = 10
    severity = "high"
    tags = ["attack.credential_access", "attack.t1110"]

Fields are the stored event fields (``src_ip``, ``dst_port``, ``url``, ``user``, ``http_status`` ...); a
text value matches case-insensitively, a value ending in ``*`` matches as a prefix. The alert is
``threshold/<name>`` from the ``by`` value, once per window per value.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.windows import KeyedState
from netwarden.durations import parse_duration
from netwarden.records import Event, Factor, Finding, Severity
from netwarden.settings_base import DurationText

EVENT_FIELDS = {f.name for f in dataclasses.fields(Event)} - {"extra", "raw", "timestamp"}
Scalar = str | int | float | bool


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_.-]{1,32}$")
    description: str = ""
    where: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    by: str = "src_ip"
    window: DurationText = "5m"
    count: int = Field(ge=2, le=1_000_000)
    severity: Severity = Severity.MEDIUM
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fields(self) -> Rule:
        unknown = sorted({*self.where, self.by} - EVENT_FIELDS)
        if unknown:
            raise ValueError(f"rule {self.name}: unknown event field(s) {', '.join(unknown)} "
                             f"(use {', '.join(sorted(EVENT_FIELDS))})")
        return self

    def matches(self, event: Event) -> bool:
        for name, wanted in self.where.items():
            value = getattr(event, name)
            if value is None:
                return False
            options = wanted if isinstance(wanted, list) else [wanted]
            if not any(_equal(value, w) for w in options):
                return False
        return True


def _equal(value: Any, wanted: Scalar) -> bool:
    if isinstance(wanted, str):
        text, want = str(value).lower(), wanted.lower()
        return text.startswith(want[:-1]) if want.endswith("*") else text == want
    return value == wanted


@register
class ThresholdRules(Detector):
    name = "threshold"
    description = "user threshold rules: count of matching events by a field over a window"

    class Settings(DetectorSettings):
        rules: list[Rule] = Field(default_factory=list)

        @field_validator("rules")
        @classmethod
        def _unique(cls, value: list[Rule]) -> list[Rule]:
            names = [r.name for r in value]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"rule names must be unique: {', '.join(twice)}")
            return value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._windows = {r.name: parse_duration(r.window) for r in self.settings.rules}
        self._seen = {r.name: KeyedState(_Counter, idle=self._windows[r.name] * 2, max_keys=50_000)
                      for r in self.settings.rules}

    def process(self, events: Sequence[Event]) -> list[Finding]:
        out = []
        for rule in self.settings.rules:
            window, state = self._windows[rule.name], self._seen[rule.name]
            for e in events:
                if not rule.matches(e):
                    continue
                key = getattr(e, rule.by)
                if key is None:
                    continue
                counter = state.get(str(key), e.timestamp)
                if counter.add(e, window, rule.count):
                    out.append(self._finding(rule, str(key), counter))
        return out

    def _finding(self, rule: Rule, key: str, counter: _Counter) -> Finding:
        events = list(counter.events)
        source = key if rule.by in ("src_ip", "dst_ip") else events[-1].src_ip
        where = ", ".join(f"{k}={v}" for k, v in rule.where.items()) or "any event"
        return self.finding(
            kind="threshold", subkind=rule.name, severity=rule.severity, source=source,
            target=events[-1].dst_ip, count=len(events), signature=f"threshold:{rule.name}",
            factors=[Factor("rule", 0.9, f"{len(events)} events ({where}) by {rule.by}={key} "
                                         f"within {rule.window} (rule {rule.name}: {rule.count})")],
            recommendation=rule.description or f"look at what {rule.by}={key} did",
            first_seen=events[0].timestamp, last_seen=events[-1].timestamp, events=events[-3:],
            evidence={"rule": rule.name, "title": rule.description or rule.name, "by": rule.by, "key": key,
                      "count": len(events), "window": rule.window, "threshold": rule.count, "tags": rule.tags})

    def carry_over(self, old: ThresholdRules) -> None:
        """Settings changed while running: a rule that still counts the same events (same ``where`` and
        ``by``) keeps what it counted, so an attack in progress is not forgotten."""
        before = {r.name: r for r in old.settings.rules}
        for rule in self.settings.rules:
            was = before.get(rule.name)
            if was is not None and (was.where, was.by) == (rule.where, rule.by):
                self._seen[rule.name] = old._seen[rule.name]

    def prune(self, now: datetime) -> None:
        for state in self._seen.values():
            state.prune(now)


class _Counter:
    """The matching events of one key within the window, and when it last reported (once per window)."""

    def __init__(self) -> None:
        self.events: deque[Event] = deque()
        self.reported: datetime | None = None

    def add(self, event: Event, window: timedelta, count: int) -> bool:
        self.events.append(event)
        while self.events and self.events[0].timestamp <= event.timestamp - window:
            self.events.popleft()
        while len(self.events) > count * 2:  # memory stays bounded on a flood
            self.events.popleft()
        if len(self.events) >= count and (self.reported is None or event.timestamp - self.reported >= window):
            self.reported = event.timestamp
            return True
        return False


