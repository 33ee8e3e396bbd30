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
from datetime import datetime, timedelta
from typing import Any

from netwarden.detect._conn import FAILED, NEUTRAL, OK, classify, not_unicast
from netwarden.detect._scan_findings import ScanFindings, ScanSource
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.windows import KeyedState
from netwarden.enrich.assets import Assets
from netwarden.records import Event, Finding

_MAX_HOT = 256  # keys past a threshold remembered per source
_MAX_SPECIAL = 64  # crafted/half-open probes remembered per source


@register
class PortScan(ScanFindings, Detector):
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
        self.sources: KeyedState[ScanSource] = KeyedState(ScanSource, idle=timedelta(seconds=s.window),
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
        touched: dict[str, tuple[ScanSource, datetime, list[Event]]] = {}
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

    def _trim(self, src: ScanSource, cutoff: float) -> None:
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
                _uncount(src.vert, (dst, proto), status, src.hot, ("v", dst, proto))
            _uncount(src.horiz, (proto, port), status, src.hot, ("h", proto, port))
            src.special.pop(key, None)
        # everything expired: the counts of the old window go with it
        src.crafted = src.halfopen = src.blocked = src.probes = src.overflow = 0
        src.reported.clear()

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
                src = ScanSource()
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

    def _add_restored(self, src: ScanSource, dst: str, proto: str, port: int | None, ts: float, status: int,
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


def _uncount(counts: dict[tuple, list], key: tuple, status: int, hot: dict[tuple, None], hot_key: tuple) -> None:
    """An expired pair leaves its vertical (per target) or horizontal (per port) count; a count at zero goes,
    with its mark as a candidate for a finding."""
    c = counts[key]
    c[status] -= 1
    if not any(c):
        del counts[key]
        hot.pop(hot_key, None)
