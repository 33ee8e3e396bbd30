"""What the port scan detector remembers of a source (:class:`ScanSource`), and the alerts it builds from it:
which geometry (vertical, horizontal, sweep) and pace, the stealth probes, severity from where the source
and targets are, and advice. The detector (``port_scan.py``) classifies and counts the attempts."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from netwarden.detect import scoring
from netwarden.detect._conn import FAILED, NEUTRAL, OK
from netwarden.detect.base import DetectorPart
from netwarden.records import Event, Factor, Finding, Severity

SWEEP_PROTOS = frozenset({"icmp", "icmpv6", "ipv6-icmp", "arp"})
_SAMPLE = 20  # ports/hosts listed in evidence
_FLAG_HINT = {"NULL": "nmap -sN", "FIN": "nmap -sF", "XMAS": "nmap -sX", "SYN+FIN": "OS fingerprinting (nmap -O)"}


class ScanSource:
    """One source's attempts in the window."""

    __slots__ = ("pairs", "vert", "horiz", "hot", "special", "crafted", "halfopen", "blocked", "probes",
                 "oldest", "overflow", "reported", "last_report", "unreported")

    def __init__(self) -> None:
        self.pairs: dict[tuple, list] = {}  # (dst, proto, port) -> [first ts, status, special, blocked]
        self.vert: dict[tuple, list] = {}  # (dst, proto) -> [failed, neutral, ok] distinct ports
        self.horiz: dict[tuple, list] = {}  # (proto, port) -> [failed, neutral, ok] distinct hosts
        self.hot: dict[tuple, None] = {}  # ("v", dst, proto) / ("h", proto, port) past their threshold
        self.special: dict[tuple, str] = {}  # (dst, proto, port) -> crafted flags or "halfopen"
        self.crafted = 0
        self.halfopen = 0
        self.blocked = 0
        self.probes = 0  # attempt events in the window (not distinct)
        self.oldest = 0.0
        self.overflow = 0  # distinct targets not remembered (max_pairs)
        self.reported: dict[str, str] = {}  # geometry -> subkind used in its alert (sticky)
        self.last_report = 0.0
        self.unreported = 0  # attempt events since the last finding (the alert's count)

    def to_json(self) -> dict[str, Any]:
        return {"pairs": [[d, p, port, *v] for (d, p, port), v in self.pairs.items()],
                "special": [[d, p, port, s] for (d, p, port), s in self.special.items()],
                "crafted": self.crafted, "halfopen": self.halfopen, "blocked": self.blocked, "probes": self.probes,
                "overflow": self.overflow, "reported": self.reported, "last_report": self.last_report}


class ScanFindings(DetectorPart):
    """The alert building half of :class:`~netwarden.detect.port_scan.PortScan` (a mixin: it uses the
    detector's settings, assets and ``finding``)."""

    def _report(self, src_ip: str, src: ScanSource, when: datetime, samples: list[Event]) -> list[Finding]:
        s = self.settings
        ratio = s.min_failure_ratio
        vertical: list[tuple] = []
        horizontal: list[tuple] = []
        sweep: list[tuple] = []
        for hk in list(src.hot):
            if hk[0] == "v":
                counts = src.vert.get((hk[1], hk[2]))
                threshold = s.vertical_ports
                group = vertical
            else:
                counts = src.horiz.get((hk[1], hk[2]))
                threshold = s.sweep_hosts if hk[2] is None else s.horizontal_hosts
                group = sweep if hk[1] in SWEEP_PROTOS else horizontal
            if group is sweep and counts is not None and sum(counts) >= s.sweep_burst_hosts \
                    and self._burst(src, hk[1]) >= s.sweep_burst_hosts:
                group.append(hk)
                continue
            if counts is None or counts[FAILED] < threshold:
                if counts is None or group is not sweep or sum(counts) < s.sweep_burst_hosts:
                    src.hot.pop(hk, None)
                continue
            if counts[FAILED] < ratio * (counts[FAILED] + counts[OK]):
                continue
            group.append(hk)
        since = src.last_report
        src.last_report = when.timestamp()
        out = []
        for geometry, keys in (("vertical", vertical), ("horizontal", horizontal), ("sweep", sweep)):
            if keys:
                out.append(self._geometric(src_ip, src, geometry, keys, since, when, samples))
        if not out and (src.crafted >= s.stealth_probes or src.halfopen >= s.halfopen_probes):
            stealth = self._stealth(src_ip, src, since, when, samples)
            if stealth is not None:
                out.append(stealth)
        out = [f for f in out if f is not None]
        if out:
            out[0].count = max(out[0].count, src.unreported)
            src.unreported = 0
        return out

    @staticmethod
    def _burst(src: ScanSource, proto: str) -> int:
        """The most hosts tried with ``proto`` (ICMP/ARP) within one minute."""
        times = sorted(v[0] for k, v in src.pairs.items() if k[1] == proto)
        best = start = 0
        for end, t in enumerate(times):
            while t - times[start] > 60.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    def _geometric(self, src_ip: str, src: ScanSource, geometry: str, keys: list[tuple], since: float,
                   when: datetime, samples: list[Event]) -> Finding | None:
        s = self.settings
        if geometry == "vertical":
            wanted = {(k[1], k[2]) for k in keys}
            match = [(k, v) for k, v in src.pairs.items() if (k[0], k[1]) in wanted]
        else:
            wanted = {(k[1], k[2]) for k in keys}
            match = [(k, v) for k, v in src.pairs.items() if (k[1], k[2]) in wanted]
        failed = [(k, v) for k, v in match if v[1] == FAILED]
        burst = geometry == "sweep" and len(match) >= s.sweep_burst_hosts and (
            len(failed) < s.sweep_hosts or len(failed) < s.min_failure_ratio * len(match))
        if burst:
            failed = match  # a sweep of hosts that are up: every probe counts, the pace is the signal
        if not failed:
            return None
        new = sum(1 for _, v in match if v[0] > since)
        if new == 0 and geometry in src.reported:
            return None  # nothing new since the last report (a retry of the same targets)
        times = [v[0] for _, v in failed]
        first, last = min(times), max(times)
        span = max(last - first, 1.0)
        rate = len(failed) / span * 60.0
        hosts = sorted({k[0] for k, _ in failed})
        ports = sorted({k[2] for k, _ in failed if k[2] is not None})
        protos = sorted({k[1] for k, _ in failed})
        ok = sum(1 for _, v in match if v[1] == OK)
        neutral = sum(1 for _, v in match if v[1] == NEUTRAL)
        blocked = sum(1 for _, v in failed if v[3])
        opened = sorted({k[2] for k, v in match if k[2] is not None and (v[1] == OK or v[2] == "halfopen")})
        flagged = sorted({v[2] for _, v in match if v[2]})
        distinct = len(ports) if geometry == "vertical" else len(hosts)
        slow = rate < s.slow_rate and len(failed) >= 2 and span > 60
        subkind = src.reported.get(geometry) or ("slow" if slow else geometry)
        src.reported[geometry] = subkind
        outside = self.assets.is_outside(src_ip)
        inside = self.assets.is_inside(src_ip)
        wide = distinct >= s.wide_targets
        all_blocked = blocked == len(failed) and ok == 0
        targets_outside = any(self.assets.is_outside(h) for h in hosts[:5])
        if slow and inside:
            severity = Severity.LOW
        elif not slow and wide and ((outside and not all_blocked) or (inside and targets_outside
                                                                      and geometry == "horizontal")):
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        proto_text = "/".join(protos)
        window_text = _duration(span)
        overflow = f" (and at least {src.overflow} more not itemised)" if src.overflow else ""
        if geometry == "vertical":
            host = max(hosts, key=lambda h: sum(1 for k, _ in failed if k[0] == h))
            what = (f"{len(ports)} {proto_text} ports of {host}" if len(hosts) == 1
                    else f"{len(ports)} {proto_text} ports on {len(hosts)} hosts")
            target = host if len(hosts) == 1 else "(several)"
            signature = f"vertical:{proto_text}:{host}" if len(hosts) == 1 else f"vertical:{proto_text}"
            spread = Factor("distinct_ports", scoring.saturating(len(ports), 20),
                            f"{what} failed in {window_text}{overflow}")
        elif geometry == "horizontal":
            port_text = ",".join(str(p) for p in ports[:5]) + ("..." if len(ports) > 5 else "")
            what = f"{len(hosts)} hosts on {proto_text} port{'s' if len(ports) > 1 else ''} {port_text}"
            target = hosts[0] if len(hosts) == 1 else "(several)"
            signature = f"horizontal:{proto_text}/{port_text}"
            spread = Factor("distinct_hosts", scoring.saturating(len(hosts), 12),
                            f"{what} did not answer in {window_text}{overflow}")
        else:
            kind = "ARP requests" if protos == ["arp"] else "pings"
            what = f"{len(hosts)} hosts ({kind})"
            target = "(several)"
            signature = f"sweep:{proto_text}"
            unanswered = sum(1 for _, v in match if v[1] == FAILED)
            spread = Factor("distinct_hosts", scoring.saturating(len(hosts), 12),
                            f"{kind} to {len(hosts)} hosts in {window_text}, {unanswered} unanswered{overflow}")
        answered = ok + neutral
        share = len(failed) / max(1, len(failed) + ok)
        factors = [spread,
                   Factor("failures", round(0.6 * share, 4),
                          f"{len(failed)} of {len(failed) + answered} targets failed"
                          + (f" ({blocked} blocked by the firewall)" if blocked else "")
                          + (" (unanswered or refused)" if not blocked else ""))]
        if not slow:
            factors.append(Factor("rate", scoring.saturating(rate, 60, 0.6), f"{rate:.0f} targets a minute"))
        else:
            factors.append(Factor("slow", 0.3, f"spread over {window_text} ({rate:.1f} targets a minute): "
                                                "a slow scan that stays under per-minute thresholds"))
        stealth = _stealth_factor(flagged)
        if stealth is not None:
            factors.append(stealth)
        evidence: dict[str, Any] = {
            "scan": geometry, "transport": proto_text, "ports": ports[:_SAMPLE], "hosts": hosts[:_SAMPLE],
            "distinct_ports": len(ports), "distinct_hosts": len(hosts), "failed": len(failed),
            "answered": answered, "blocked": blocked, "probes": src.probes, "window_s": round(span, 1),
            "rate_per_min": round(rate, 1), "first_probe": _iso(first), "last_probe": _iso(last)}
        if opened:
            evidence["open_ports"] = opened[:_SAMPLE]
        if flagged:
            evidence["probe_types"] = flagged
        if src.overflow:
            evidence["not_itemised"] = src.overflow
        return self.finding(
            kind="port_scan", subkind=subkind, severity=severity, factors=factors,
            recommendation=self._advice(src_ip, inside, outside, what, opened, blocked, len(failed)),
            first_seen=_dt(first), last_seen=max(when, _dt(last)), source=src_ip, target=target,
            count=max(1, new), signature=signature, evidence=evidence, events=samples)

    def _stealth(self, src_ip: str, src: ScanSource, since: float, when: datetime,
                 samples: list[Event]) -> Finding | None:
        items = [(k, v) for k, v in src.special.items() if v != "halfopen" or not self._flooded(k[0], k[2])]
        halfopen_targets = sum(1 for _, v in items if v == "halfopen")
        if halfopen_targets and halfopen_targets == len(items) \
                and src.halfopen >= self.settings.flood_repeats * halfopen_targets:
            return None  # the same few ports over and over: a SYN flood (dos), not a scan
        new = sum(1 for k, _ in items if src.pairs.get(k, [0.0])[0] > since)
        if not items or (new == 0 and "stealth" in src.reported):
            return None
        src.reported["stealth"] = "stealth"
        kinds = sorted({v for _, v in items})
        hosts = sorted({k[0] for k, _ in items})
        ports = sorted({k[2] for k, _ in items if k[2] is not None})
        times = [src.pairs[k][0] for k, _ in items if k in src.pairs] or [when.timestamp()]
        factor = _stealth_factor(kinds)
        assert factor is not None
        outside = self.assets.is_outside(src_ip)
        inside = self.assets.is_inside(src_ip)
        target = hosts[0] if len(hosts) == 1 else "(several)"
        what = f"{len(items)} crafted or half-open probe{'s' if len(items) > 1 else ''} to " + (
            f"{hosts[0]}" if len(hosts) == 1 else f"{len(hosts)} hosts") + (
            f" (ports {', '.join(str(p) for p in ports[:10])})" if ports else "")
        return self.finding(
            kind="port_scan", subkind="stealth", severity=Severity.MEDIUM if outside or "halfopen" not in kinds
            or len(kinds) > 1 else Severity.LOW,
            factors=[factor, Factor("probes", scoring.saturating(len(items), 3, 0.5), what)],
            recommendation=self._advice(src_ip, inside, outside, what, [], 0, 0),
            first_seen=_dt(min(times)), last_seen=when, source=src_ip, target=target, count=max(1, new),
            signature="stealth:" + "+".join(kinds),
            evidence={"scan": "stealth", "probe_types": kinds, "hosts": hosts[:_SAMPLE], "ports": ports[:_SAMPLE],
                      "crafted_packets": src.crafted, "halfopen": src.halfopen},
            events=samples)

    @staticmethod
    def _advice(src: str, inside: bool, outside: bool, what: str, opened: list, blocked: int, failed: int) -> str:
        opened_text = (f" It found open port{'s' if len(opened) > 1 else ''} "
                       f"{', '.join(str(p) for p in opened[:10])}: make sure each is meant to be reachable."
                       if opened else "")
        if inside:
            return (f"{src} is one of your own hosts and probed {what}. Unless it is an authorised scanner "
                    f"(then add it to [detect.port_scan] allow), isolate it and look for the process making the "
                    f"connections (ss -tnp, netstat -ano): worms and bots scan like this.{opened_text}")
        block = (f"{blocked} of {failed} probes were already dropped by the firewall; " if blocked and failed
                 else "")
        return (f"{block}block {src} at the firewall (e.g. nft add rule inet filter input ip saddr {src} drop) "
                f"— it probed {what}.{opened_text} Watch for logins or exploits from this address next.")


def _stealth_factor(kinds: list[str]) -> Factor | None:
    crafted = [k for k in kinds if k != "halfopen"]
    parts = []
    weight = 0.0
    if crafted:
        hints = sorted({_FLAG_HINT.get(k, "a packet crafter such as hping3") for k in crafted})
        parts.append(f"TCP flag combinations no operating system sends ({', '.join(crafted)}): {', '.join(hints)}")
        weight = 0.7
    if "halfopen" in kinds:
        parts.append("half-open connections (SYN answered, then reset at once without completing the handshake): "
                     "a raw-socket SYN scan such as nmap -sS or masscan")
        weight = max(weight, 0.5)
    return Factor("stealth", weight, "; ".join(parts)) if parts else None


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _iso(ts: float) -> str:
    return _dt(ts).isoformat().replace("+00:00", "Z")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
