"""Brute force (``netwarden.detect.brute_force``): deciding that a source's failures are guessing, and the
finding that explains it. A mixin of the BruteForce detector (its settings, assets and ``finding``)."""

from __future__ import annotations

from typing import Any

from netwarden.detect import scoring
from netwarden.detect.base import DetectorPart
from netwarden.detect.brute_force_state import EVIDENCE_USERS, PROVEN, Source, count_text, when
from netwarden.records import Event, Factor, Finding, Severity
from netwarden.text import plural


def invalid_users_factor(src: Source) -> Factor:
    """The user names a source tried that the server says do not exist (a guesser's list, not a typo)."""
    return Factor("invalid_users", scoring.saturating(len(src.invalid), 3, 0.7),
                  f"{plural(len(src.invalid), 'user name')} that "
                  f"{'does' if len(src.invalid) == 1 else 'do'} not exist on the server")


class BruteForceFindings(DetectorPart):
    # -- deciding and explaining -------------------------------------------------------------------

    def _count(self, src: Source, since: float) -> int:
        s = self.settings
        return src.attempts(since, s.http_unproven_factor, s.success_discount)

    def _hit(self, family: str, key: str, src: Source, now: float, fast: int | None = None,
             slow: int | None = None) -> bool:
        """Whether a source's failures (up to ``now``) are enough to call it guessing; ``fast`` and ``slow``: its
        counts in the two windows, if the caller has them (each a pass over its attempts)."""
        s = self.settings
        fast = self._count(src, now - s.window) if fast is None else fast
        slow = self._count(src, now - s.slow_window) if slow is None else slow
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

    def _evaluate(self, family: str, key: str, src: Source, samples: list[Event]) -> Finding | None:
        s = self.settings
        now = src.last
        src.trim(now - max(s.window, s.slow_window))
        fast = self._count(src, now - s.window)
        slow = self._count(src, now - s.slow_window)
        users = len(src.users) + src.users_overflow
        hit = self._hit(family, key, src, now, fast, slow)
        attempts_total = max(max((v for k, v in src.cum.items() if k in PROVEN), default=0), slow)
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

    def _finding(self, family: str, key: str, src: Source, fast: int, slow: int, users: int, count: int,
                 first_report: bool, samples: list[Event]) -> Finding:
        s = self.settings
        span = max(src.last - src.first, 0.0)
        rate = slow / max(span / 60.0, 1.0)  # per minute over what we saw (at least one minute)
        wmin = int(s.window // 60)
        factors = [Factor("failures", scoring.saturating(fast or slow, 20),
                          f"{count_text(fast)} failed {'connections' if family == 'flow' else 'attempts'} in {wmin} min, "
                          f"{count_text(slow)} in {int(s.slow_window // 60)} min")]
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
            factors.append(invalid_users_factor(src))
        if src.maxed:
            factors.append(Factor("max_attempts", 0.4, f"disconnected {src.maxed}× for too many authentication failures"))
        stuffing = users >= max(s.min_users, 10) and slow <= users * 3
        if stuffing:
            factors.append(Factor("credential_stuffing", 0.6,
                                  f"{users} user names with about {slow / max(users, 1):.1f} tries each: "
                                  "a list of user names (credential stuffing / user enumeration)"))
        targets = list(src.targets)
        target = targets[0] if len(targets) == 1 else ("(several)" if targets else None)
        first, last = when(src.first), when(src.last)
        users_list = sorted(src.users, key=lambda u: -src.users[u])[:EVIDENCE_USERS]
        evidence: dict[str, Any] = {
            "attempts": slow, "attempts_in_window": fast, "distinct_users": users, "users_tried": users_list,
            "invalid_users": sorted(src.invalid)[:EVIDENCE_USERS], "targets": targets,
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
                   f"({count_text(slow)} connections since {first:%Y-%m-%d %H:%M:%S} UTC). Check its auth log for an "
                   f"'Accepted' login from {key}, and disable password logins.")
        return self.finding(kind="brute_force", subkind=subkind, severity=sev, factors=factors, recommendation=rec,
                            first_seen=first, last_seen=last, source=key, target=target, count=count,
                            signature=sig, evidence=evidence, events=samples)
