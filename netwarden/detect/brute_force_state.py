"""The state brute force keeps per source (``netwarden.detect.brute_force``): its attempts in time, the user
names and targets it tried, what was reported; every part bounded. Also the sshd codes and HTTP answers that count."""

from __future__ import annotations

import re
from collections import deque
from datetime import datetime, timezone
from typing import Any

# sshd codes (netwarden.parse.sshd) that are one failed guess
SSH_FAILED = frozenset({"failed_password", "failed_keyboard_interactive"})
SSH_PAM = frozenset({"pam_auth_failure"})
SSH_INVALID = frozenset({"invalid_user", "user_not_allowed", "root_login_refused", "pam_user_unknown"})
SSH_MAXED = frozenset({"too_many_failures", "max_auth_attempts", "pam_max_retries"})
SSH_PASSWORD_SUCCESS = ("accepted_password", "accepted_keyboard_interactive")
PROVEN = frozenset("fpihs")  # tallies of failures the log proves (c: unproven, ok: successes)
LOGIN_FAILED = frozenset({200, 401, 403, 429})  # a login POST answered with the form again, refused, throttled

# login paths (the path only, case-insensitive): the common form, API and CMS login end points
LOGIN_PATH = re.compile(
    r"(?:log[-_]?[io]n|sign[-_]?in|auth(?:enticate|orize)?|session|token|wp-login\.php|xmlrpc\.php"
    r"|j_security_check|/admin(?:istrator)?(?:/(?:index\.php)?)?$|/manager/html|phpmyadmin)",
    re.IGNORECASE)
MAX_TEXT = 256  # characters of a user name or path kept as evidence
MAX_USERS = 200  # distinct user names remembered per source (the count goes on beyond, as "at least")
EVIDENCE_USERS = 20


def epoch(t: datetime) -> float:
    return t.timestamp() if t.tzinfo is not None else t.replace(tzinfo=timezone.utc).timestamp()


def when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def count_text(v: float) -> str:
    return f"{int(v):,}"


class Source:
    """What one source did: attempts in the window, users tried, targets; everything bounded."""

    __slots__ = ("times", "users", "invalid", "users_overflow", "targets", "first", "last", "total",
                 "reported_total", "reported_at", "alerted", "fail_status", "paths", "success_reported",
                 "maxed", "methods", "agents", "short_conns", "cum")

    def __init__(self) -> None:
        self.times: deque[tuple[float, int, str]] = deque()  # (time, n, tally) tally: f p i h s
        self.users: dict[str, int] = {}
        self.invalid: set[str] = set()
        self.users_overflow = 0
        self.targets: dict[str, int] = {}
        self.first = 0.0
        self.last = 0.0
        self.total = 0  # attempts since first seen (largest tally)
        self.reported_total = 0
        self.reported_at = 0.0
        self.alerted = False
        self.fail_status: dict[int, int] = {}  # HTTP status -> count of failed logins with it
        self.paths: dict[str, int] = {}
        self.success_reported = False
        self.maxed = 0  # "too many authentication failures" disconnects
        self.methods: dict[str, int] = {}
        self.agents: dict[str, int] = {}
        self.short_conns = 0
        self.cum: dict[str, int] = {}  # tally -> attempts since first seen

    def to_json(self) -> dict[str, Any]:
        return {"times": [list(t) for t in self.times], "users": self.users, "invalid": sorted(self.invalid),
                "users_overflow": self.users_overflow, "targets": self.targets, "first": self.first,
                "last": self.last, "total": self.total, "reported_total": self.reported_total,
                "reported_at": self.reported_at, "alerted": self.alerted,
                "fail_status": {str(k): v for k, v in self.fail_status.items()}, "paths": self.paths,
                "success_reported": self.success_reported, "maxed": self.maxed, "methods": self.methods,
                "agents": self.agents, "short_conns": self.short_conns, "cum": self.cum}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Source:
        s = cls()
        s.times = deque((float(t), int(n), str(k)) for t, n, k in d.get("times", []))
        s.users = {str(k): int(v) for k, v in dict(d.get("users", {})).items()}
        s.invalid = set(map(str, d.get("invalid", [])))
        s.users_overflow = int(d.get("users_overflow", 0))
        s.targets = {str(k): int(v) for k, v in dict(d.get("targets", {})).items()}
        s.first, s.last = float(d.get("first", 0.0)), float(d.get("last", 0.0))
        s.total, s.reported_total = int(d.get("total", 0)), int(d.get("reported_total", 0))
        s.reported_at = float(d.get("reported_at", 0.0))
        s.alerted = bool(d.get("alerted", False))
        s.fail_status = {int(k): int(v) for k, v in dict(d.get("fail_status", {})).items()}
        s.paths = {str(k): int(v) for k, v in dict(d.get("paths", {})).items()}
        s.success_reported = bool(d.get("success_reported", False))
        s.maxed = int(d.get("maxed", 0))
        s.methods = {str(k): int(v) for k, v in dict(d.get("methods", {})).items()}
        s.agents = {str(k): int(v) for k, v in dict(d.get("agents", {})).items()}
        s.short_conns = int(d.get("short_conns", 0))
        s.cum = {str(k): int(v) for k, v in dict(d.get("cum", {})).items()}
        return s

    # -- recording ---------------------------------------------------------------------------------

    def add(self, t: float, n: int, tally: str, limit: int) -> None:
        if not self.first or t < self.first:
            self.first = t
        if t > self.last:
            self.last = t
        self.times.append((t, n, tally))
        self.cum[tally] = self.cum.get(tally, 0) + n
        if len(self.times) > limit:
            self.times.popleft()

    def user(self, name: str | None, invalid: bool = False) -> None:
        if not name:
            return
        name = name[:MAX_TEXT]
        if name in self.users:
            self.users[name] += 1
        elif len(self.users) < MAX_USERS:
            self.users[name] = 1
        else:
            self.users_overflow += 1
        if invalid and len(self.invalid) < MAX_USERS:
            self.invalid.add(name)

    @staticmethod
    def bump(d: dict, key: Any, limit: int = 20) -> None:
        if key in d:
            d[key] += 1
        elif len(d) < limit:
            d[key] = 1

    def tallies(self, since: float) -> dict[str, int]:
        out: dict[str, int] = {}
        for t, n, k in self.times:
            if t >= since:
                out[k] = out.get(k, 0) + n
        return out

    def attempts(self, since: float, unproven_factor: int = 5, success_discount: int = 3) -> int:
        """Attempts since ``since``: the largest of the tallies of proven failures (one guess writes several
        lines), plus unproven ones (``c``: a 401 without a user name, a login without its answer) at
        ``1/unproven_factor``, minus ``success_discount`` per success seen (``ok``: people behind one address
        get in; a guesser does not)."""
        tallies = self.tallies(since)
        proven = max((v for k, v in tallies.items() if k in PROVEN), default=0)
        unproven = tallies.get("c", 0) // max(unproven_factor, 1)
        return max(proven + unproven - success_discount * tallies.get("ok", 0), 0)

    def machine_paced(self, since: float, interval: float) -> bool:
        """True when the failures came faster than a person types: the median gap between them is at most
        ``interval`` seconds (a tool with parallel tasks; a person retypes in several seconds at best)."""
        tallies = self.tallies(since)
        proven = {k: v for k, v in tallies.items() if k in PROVEN}
        if not proven:
            return False
        tally = max(proven, key=lambda k: proven[k])
        times = sorted(t for t, _, k in self.times if k == tally and t >= since)
        if len(times) < 4:
            return False
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        return gaps[len(gaps) // 2] <= interval

    def trim(self, before: float) -> None:
        times = self.times
        while times and times[0][0] < before:
            times.popleft()
