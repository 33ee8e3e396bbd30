"""Port scans: one source trying many ports of a host, or one port on many hosts, mostly without answer.

Input: connection records of any kind (pcap flows, NetFlow, Zeek conn, Argus, Suricata flows) and firewall
logs (usually one event per dropped packet). ``_conn.classify`` turns each into an attempt that *failed*
(unanswered, refused, reset before any data, dropped), *succeeded* (data flowed) or cannot tell (a firewall
logging an allowed SYN). Only failures count towards a scan: a browser opening 40 connections to one server,
a client talking to hundreds of CDNs on 443 and a resolver asking many servers on 53 all *succeed*.

Per source, every distinct (host, protocol, port) tried in the last ``window`` (1 h) is remembered once with
its best outcome, and counters are kept incrementally so each event costs a few dictionary operations:

- **vertical**: ``vertical_ports`` (15) distinct failed ports on one host. nmap's default scan tries 1,000;
  a person never has 15 different ports refused by one server within an hour.
- **horizontal**: ``horizontal_hosts`` (8) distinct hosts failing on one port, and at least
  ``min_failure_ratio`` (30 %) of the hosts tried on that port failed. The ratio, not a majority, because
  worms scan while the infected host goes on browsing (the Stratosphere horizontal capture: 10 failed of 25
  web servers); ordinary clients fail on a few per cent of hosts at most (a resolver, a mail relay).
- **sweep**: the same for ICMP echo/timestamp requests (ping sweep, ``nmap -sn``) and ARP requests
  (an ARP scan of the local network), with ``sweep_hosts`` (8) unanswered hosts.
- **slow**: any of the above whose pace was below ``slow_rate`` (6 targets a minute, i.e. slower than nmap
  ``-T2``: ``-T1``/``-T0`` and hand-paced scans); the hour-long window is what catches them.
- **stealth**: probes no TCP stack sends — NULL, FIN, XMAS, SYN+FIN, PSH/URG without ACK (``nmap
  -sN/-sF/-sX``, OS fingerprinting ``-O``, hping3) — from ``stealth_probes`` (2) on, and half-open
  connections (SYN, SYN-ACK, then a bare RST within 250 ms: ``nmap -sS``/masscan's raw-socket SYN scan) from
  ``halfopen_probes`` (1) on. Inside a vertical or horizontal scan these are a factor of that alert instead.
  A SYN flood looks half-open too, but repeats the same port: half-open connections are not a scan when one
  source sends ``flood_repeats`` (10) or more per port it tries (hping3 ``--flood``), nor when they go to a
  port that receives ``flood_halfopen`` (100) or more a minute from everyone (spoofed sources, each sending
  a few); the dos detector reports those as ``syn_flood``. A scan needs many ports, or few probes each.

A source that goes on scanning updates its alert once per batch (the engine merges repeats by kind, subkind
and source). Addresses or networks in ``allow`` (an authorised vulnerability scanner) are ignored.

Severity: medium; high for a fast (not slow) wide scan (``wide_targets``, 100 ports or hosts) from outside
that was not entirely blocked, or an inside host scanning the internet widely (a worm); low for slow scans
from inside. Memory: at most ``max_sources`` sources (least recently seen dropped first, idle ones after the
window) with at most ``max_pairs`` remembered targets each; a scan that tries more is counted on as
"at least".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from netwarden.detect import scoring
from netwarden.detect._conn import FAILED, NEUTRAL, OK, classify, not_unicast
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.windows import KeyedState
from netwarden.enrich.assets import Assets
from netwarden.records import Event, Factor, Finding, Severity

_SWEEP_PROTOS = frozenset({"icmp", "icmpv6", "ipv6-icmp", "arp"})
_SAMPLE = 20  # ports/hosts listed in evidence
_MAX_HOT = 256  # keys past a threshold remembered per source
_MAX_SPECIAL = 64  # crafted/half-open probes remembered per source
_FLAG_HINT = {"NULL": "nmap -sN", "FIN": "nmap -sF", "XMAS": "nmap -sX", "SYN+FIN": "OS fingerprinting (nmap -O)"}


class _Src:
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


@register
class PortScan(Detector):
    name = "port_scan"
    description = "vertical, horizontal, slow and stealth port scans and ping/ARP sweeps from flows and firewall logs"

    class Settings(DetectorSettings):
        window: int = 3600  # seconds of memory per source: long enough for slow scans
        vertical_ports: int = 15
        horizontal_hosts: int = 8
        sweep_hosts: int = 8
        sweep_burst_hosts: int = 16  # hosts pinged within a minute, answered or not (a sweep of a busy LAN)
        min_failure_ratio: float = 0.3
        stealth_probes: int = 2
        halfopen_probes: int = 1
        slow_rate: float = 6.0  # distinct targets a minute below which a scan is "slow"
        wide_targets: int = 100
        max_sources: int = 20_000
        max_pairs: int = 1000
        allow: tuple[str, ...] = ()  # authorised scanners (addresses or networks)
        flood_repeats: int = 10  # half-open connections per port from one source beyond which it is a flood
        flood_halfopen: int = 100  # half-open connections a minute to one port (all sources): a flood target

    def __init__(self, settings: Any = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        s = self.settings
        self.sources: KeyedState[_Src] = KeyedState(_Src, idle=timedelta(seconds=s.window),
                                                     max_keys=s.max_sources)
        self._allow = Assets(s.allow) if s.allow else None
        # (host, port) -> [minute, half-open connections in it, last flooded minute]
        self._targets: KeyedState[list[int]] = KeyedState(lambda: [0, 0, -10], idle=timedelta(minutes=10),
                                                          max_keys=s.max_sources)

    # -- events -----------------------------------------------------------------------------------

    def process(self, events: Sequence[Event]) -> list[Finding]:
        s = self.settings
        window = float(s.window)
        vthr, hthr, sthr, burst = s.vertical_ports, s.horizontal_hosts, s.sweep_hosts, s.sweep_burst_hosts
        max_pairs = s.max_pairs
        sources = self.sources
        allow = self._allow
        touched: dict[str, tuple[_Src, datetime, list[Event]]] = {}
        for e in events:
            src_ip = e.src_ip
            dst = e.dst_ip
            if src_ip is None or dst is None or e.timestamp is None:
                continue
            c = classify(e)
            if c is None or not_unicast(dst) or src_ip == dst:
                continue
            if allow is not None and allow.is_inside(src_ip):
                continue
            status, special = c
            when = e.timestamp
            ts = when.timestamp()
            src = sources.get(src_ip, when)
            if src.pairs and ts - src.oldest > window:
                self._trim(src, ts - window)
            src.probes += 1
            src.unreported += 1
            if status == FAILED and e.source_kind == "firewall":
                src.blocked += 1
            proto = e.transport
            port = e.dst_port if proto == "tcp" or proto == "udp" else None
            key = (dst, proto, port)
            if special:
                if key not in src.special and len(src.special) < _MAX_SPECIAL:
                    src.special[key] = special
                if special == "halfopen":
                    src.halfopen += 1
                    self._count_halfopen(dst, port, when)
                else:
                    src.crafted += 1
            entry = touched.get(src_ip)
            if entry is None:
                touched[src_ip] = (src, when, [e])
            else:
                if when > entry[1]:
                    touched[src_ip] = (src, when, entry[2])
                if len(entry[2]) < 3:
                    entry[2].append(e)
            pair = src.pairs.pop(key, None)
            if pair is not None:
                src.pairs[key] = pair  # seen again: it moves to the end, and expires an hour after this
                if ts > pair[0]:
                    pair[0] = ts
                if status > pair[1]:  # the best outcome seen for this target counts
                    old = pair[1]
                    pair[1] = status
                    if port is not None:
                        v = src.vert[(dst, proto)]
                        v[old] -= 1
                        v[status] += 1
                    h = src.horiz[(proto, port)]
                    h[old] -= 1
                    h[status] += 1
                continue
            if len(src.pairs) >= max_pairs:
                src.overflow += 1
                continue
            if not src.pairs:
                src.oldest = ts
            src.pairs[key] = [ts, status, special, e.source_kind == "firewall" and status == FAILED]
            hot = src.hot
            if port is not None:
                vk = (dst, proto)
                v = src.vert.get(vk)
                if v is None:
                    v = src.vert[vk] = [0, 0, 0]
                v[status] += 1
                if status == FAILED and v[0] >= vthr and len(hot) < _MAX_HOT:
                    hot[("v", dst, proto)] = None
            hk = (proto, port)
            h = src.horiz.get(hk)
            if h is None:
                h = src.horiz[hk] = [0, 0, 0]
            h[status] += 1
            if len(hot) < _MAX_HOT:
                if status == FAILED and h[0] >= (sthr if port is None else hthr):
                    hot[("h", proto, port)] = None
                elif port is None and h[0] + h[1] + h[2] >= burst:
                    hot[("h", proto, port)] = None
        findings: list[Finding] = []
        for src_ip, (src, when, samples) in touched.items():
            if src.hot or src.crafted >= s.stealth_probes or src.halfopen >= s.halfopen_probes:
                findings += self._report(src_ip, src, when, samples)
        return findings

    def _count_halfopen(self, dst: str, port: int | None, when: datetime) -> None:
        minute = int(when.timestamp() // 60)
        t = self._targets.get(f"{dst}|{port}", when)
        if minute != t[0]:
            t[0], t[1] = minute, 0
        t[1] += 1
        if t[1] >= self.settings.flood_halfopen:
            t[2] = minute

    def _flooded(self, dst: str, port: int | None) -> bool:
        """The target took a flood of half-open connections (this minute or the last few)."""
        t = self._targets.peek(f"{dst}|{port}")
        return t is not None and t[0] - t[2] <= 2

    def _trim(self, src: _Src, cutoff: float) -> None:
        pairs = src.pairs
        while pairs:
            key = next(iter(pairs))
            value = pairs[key]
            if value[0] >= cutoff:
                src.oldest = value[0]
                return
            del pairs[key]
            dst, proto, port = key
            status = value[1]
            if port is not None:
                vk = (dst, proto)
                v = src.vert[vk]
                v[status] -= 1
                if not any(v):
                    del src.vert[vk]
                    src.hot.pop(("v", dst, proto), None)
            hk = (proto, port)
            h = src.horiz[hk]
            h[status] -= 1
            if not any(h):
                del src.horiz[hk]
                src.hot.pop(("h", proto, port), None)
            src.special.pop(key, None)
        # everything expired: the counts of the old window go with it
        src.crafted = src.halfopen = src.blocked = src.probes = src.overflow = 0
        src.reported.clear()

    # -- findings ---------------------------------------------------------------------------------

    def _report(self, src_ip: str, src: _Src, when: datetime, samples: list[Event]) -> list[Finding]:
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
                group = sweep if hk[1] in _SWEEP_PROTOS else horizontal
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
    def _burst(src: _Src, proto: str) -> int:
        """The most hosts tried with ``proto`` (ICMP/ARP) within one minute."""
        times = sorted(v[0] for k, v in src.pairs.items() if k[1] == proto)
        best = start = 0
        for end, t in enumerate(times):
            while t - times[start] > 60.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    def _geometric(self, src_ip: str, src: _Src, geometry: str, keys: list[tuple], since: float,
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

    def _stealth(self, src_ip: str, src: _Src, since: float, when: datetime,
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

    # -- state ------------------------------------------------------------------------------------

    def prune(self, now: datetime) -> None:
        self.sources.prune(now)
        self._targets.prune(now)

    def state(self) -> dict[str, Any]:
        return {"sources": [[k, seen.isoformat(), v.to_json()] for k, seen, v in self.sources.items()]}

    def restore(self, state: dict[str, Any]) -> None:
        s = self.settings
        for item in (state or {}).get("sources", []) or []:
            try:
                key, seen, data = item
                src = _Src()
                when = datetime.fromisoformat(seen)
                for row in data.get("pairs", [])[: s.max_pairs]:
                    dst, proto, port, ts, status, special, blocked = row
                    self._add_restored(src, str(dst), str(proto), port if port is None else int(port), float(ts),
                                       int(status), str(special or ""), bool(blocked))
                for dst, proto, port, special in data.get("special", [])[:_MAX_SPECIAL]:
                    src.special[(str(dst), str(proto), port if port is None else int(port))] = str(special)
                for name in ("crafted", "halfopen", "blocked", "probes", "overflow"):
                    setattr(src, name, int(data.get(name, 0)))
                src.reported = {str(k): str(v) for k, v in (data.get("reported") or {}).items()}
                src.last_report = float(data.get("last_report", 0.0))
                self.sources.put(str(key), when, src)
            except (TypeError, ValueError, KeyError, AttributeError):
                continue

    def _add_restored(self, src: _Src, dst: str, proto: str, port: int | None, ts: float, status: int,
                      special: str, blocked: bool) -> None:
        if status not in (FAILED, NEUTRAL, OK):
            return
        if not src.pairs:
            src.oldest = ts
        src.pairs[(dst, proto, port)] = [ts, status, special, blocked]
        s = self.settings
        if port is not None:
            v = src.vert.setdefault((dst, proto), [0, 0, 0])
            v[status] += 1
            if v[0] >= s.vertical_ports:
                src.hot[("v", dst, proto)] = None
        h = src.horiz.setdefault((proto, port), [0, 0, 0])
        h[status] += 1
        if h[0] >= (s.sweep_hosts if port is None else s.horizontal_hosts):
            src.hot[("h", proto, port)] = None


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
