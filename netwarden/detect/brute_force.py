"""Brute force: repeated authentication failures from one source, and a success that follows them.

What counts as one failed attempt, by source:

- **SSH logs** (``auth`` events from the sshd parser). One password guess writes several lines
  (``Invalid user``, PAM ``authentication failure``, ``Failed password``, ``Received disconnect``), so lines
  are not attempts. Three tallies are kept per source — sshd's ``Failed password/keyboard-interactive``
  lines, PAM ``authentication failure`` lines (old systems write only these) and ``Invalid user`` lines
  (scanners that hang up before guessing write only these) — and the attempts are the largest of the three.
  ``message repeated N times`` counts N. ``Failed publickey`` for an existing account is a client offering
  the wrong keys from its agent, not a guess, and is not counted; ``Failed none`` is the method probe.
- **HTTP logins**: only what the log proves is a failed credential: a ``POST`` to a login path (``/login``,
  ``/wp-login.php``, ``/xmlrpc.php``, ``/user/login``, ``/api/auth`` ...) answered with the form again (200),
  401, 403 or 429, and a 401 that carries a user name (basic auth: the log names the user only when
  credentials were sent). Where the log cannot tell — a 401 without a user name (every browser's first
  request to a protected area is answered so: the challenge), a login POST answered with a redirect that may
  be the way in, a capture without the answer — a request counts as 1/``http_unproven_factor`` of an attempt.
  Viewing the login page and static assets count for nothing; the redirect after failed submissions (the
  answer changed) is a success, and each success from an address offsets ``success_discount``
  failures: people behind one address (a carrier's NAT) get in, a guesser does not.
- **SSH without logs** (flows from captures, NetFlow, Zeek, Argus): many short, small connections that
  reached the SSH protocol exchange (a banner, or enough bytes to get past the TCP handshake) from one source,
  to port 22/2222 or any port where an SSH banner was seen. Each attempt of ``nmap --script ssh-brute`` or
  hydra is one such connection of a few kB lasting seconds; a person's session is one long connection.
  When the server's log is read too, each ``Accepted`` login from the source offsets
  ``success_discount`` of them: an Ansible run or a loop of scp opens many short connections that all log in.

A finding is reported once a source passes ``min_failures`` attempts within ``window`` (default 10 in 10
minutes, as fail2ban's ``maxretry=5/findtime=10m`` doubled, so that a person mistyping a password a few times
never alerts; SSH: ``success_min_failures``, 5, when they come faster than a person types, see
``machine_interval``), or ``slow_failures`` within ``slow_window`` (low-and-slow guessing), or ``min_users`` distinct
user names with at least ``min_users_failures`` attempts (credential stuffing / user enumeration). Repeats
from one source update one alert (the engine merges by kind, subkind and source).

A **success after failures** (``Accepted password`` after ``success_min_failures`` password failures, a
2xx/3xx login answer that differs from the answers it kept getting) is its own critical finding (subkind
``success_after_failures``) only when the failures were guessing, not typos. SSH: one of many attempts
(``min_failures`` in ``window``), a machine's pace (median gap between failures at most ``machine_interval``:
a person retypes in several seconds, hydra's tasks in fractions of one — so 5 failures on root at that pace
are enough), many user names, names that do not exist, or several names from guessing lists (root, admin,
oracle ...). HTTP: the failures must have passed the brute-force threshold themselves. One to three typos and
then ``Accepted`` is a person; so is a browser's challenge followed by the right password.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from netwarden.detect import scoring
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.windows import KeyedState
from netwarden.records import Event, Factor, Finding, Severity
from netwarden.text import plural

# sshd codes (netwarden.parse.sshd) that are one failed guess
_SSH_FAILED = frozenset({"failed_password", "failed_keyboard_interactive"})
_SSH_PAM = frozenset({"pam_auth_failure"})
_SSH_INVALID = frozenset({"invalid_user", "user_not_allowed", "root_login_refused", "pam_user_unknown"})
_SSH_MAXED = frozenset({"too_many_failures", "max_auth_attempts", "pam_max_retries"})
_SSH_PASSWORD_SUCCESS = ("accepted_password", "accepted_keyboard_interactive")
_PROVEN = frozenset("fpihs")  # tallies of failures the log proves (c: unproven, ok: successes)
_LOGIN_FAILED = frozenset({200, 401, 403, 429})  # a login POST answered with the form again, refused, throttled

# login paths (the path only, case-insensitive): the common form, API and CMS login end points
_LOGIN_PATH = re.compile(
    r"(?:log[-_]?[io]n|sign[-_]?in|auth(?:enticate|orize)?|session|token|wp-login\.php|xmlrpc\.php"
    r"|j_security_check|/admin(?:istrator)?(?:/(?:index\.php)?)?$|/manager/html|phpmyadmin)",
    re.IGNORECASE)
_MAX_TEXT = 256  # characters of a user name or path kept as evidence
_MAX_USERS = 200  # distinct user names remembered per source (the count goes on beyond, as "at least")
_EVIDENCE_USERS = 20


def _epoch(t: datetime) -> float:
    return t.timestamp() if t.tzinfo is not None else t.replace(tzinfo=timezone.utc).timestamp()


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _n(v: float) -> str:
    return f"{int(v):,}"


class _Source:
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
    def from_json(cls, d: dict[str, Any]) -> _Source:
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
        name = name[:_MAX_TEXT]
        if name in self.users:
            self.users[name] += 1
        elif len(self.users) < _MAX_USERS:
            self.users[name] = 1
        else:
            self.users_overflow += 1
        if invalid and len(self.invalid) < _MAX_USERS:
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
        proven = max((v for k, v in tallies.items() if k in _PROVEN), default=0)
        unproven = tallies.get("c", 0) // max(unproven_factor, 1)
        return max(proven + unproven - success_discount * tallies.get("ok", 0), 0)

    def machine_paced(self, since: float, interval: float) -> bool:
        """True when the failures came faster than a person types: the median gap between them is at most
        ``interval`` seconds (a tool with parallel tasks; a person retypes in several seconds at best)."""
        tallies = self.tallies(since)
        proven = {k: v for k, v in tallies.items() if k in _PROVEN}
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


@register
class BruteForce(Detector):
    name = "brute_force"
    description = "repeated authentication failures (SSH, PAM, HTTP logins, SSH connection floods) and a success after them"

    class Settings(DetectorSettings):
        window: float = 600.0  # seconds: the fast window (fail2ban's findtime)
        min_failures: int = 10  # attempts in ``window``: twice fail2ban's maxretry, never a few typos
        slow_window: float = 3600.0  # seconds: the slow window (low-and-slow guessing)
        slow_failures: int = 20
        min_users: int = 5  # distinct user names from one source: nobody has five accounts to mistype
        min_users_failures: int = 5
        http_min_failures: int = 20  # login submissions / 401s in ``window`` (pages re-ask; be more lenient)
        success_min_failures: int = 5  # password failures before an accepted password that count as a breach
        flow_min_connections: int = 15  # short SSH connections from one source in ``window``
        flow_max_bytes: int = 16_000  # bytes each way of one "short" attempt (kex + a few tries ≈ 2-6 kB)
        flow_max_duration: float = 30.0  # seconds (LoginGraceTime is 120 s, a tool's attempt a few s)
        ssh_ports: tuple[int, ...] = (22, 2222, 22222)
        # guesses from the internet that only target these well-known accounts need fewer attempts: nobody
        # logs in to "root" or "oracle" from outside by typing a password (and sshd should not let them)
        default_accounts: tuple[str, ...] = ("root", "admin", "administrator", "test", "guest", "oracle", "ubuntu",
                                             "pi", "user", "support", "ftp", "postgres", "mysql")
        default_account_failures: int = 6
        # median gap between failures (s) at or below which they are a tool's: sshd waits ~2 s after a wrong
        # password and a person then retypes; hydra's parallel tasks come far faster
        machine_interval: float = 2.5
        http_unproven_factor: int = 5  # 401s without a user name (the browser's challenge) count 1/5 each
        success_discount: int = 3  # each successful login from the address offsets this many failures
        max_sources: int = 50_000
        max_events_per_source: int = 5_000

    def __init__(self, settings: Any = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        s = self.settings
        idle = timedelta(seconds=max(s.window, s.slow_window) * 2)
        self.ssh: KeyedState[_Source] = KeyedState(_Source, idle=idle, max_keys=s.max_sources)
        self.http: KeyedState[_Source] = KeyedState(_Source, idle=idle, max_keys=s.max_sources)
        self.flows: KeyedState[_Source] = KeyedState(_Source, idle=idle, max_keys=s.max_sources)
        self._ssh_ports = frozenset(s.ssh_ports)
        self._default_accounts = frozenset(u.lower() for u in s.default_accounts)
        self._sshd_failed_lines: set[str] = set()  # observers whose sshd logs "Failed password" lines

    # -- the batch ---------------------------------------------------------------------------------

    def process(self, events: Sequence[Event]) -> list[Finding]:
        out: list[Finding] = []
        touched: dict[tuple[str, str], tuple[_Source, list[Event]]] = {}
        limit = self.settings.max_events_per_source
        ssh_ports = self._ssh_ports
        for e in events:
            ts = e.timestamp
            if ts is None:
                continue
            extra = e.extra
            code = extra.get("ssh_event") if extra else None
            if code is not None:
                self._ssh_event(e, code, ts, limit, touched, out)
            elif e.http_status is not None or e.http_method is not None:
                self._http_event(e, ts, limit, touched, out)
            elif e.transport == "tcp" and (e.dst_port in ssh_ports or e.app_protocol == "ssh"):
                self._flow_event(e, ts, limit, touched)
        for (family, key), (src, samples) in touched.items():
            finding = self._evaluate(family, key, src, samples)
            if finding is not None:
                out.append(finding)
        return out

    # -- SSH logs ----------------------------------------------------------------------------------

    def _ssh_event(self, e: Event, code: str, ts: datetime, limit: int,
                   touched: dict, out: list[Finding]) -> None:
        key = e.src_ip or e.extra.get("rhost")
        if not key:
            return  # "input_userauth_request", "check pass": no address, the same attempt is logged with one
        if code in _SSH_FAILED or code in _SSH_PAM or code in _SSH_INVALID or code == "failed_publickey":
            invalid = bool(e.extra.get("invalid_user")) or code in ("invalid_user", "pam_user_unknown")
            if code == "failed_publickey" and not invalid:
                return  # the wrong keys offered by an agent, not a guess
            if code in _SSH_PAM and (e.extra.get("count") is not None or e.observer in self._sshd_failed_lines):
                # "PAM 5 more authentication failures" sums up lines already counted; and a server whose sshd
                # writes "Failed password" lines repeats each attempt in a PAM line (often with the client's
                # DNS name instead of its address): only old sshd(pam_unix) logs need the PAM lines
                return
            if code in _SSH_FAILED and e.observer and e.observer not in self._sshd_failed_lines \
                    and len(self._sshd_failed_lines) < 10_000:
                self._sshd_failed_lines.add(e.observer)
            n = e.extra.get("repeat_count") or 1
            n = n if isinstance(n, int) and 0 < n < 1_000_000 else 1
            tally = "p" if code in _SSH_PAM else ("i" if code in _SSH_INVALID else "f")
            src = self.ssh.get(key, ts)
            src.add(_epoch(ts), n, tally, limit)
            if tally != "p" or not src.users:  # PAM repeats the user of the sshd line (if there is one)
                src.user(e.user, invalid)
            target = e.observer or e.dst_ip
            if target:
                src.bump(src.targets, target[:_MAX_TEXT], 5)
            if tally == "f":
                src.bump(src.methods, str(e.extra.get("auth_method", code))[:32], 5)
            entry = touched.setdefault(("ssh", key), (src, []))
            if len(entry[1]) < 3:
                entry[1].append(e)
        elif code in _SSH_MAXED:
            src = self.ssh.peek(key)
            if src is not None:
                src.maxed += 1
        elif e.outcome == "success" and code.startswith("accepted_"):
            flows = self.flows.get(key, ts)  # its short SSH connections were logins that worked (Ansible, scp)
            flows.add(_epoch(ts), 1, "ok", limit)
            src = self.ssh.peek(key)
            if src is not None:
                finding = self._ssh_success(e, key, code, ts, src)
                if finding is not None:
                    out.append(finding)

    def _ssh_success(self, e: Event, key: str, code: str, ts: datetime, src: _Source) -> Finding | None:
        s = self.settings
        now = _epoch(ts)
        src.trim(now - s.slow_window)
        failures = self._count(src, now - s.slow_window)
        by_password = code in _SSH_PASSWORD_SUCCESS
        # a password accepted after guessing is a breach; a key accepted after many guesses is still one
        # worth an administrator's look (a stolen key tried after the passwords), but needs a real attack
        needed = s.success_min_failures if by_password else s.min_failures
        if failures < needed:
            return None  # a few typos, then right: a person
        signs = self._guessing(src, now)
        if not signs:
            return None  # failures at a person's pace, on the few accounts people have: typos, not guessing
        user = (e.user or "?")[:_MAX_TEXT]
        tried = src.users.get(user, 0)
        factors = [
            Factor("success_after_failures", 0.9,
                   f"login accepted for {user!r} ({e.extra.get('auth_method', code)}) after {_n(failures)} "
                   f"failed attempts from {key} in the last {int(s.slow_window // 60)} min"),
            Factor("failures", scoring.saturating(failures, 20), f"{_n(failures)} failed attempts"),
            *signs,
        ]
        if tried:
            factors.append(Factor("user_guessed", 0.6, f"{user!r} was among the users it guessed ({tried} tries)"))
        target = e.observer or e.dst_ip or next(iter(src.targets), None)
        src.success_reported = True
        return self.finding(
            kind="brute_force", subkind="success_after_failures", severity=Severity.CRITICAL, factors=factors,
            recommendation=(f"Treat the account {user!r} on {target or 'the server'} as compromised: lock it and "
                            f"change its password, kill its sessions (who; pkill -u {user}), look for what it did "
                            f"since {ts:%Y-%m-%d %H:%M:%S} UTC (last, ~/.bash_history, new keys in "
                            f"~/.ssh/authorized_keys, cron), and block {key} at the firewall."),
            first_seen=_when(src.first) if src.first else ts, last_seen=ts, source=key, target=target,
            count=1, signature=f"ssh:success:{user}",
            evidence={"user": user, "method": e.extra.get("auth_method"), "failures": failures,
                      "users_tried": list(src.users)[:_EVIDENCE_USERS], "target": target,
                      "accepted_at": ts.isoformat()},
            events=[e])

    def _guessing(self, src: _Source, now: float) -> list[Factor]:
        """What makes a source's SSH failures guessing rather than typos (empty: they look like typos)."""
        s = self.settings
        signs = []
        fast = self._count(src, now - s.window)
        if fast >= s.min_failures:
            signs.append(Factor("many_attempts", scoring.saturating(fast, 20, 0.8),
                                f"{_n(fast)} failures in {int(s.window // 60)} min"))
        if src.machine_paced(now - s.slow_window, s.machine_interval):
            signs.append(Factor("machine_rate", 0.6, f"failures less than {s.machine_interval:g} s apart (median): "
                                                     "faster than a person retypes a password"))
        users = len(src.users) + src.users_overflow
        if users >= s.min_users:
            signs.append(Factor("distinct_users", scoring.saturating(users, 5, 0.8),
                                f"{plural(users, 'distinct user name')} tried"))
        if src.invalid:
            signs.append(Factor("invalid_users", scoring.saturating(len(src.invalid), 3, 0.7),
                                f"{plural(len(src.invalid), 'user name')} that "
                                f"{'does' if len(src.invalid) == 1 else 'do'} not exist on the server"))
        common = sorted(u for u in src.users if u.lower() in self._default_accounts)
        if len(common) >= 2:
            signs.append(Factor("dictionary_users", 0.5,
                                f"common account names from guessing lists: {', '.join(common[:5])}"))
        return signs

    # -- HTTP logins -------------------------------------------------------------------------------

    def _http_event(self, e: Event, ts: datetime, limit: int, touched: dict, out: list[Finding]) -> None:
        """Classify one request: a failed credential (``h``), an unproven one (``c``), a success, or nothing.

        A failure is a credential *submission* answered as one: a POST to a login path answered with the form
        again (200), 401, 403 or 429, or a 401 that carries a user name (basic auth: the log shows the name
        only when credentials were sent). A 401 without a user name is the browser's challenge or a log that
        cannot tell, so it counts as unproven. Viewing the login page, static assets and the redirect after
        a successful login (3xx) are not failures; the redirect is a success."""
        status = e.http_status
        key = e.src_ip
        if key is None:
            return
        method = e.http_method
        if status is None and method != "POST":
            return
        url = e.url or ""
        path = url.split("?", 1)[0][:_MAX_TEXT * 4]
        login = _LOGIN_PATH.search(path) is not None
        user = e.user if e.user and e.user != "-" else None
        tally = None
        if method == "POST" and login:
            if status is None:
                tally = "c"  # a capture without the answer
            elif status in _LOGIN_FAILED:
                tally = "h"
            elif 300 <= status < 400:
                src = self.http.peek(key)
                if src is not None and any(200 <= k < 300 or k in (401, 403) for k in src.fail_status):
                    self._http_success_seen(e, key, ts, path, limit, out)  # the answer changed: in
                    return
                tally = "c"  # a redirect, but to where? (some sites redirect wrong passwords back to the form)
            else:
                return  # 400/404/5xx: a broken form or server, not an answer about the credentials
        elif status == 401:
            tally = "h" if user else "c"
        elif status == 403 and login:
            tally = "h"
        elif status is not None and 200 <= status < 400:
            src = self.http.peek(key)
            if src is not None and (path[:_MAX_TEXT] in src.paths or user in src.users):
                self._http_success_seen(e, key, ts, path, limit, out)  # in, where it was refused before
            return
        if tally is None:
            return
        src = self.http.get(key, ts)
        src.add(_epoch(ts), 1, tally, limit)
        src.user(user)
        if status is not None:
            src.bump(src.fail_status, status)
        src.bump(src.paths, path[:_MAX_TEXT])
        if e.user_agent:
            src.bump(src.agents, e.user_agent[:_MAX_TEXT], 5)
        target = e.dst_ip or e.extra.get("host") or e.observer
        if target:
            src.bump(src.targets, str(target)[:_MAX_TEXT], 5)
        entry = touched.setdefault(("http", key), (src, []))
        if len(entry[1]) < 3:
            entry[1].append(e)

    def _http_success_seen(self, e: Event, key: str, ts: datetime, path: str, limit: int,
                           out: list[Finding]) -> None:
        src = self.http.peek(key)
        if src is None:
            return
        if not src.success_reported:
            finding = self._http_success(e, key, ts, src)
            if finding is not None:
                out.append(finding)
                return
        src.add(_epoch(ts), 1, "ok", limit)  # someone behind this address got in: fewer of its failures are guesses

    def _http_success(self, e: Event, key: str, ts: datetime, src: _Source) -> Finding | None:
        """A 2xx/3xx where this source kept failing: on a path that answered it 401, or a login answer
        different from the ones its submissions kept getting (WordPress: 200 form again, then 302 in)."""
        s = self.settings
        path = (e.url or "").split("?", 1)[0][:_MAX_TEXT]
        if path not in src.paths:
            return None
        status = e.http_status or 0
        if status in src.fail_status and 401 not in src.fail_status:
            return None  # the same answer as the failures: nothing changed
        if e.http_method != "POST" and 401 not in src.fail_status:
            return None
        now = _epoch(ts)
        failures = self._count(src, now - s.slow_window)
        if not self._hit("http", "", src, now):
            return None  # a few failures, then in: a person (or several behind one address)
        src.success_reported = True
        user = (e.user or "")[:_MAX_TEXT]
        target = e.dst_ip or e.extra.get("host") or e.observer or next(iter(src.targets), None)
        statuses = ", ".join(f"{k}×{v}" for k, v in sorted(src.fail_status.items()))
        return self.finding(
            kind="brute_force", subkind="success_after_failures", severity=Severity.CRITICAL,
            factors=[Factor("success_after_failures", 0.85,
                            f"{e.http_method} {path} answered {status} after {_n(failures)} failed logins "
                            f"({statuses}) from {key}"),
                     Factor("failures", scoring.saturating(failures, 40), f"{_n(failures)} failed logins")],
            recommendation=(f"Assume a login on {target or 'the site'} succeeded for {key}: find which account "
                            f"({'user ' + repr(user) + ', ' if user else ''}the application's log at "
                            f"{ts:%Y-%m-%d %H:%M:%S} UTC), reset its password and sessions, review what it did, "
                            f"and block {key}."),
            first_seen=_when(src.first) if src.first else ts, last_seen=ts, source=key,
            target=str(target) if target else None, count=1, signature=f"http:success:{path}",
            evidence={"path": path, "status": status, "failures": failures, "failure_statuses": src.fail_status,
                      "users_tried": list(src.users)[:_EVIDENCE_USERS], "user": user or None},
            events=[e])

    # -- SSH connection floods from flows ----------------------------------------------------------

    def _flow_event(self, e: Event, ts: datetime, limit: int, touched: dict) -> None:
        key = e.src_ip
        if key is None:
            return
        s = self.settings
        extra = e.extra
        banner = e.app_protocol == "ssh" or "ssh_client" in extra or "ssh_server" in extra
        out_b, in_b = e.bytes_out or 0, e.bytes_in or 0
        # it must have reached the protocol: a banner, or data both ways beyond the handshake (a SYN probe
        # or a refused port is a scan, not a login attempt)
        if not banner and (out_b < 300 or in_b < 300 or (e.packets_out or 0) < 4):
            return
        if out_b > s.flow_max_bytes or in_b > s.flow_max_bytes * 2:
            return  # a session that did something
        if e.duration is not None and e.duration > s.flow_max_duration:
            return
        src = self.flows.get(key, ts)
        src.add(_epoch(ts), 1, "s", limit)
        target = f"{e.dst_ip}:{e.dst_port}" if e.dst_port is not None else (e.dst_ip or "?")
        src.bump(src.targets, target, 10)
        client = extra.get("ssh_client")
        if client:
            src.bump(src.agents, str(client)[:_MAX_TEXT], 5)
        entry = touched.setdefault(("flow", key), (src, []))
        if len(entry[1]) < 3:
            entry[1].append(e)

    # -- deciding and explaining -------------------------------------------------------------------

    def _count(self, src: _Source, since: float) -> int:
        s = self.settings
        return src.attempts(since, s.http_unproven_factor, s.success_discount)

    def _hit(self, family: str, key: str, src: _Source, now: float) -> bool:
        """Whether a source's failures (up to ``now``) are enough to call it guessing."""
        s = self.settings
        fast = self._count(src, now - s.window)
        slow = self._count(src, now - s.slow_window)
        users = len(src.users) + src.users_overflow
        if family == "flow":
            threshold = s.flow_min_connections
        elif family == "http":
            threshold = s.http_min_failures
        else:
            threshold = s.min_failures
            if src.users and key and not self.assets.is_inside(key) \
                    and all(u.lower() in self._default_accounts for u in src.users):
                threshold = min(threshold, s.default_account_failures)
        slow_threshold = max(s.slow_failures, threshold * 2)
        if family == "ssh" and fast >= s.success_min_failures and fast < threshold \
                and src.machine_paced(now - s.window, s.machine_interval):
            return True  # failures faster than anyone types: a tool, even on one account and few passwords
        return (fast >= threshold or slow >= slow_threshold
                or (family != "flow" and users >= s.min_users and slow >= s.min_users_failures))

    def _evaluate(self, family: str, key: str, src: _Source, samples: list[Event]) -> Finding | None:
        s = self.settings
        now = src.last
        src.trim(now - max(s.window, s.slow_window))
        fast = self._count(src, now - s.window)
        slow = self._count(src, now - s.slow_window)
        users = len(src.users) + src.users_overflow
        hit = self._hit(family, key, src, now)
        attempts_total = max(max((v for k, v in src.cum.items() if k in _PROVEN), default=0), slow)
        src.total = attempts_total
        if not hit and not src.alerted:
            return None
        new = attempts_total - src.reported_total
        if src.alerted and new <= 0:
            return None  # at most one update per source and batch, and only when it made more attempts
        first_report = not src.alerted
        src.alerted = True
        src.reported_total = attempts_total
        src.reported_at = now
        return self._finding(family, key, src, fast, slow, users, max(new, 1), first_report, samples)

    def _finding(self, family: str, key: str, src: _Source, fast: int, slow: int, users: int, count: int,
                 first_report: bool, samples: list[Event]) -> Finding:
        s = self.settings
        span = max(src.last - src.first, 0.0)
        rate = slow / max(span / 60.0, 1.0)  # per minute over what we saw (at least one minute)
        wmin = int(s.window // 60)
        factors = [Factor("failures", scoring.saturating(fast or slow, 20),
                          f"{_n(fast)} failed {'connections' if family == 'flow' else 'attempts'} in {wmin} min, "
                          f"{_n(slow)} in {int(s.slow_window // 60)} min")]
        if rate >= 2:
            factors.append(Factor("rate", scoring.saturating(rate, 10, 0.7), f"{rate:.1f} attempts per minute"))
        if family == "ssh" and src.machine_paced(src.last - s.window, s.machine_interval):
            factors.append(Factor("machine_rate", 0.5, f"failures less than {s.machine_interval:g} s apart (median): "
                                                       "faster than a person retypes a password"))
        if users >= 2:
            more = "+" if src.users_overflow else ""
            factors.append(Factor("distinct_users", scoring.saturating(users, 5, 0.85),
                                  f"{users:,}{more} distinct user names tried"))
        if src.invalid:
            factors.append(Factor("invalid_users", scoring.saturating(len(src.invalid), 3, 0.7),
                                  f"{plural(len(src.invalid), 'user name')} that "
                                  f"{'does' if len(src.invalid) == 1 else 'do'} not exist on the server"))
        if src.maxed:
            factors.append(Factor("max_attempts", 0.4, f"disconnected {src.maxed}× for too many authentication failures"))
        stuffing = users >= max(s.min_users, 10) and slow <= users * 3
        if stuffing:
            factors.append(Factor("credential_stuffing", 0.6,
                                  f"{users} user names with about {slow / max(users, 1):.1f} tries each: "
                                  "a list of user names (credential stuffing / user enumeration)"))
        targets = list(src.targets)
        target = targets[0] if len(targets) == 1 else ("(several)" if targets else None)
        first, last = _when(src.first), _when(src.last)
        users_list = sorted(src.users, key=lambda u: -src.users[u])[:_EVIDENCE_USERS]
        evidence: dict[str, Any] = {
            "attempts": slow, "attempts_in_window": fast, "distinct_users": users, "users_tried": users_list,
            "invalid_users": sorted(src.invalid)[:_EVIDENCE_USERS], "targets": targets,
            "first_attempt": first.isoformat(), "last_attempt": last.isoformat()}
        if family == "ssh":
            subkind, sig = "ssh", "ssh:failures"
            if src.methods:
                evidence["methods"] = src.methods
            sev = Severity.HIGH if (slow >= 100 or src.invalid or users >= s.min_users) else Severity.MEDIUM
            rec = (f"Block {key} at the firewall (e.g. fail2ban's sshd jail). Check {target or 'the server'}'s "
                   f"/var/log/auth.log for an 'Accepted' login from {key} after {first:%Y-%m-%d %H:%M} UTC; "
                   "disable password logins (PasswordAuthentication no) and root login if possible.")
            if users_list:
                rec += f" Users tried: {', '.join(users_list[:5])}{' ...' if len(users_list) > 5 else ''}."
        elif family == "http":
            subkind = "http_login"
            paths = sorted(src.paths, key=lambda p: -src.paths[p])
            sig = f"http:{paths[0]}" if paths else "http:login"
            evidence["paths"] = src.paths
            evidence["statuses"] = {str(k): v for k, v in src.fail_status.items()}
            if src.agents:
                evidence["user_agents"] = list(src.agents)
            sev = Severity.HIGH if slow >= 100 or users >= s.min_users else Severity.MEDIUM
            factors.append(Factor("login_path", 0.3, f"on {', '.join(paths[:3])}"))
            rec = (f"Block or rate-limit {key} at the firewall or web server (fail2ban, nginx limit_req) for "
                   f"{', '.join(paths[:3])}; check the application's log for a successful login from {key} after "
                   f"{first:%Y-%m-%d %H:%M} UTC, and enable lockout or two-factor authentication on the login.")
        else:
            subkind, sig = "ssh_flow", f"ssh_flow:{targets[0] if targets else '?'}"
            if src.agents:
                evidence["ssh_clients"] = list(src.agents)
                factors.append(Factor("client", 0.2, f"client {', '.join(list(src.agents)[:2])}"))
            factors.append(Factor("short_connections", 0.4,
                                  "short, small SSH connections (each ends after a few authentication tries)"))
            sev = Severity.HIGH if slow >= 50 else Severity.MEDIUM
            rec = (f"Block {key} at the firewall; {target or 'the target'} is being guessed at over SSH "
                   f"({_n(slow)} connections since {first:%Y-%m-%d %H:%M:%S} UTC). Check its auth log for an "
                   f"'Accepted' login from {key}, and disable password logins.")
        return self.finding(kind="brute_force", subkind=subkind, severity=sev, factors=factors, recommendation=rec,
                            first_seen=first, last_seen=last, source=key, target=target, count=count,
                            signature=sig, evidence=evidence, events=samples)

    # -- state -------------------------------------------------------------------------------------

    def prune(self, now: datetime) -> None:
        for table in (self.ssh, self.http, self.flows):
            table.prune(now)

    def state(self) -> dict[str, Any]:
        return {"sshd_failed_lines": sorted(self._sshd_failed_lines)} | {name: [[k, seen.isoformat(), v.to_json()] for k, seen, v in table.items()]
                for name, table in (("ssh", self.ssh), ("http", self.http), ("flows", self.flows))}

    def restore(self, state: dict[str, Any]) -> None:
        self._sshd_failed_lines.update(str(o) for o in (state.get("sshd_failed_lines") or [])[:10_000])
        for name, table in (("ssh", self.ssh), ("http", self.http), ("flows", self.flows)):
            for item in state.get(name, []) or []:
                try:
                    key, seen, value = item
                    table.put(str(key), datetime.fromisoformat(seen), _Source.from_json(value))
                except (TypeError, ValueError, KeyError):
                    continue
