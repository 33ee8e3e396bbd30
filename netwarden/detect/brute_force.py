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

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from netwarden.detect import scoring
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.brute_force_findings import BruteForceFindings, invalid_users_factor
from netwarden.detect.brute_force_http import HttpLogins
from netwarden.detect.brute_force_state import (EVIDENCE_USERS, MAX_TEXT, SSH_FAILED, SSH_INVALID, SSH_MAXED,
                                                SSH_PAM, SSH_PASSWORD_SUCCESS, Source, count_text, epoch, when)
from netwarden.detect.windows import KeyedState
from netwarden.records import Event, Factor, Finding, Severity
from netwarden.text import plural

# the sshd codes _ssh_event acts on (besides accepted_*): the others are skipped before the call
_SSH_READ = SSH_FAILED | SSH_PAM | SSH_INVALID | SSH_MAXED | {"failed_publickey"}
_SSH_PAM_SKIPPED = SSH_PAM - SSH_FAILED - SSH_INVALID - {"failed_publickey"}  # PAM lines skipped after a Failed line


@register
class BruteForce(HttpLogins, BruteForceFindings, Detector):
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
        self.ssh: KeyedState[Source] = KeyedState(Source, idle=idle, max_keys=s.max_sources)
        self.http: KeyedState[Source] = KeyedState(Source, idle=idle, max_keys=s.max_sources)
        self.flows: KeyedState[Source] = KeyedState(Source, idle=idle, max_keys=s.max_sources)
        self._ssh_ports = frozenset(s.ssh_ports)
        self._default_accounts = frozenset(u.lower() for u in s.default_accounts)
        self._sshd_failed_lines: set[str] = set()  # observers whose sshd logs "Failed password" lines
        self._login_paths: dict[str, tuple[str, bool]] = {}  # url -> (its path, a login path?): a flood repeats them

    # -- the batch ---------------------------------------------------------------------------------

    def process(self, events: Sequence[Event]) -> list[Finding]:
        out: list[Finding] = []
        touched: dict[tuple[str, str], tuple[Source, list[Event]]] = {}
        limit = self.settings.max_events_per_source
        ssh_ports = self._ssh_ports
        sshd_failed_lines = self._sshd_failed_lines
        for e in events:
            ts = e.timestamp
            if ts is None:
                continue
            extra = e.extra
            code = extra.get("ssh_event") if extra else None
            if code is not None:  # most sshd lines (connections, disconnects, PAM's echoes) are not attempts
                if code in _SSH_PAM_SKIPPED and e.observer in sshd_failed_lines:
                    continue  # what _ssh_event would skip, without the call (a quarter of an sshd log's lines)
                if code in _SSH_READ or code.startswith("accepted_"):
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
        if code in SSH_FAILED or code in SSH_PAM or code in SSH_INVALID or code == "failed_publickey":
            invalid = bool(e.extra.get("invalid_user")) or code in ("invalid_user", "pam_user_unknown")
            if code == "failed_publickey" and not invalid:
                return  # the wrong keys offered by an agent, not a guess
            if code in SSH_PAM and (e.extra.get("count") is not None or e.observer in self._sshd_failed_lines):
                # "PAM 5 more authentication failures" sums up lines already counted; and a server whose sshd
                # writes "Failed password" lines repeats each attempt in a PAM line (often with the client's
                # DNS name instead of its address): only old sshd(pam_unix) logs need the PAM lines
                return
            if code in SSH_FAILED and e.observer and e.observer not in self._sshd_failed_lines \
                    and len(self._sshd_failed_lines) < 10_000:
                self._sshd_failed_lines.add(e.observer)
            n = e.extra.get("repeat_count") or 1
            n = n if isinstance(n, int) and 0 < n < 1_000_000 else 1
            tally = "p" if code in SSH_PAM else ("i" if code in SSH_INVALID else "f")
            src = self.ssh.get(key, ts)
            src.add(epoch(ts), n, tally, limit)
            if tally != "p" or not src.users:  # PAM repeats the user of the sshd line (if there is one)
                src.user(e.user, invalid)
            target = e.observer or e.dst_ip
            if target:
                src.bump(src.targets, target[:MAX_TEXT], 5)
            if tally == "f":
                src.bump(src.methods, str(e.extra.get("auth_method", code))[:32], 5)
            entry = touched.get(("ssh", key))
            if entry is None:
                touched[("ssh", key)] = (src, [e])
            elif len(entry[1]) < 3:
                entry[1].append(e)
        elif code in SSH_MAXED:
            src = self.ssh.peek(key)
            if src is not None:
                src.maxed += 1
        elif e.outcome == "success" and code.startswith("accepted_"):
            flows = self.flows.get(key, ts)  # its short SSH connections were logins that worked (Ansible, scp)
            flows.add(epoch(ts), 1, "ok", limit)
            src = self.ssh.peek(key)
            if src is not None:
                finding = self._ssh_success(e, key, code, ts, src)
                if finding is not None:
                    out.append(finding)

    def _ssh_success(self, e: Event, key: str, code: str, ts: datetime, src: Source) -> Finding | None:
        s = self.settings
        now = epoch(ts)
        src.trim(now - s.slow_window)
        failures = self._count(src, now - s.slow_window)
        by_password = code in SSH_PASSWORD_SUCCESS
        # a password accepted after guessing is a breach; a key accepted after many guesses is still one
        # worth an administrator's look (a stolen key tried after the passwords), but needs a real attack
        needed = s.success_min_failures if by_password else s.min_failures
        if failures < needed:
            return None  # a few typos, then right: a person
        signs = self._guessing(src, now)
        if not signs:
            return None  # failures at a person's pace, on the few accounts people have: typos, not guessing
        user = (e.user or "?")[:MAX_TEXT]
        tried = src.users.get(user, 0)
        factors = [
            Factor("success_after_failures", 0.9,
                   f"login accepted for {user!r} ({e.extra.get('auth_method', code)}) after {count_text(failures)} "
                   f"failed attempts from {key} in the last {int(s.slow_window // 60)} min"),
            Factor("failures", scoring.saturating(failures, 20), f"{count_text(failures)} failed attempts"),
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
            first_seen=when(src.first) if src.first else ts, last_seen=ts, source=key, target=target,
            count=1, signature=f"ssh:success:{user}",
            evidence={"user": user, "method": e.extra.get("auth_method"), "failures": failures,
                      "users_tried": list(src.users)[:EVIDENCE_USERS], "target": target,
                      "accepted_at": ts.isoformat()},
            events=[e])

    def _guessing(self, src: Source, now: float) -> list[Factor]:
        """What makes a source's SSH failures guessing rather than typos (empty: they look like typos)."""
        s = self.settings
        signs = []
        fast = self._count(src, now - s.window)
        if fast >= s.min_failures:
            signs.append(Factor("many_attempts", scoring.saturating(fast, 20, 0.8),
                                f"{count_text(fast)} failures in {int(s.window // 60)} min"))
        if src.machine_paced(now - s.slow_window, s.machine_interval):
            signs.append(Factor("machine_rate", 0.6, f"failures less than {s.machine_interval:g} s apart (median): "
                                                     "faster than a person retypes a password"))
        users = len(src.users) + src.users_overflow
        if users >= s.min_users:
            signs.append(Factor("distinct_users", scoring.saturating(users, 5, 0.8),
                                f"{plural(users, 'distinct user name')} tried"))
        if src.invalid:
            signs.append(invalid_users_factor(src))
        common = sorted(u for u in src.users if u.lower() in self._default_accounts)
        if len(common) >= 2:
            signs.append(Factor("dictionary_users", 0.5,
                                f"common account names from guessing lists: {', '.join(common[:5])}"))
        return signs

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
        src.add(epoch(ts), 1, "s", limit)
        target = f"{e.dst_ip}:{e.dst_port}" if e.dst_port is not None else (e.dst_ip or "?")
        src.bump(src.targets, target, 10)
        client = extra.get("ssh_client")
        if client:
            src.bump(src.agents, str(client)[:MAX_TEXT], 5)
        entry = touched.setdefault(("flow", key), (src, []))
        if len(entry[1]) < 3:
            entry[1].append(e)

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
                    table.put(str(key), datetime.fromisoformat(seen), Source.from_json(value))
                except (TypeError, ValueError, KeyError):
                    continue
