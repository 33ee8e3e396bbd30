"""Data leaving the site: unusually large outbound transfers, transfers at a host's quiet hours, DNS tunnels.

Three subkinds, all keyed by the inside host (the ``source`` of the alert is the host that sends data):

``volume``
    Bytes an inside host sent to one outside address within a sliding hour, compared with that host's OWN
    history: the hourly totals it sent to the internet over the last ``history_days`` of event time. The
    transfer must exceed ``ratio`` × the host's median active hour AND ``peak_ratio`` × its largest hour
    so far AND the absolute ``floor`` (a host that usually sends 2 MB/h must not alert on 20 MB). Until a
    host has ``min_history_hours`` active hours of history only the much higher ``cold_floor`` applies.
    Inside → inside (backups to the file server) is never exfiltration; mostly-download traffic is not
    either (the bytes counted are the ones the inside host *sent*), nor is a server's answer to an outside
    client (a one-direction flow record from a service port to an ephemeral one: the client downloaded it).
``off_hours``
    A sizeable transfer (``off_hours_floor``, and above the host's median hour) in an hour of the day in
    which the host was active on at most ``quiet_fraction`` of the days it was seen — learned per host
    after ``min_days`` days, not a fixed office schedule.
``dns_tunnel``
    Data smuggled in DNS query names: per (host, registered domain) within ``dns_window``, many unique
    subdomains that are long or random-looking (Shannon entropy of the characters), and/or TXT/NULL
    queries in volume. CDN and cloud names (hashed labels under akamai/cloudfront) are long but a host
    asks for few distinct ones of one domain; a tunnel asks for hundreds, each new. Both the entropy and
    the unique count are required.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import Field

from netwarden.detect import scoring
from netwarden.detect._dns_tunnel import DnsTunnelling, DnsWindow
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.windows import KeyedState, epoch_seconds
from netwarden.records import Event, Factor, Finding, Severity
from netwarden.text import data_size

MB = 1_000_000
HOUR = 3600.0
_DNS_PORTS = frozenset({53, 5353, 5355})


def _service_answer(sport: int | None, dport: int | None) -> bool:
    """A record sent from a service's port back to a client's ephemeral port: a download the outside client
    asked for (NetFlow reports each direction on its own), not data the inside host pushed out."""
    if sport is None or dport is None:
        return False
    return (sport < 1024 <= dport) or (sport < 10_000 and dport >= 32_768)


class _Host:
    """One inside host's outbound history: hourly totals, active hours per day, current hour per destination."""

    __slots__ = ("hours", "days", "pairs", "reported")

    def __init__(self) -> None:
        self.hours: dict[int, int] = {}  # hour number since epoch -> bytes sent outside that hour
        self.days: dict[int, int] = {}  # day number -> 24-bit mask of hours with outbound traffic
        self.pairs: dict[str, deque[tuple[float, int]]] = {}  # destination -> (time, bytes) in the last hour
        self.reported: dict[str, tuple[float, int]] = {}  # destination -> (time, bytes) when last reported


@register
class ExfiltrationDetector(DnsTunnelling, Detector):
    name = "exfiltration"
    description = "large or unusual-hour outbound transfers against the host's own baseline; DNS tunnels"

    class Settings(DetectorSettings):
        # -- volume: defaults chosen so that an ordinary big upload (a few hundred MB to a cloud drive
        # once in a while) needs to be many times the host's own normal to alert
        floor: int = Field(100 * MB, ge=0)  # never alert below this many bytes to one address in an hour
        cold_floor: int = Field(1000 * MB, ge=0)  # ... before the host has a baseline
        ratio: float = Field(10.0, ge=1)  # times the host's median active hour
        peak_ratio: float = Field(2.0, ge=1)  # times the host's largest hour in the history
        history_days: int = Field(14, ge=1, le=90)
        min_history_hours: int = Field(12, ge=1)  # active hours needed before the baseline is trusted
        # -- off hours
        off_hours_floor: int = Field(20 * MB, ge=0)
        min_days: int = Field(5, ge=2)  # days of history before "unusual hour" means anything
        quiet_fraction: float = Field(0.1, ge=0, le=1)  # active in at most this share of days at that hour
        # -- DNS tunnel
        dns_window: float = Field(600.0, gt=0)  # seconds
        dns_min_unique: int = Field(40, ge=5)  # unique suspicious subdomains of one domain in the window
        dns_min_length: int = Field(24, ge=8)  # subdomain part this long counts as "long" ...
        dns_long_length: int = Field(52, ge=16)  # ... and this long counts whatever its entropy
        dns_min_entropy: float = Field(3.5, ge=0)  # bits/char of the subdomain part (base32 data ≈ 4.3-4.6)
        dns_min_bulk: int = Field(40, ge=5)  # TXT/NULL queries to one domain in the window (with unique names)
        # domains whose legitimate services look like tunnels (reputation lookups, DNSBLs, anti-virus)
        dns_allow: list[str] = Field(default_factory=lambda: [
            "in-addr.arpa", "ip6.arpa", "spamhaus.org", "spamcop.net", "sorbs.net", "barracudacentral.org",
            "mcafee.com", "sophosxl.net", "trendmicro.com", "senderbase.org", "surbl.org", "uribl.com",
            "dnswl.org", "mailspike.net", "local", "arpa"])
        max_hosts: int = Field(50_000, ge=10)
        max_dns_keys: int = Field(50_000, ge=10)
        max_destinations: int = Field(256, ge=1)  # per host, in the current hour
        max_names: int = Field(2000, ge=10)  # unique names remembered per (host, domain)

    def __init__(self, settings: Any = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        s = self.settings
        self.hosts: KeyedState[_Host] = KeyedState(_Host, idle=timedelta(days=s.history_days), max_keys=s.max_hosts)
        self.dns: KeyedState[DnsWindow] = KeyedState(DnsWindow, idle=timedelta(seconds=s.dns_window * 2),
                                                      max_keys=s.max_dns_keys)
        self._allow = tuple(s.dns_allow)
        self._outside: dict[str, bool] = {}

    # -- batch --------------------------------------------------------------------------------------

    def process(self, events: Sequence[Event]) -> list[Finding]:
        out: list[Finding] = []
        inside = self.assets.is_inside
        touched: dict[tuple[str, str], tuple[_Host, list[Event]]] = {}
        dns_touched: dict[tuple[str, str], tuple[DnsWindow, list[Event]]] = {}
        for e in events:
            when = e.timestamp
            if when is None:
                continue
            extra = e.extra
            if extra and (e.app_protocol == "dns" or "dns_query" in extra or "dns_rrname" in extra):
                self._dns(e, when, extra, dns_touched)
                if e.dst_port in _DNS_PORTS:
                    continue  # DNS bytes are counted as names, not as volume
            sent = e.bytes_out
            if not sent or e.src_ip is None or e.dst_ip is None:
                continue
            if not inside(e.src_ip) or not self._is_outside(e.dst_ip):
                continue
            if _service_answer(e.src_port, e.dst_port):
                continue  # one direction of a flow (NetFlow): our server answering a client who asked for it
            host = self.hosts.get(e.src_ip, when)
            self._add(host, e.dst_ip, epoch_seconds(when), sent, e)
            key = (e.src_ip, e.dst_ip)
            if key in touched:
                touched[key][1].append(e)
            else:
                touched[key] = (host, [e])
        for (src, dst), (host, evs) in touched.items():
            out += self._check_volume(src, dst, host, evs)
        for (src, domain), (window, evs) in dns_touched.items():
            finding = self._check_dns(src, domain, window, evs)
            if finding is not None:
                out.append(finding)
        return out

    def _is_outside(self, address: str) -> bool:
        cached = self._outside.get(address)
        if cached is None:
            if len(self._outside) > 100_000:
                self._outside.clear()
            cached = self._outside[address] = self.assets.is_outside(address)
        return cached

    # -- volume and off hours -----------------------------------------------------------------------

    def _add(self, host: _Host, dst: str, t: float, sent: int, e: Event) -> None:
        # a long flow reported once is spread over the hours it lasted (at least its own hour)
        hour = int(t // HOUR)
        host.hours[hour] = host.hours.get(hour, 0) + sent
        day, hod = divmod(hour, 24)
        host.days[day] = host.days.get(day, 0) | (1 << hod)
        pair = host.pairs.get(dst)
        if pair is None:
            if len(host.pairs) >= self.settings.max_destinations:
                host.pairs.pop(next(iter(host.pairs)))
            pair = host.pairs[dst] = deque()
        pair.append((t, sent))
        if len(pair) > 10_000:
            first_t, first_b = pair.popleft()
            nt, nb = pair.popleft()
            pair.appendleft((nt, nb + first_b))
        while pair and pair[0][0] < t - HOUR:
            pair.popleft()
        if len(host.hours) > self.settings.history_days * 24 + 48:
            self._trim(host, hour)

    def _trim(self, host: _Host, hour: int) -> None:
        keep = hour - self.settings.history_days * 24
        for h in [h for h in host.hours if h < keep]:
            del host.hours[h]
        for d in [d for d in host.days if d < keep // 24]:
            del host.days[d]

    def _baseline(self, host: _Host, current_hour: int) -> tuple[int, float, int]:
        """(active hours, median hour, largest hour) of the host's history before this hour."""
        past = sorted(v for h, v in host.hours.items() if h < current_hour - 1)
        if not past:
            return 0, 0.0, 0
        n = len(past)
        median = past[n // 2] if n % 2 else (past[n // 2 - 1] + past[n // 2]) / 2
        return n, median, past[-1]

    def _check_volume(self, src: str, dst: str, host: _Host, events: list[Event]) -> list[Finding]:
        s = self.settings
        pair = host.pairs.get(dst)
        if not pair:
            return []
        t = pair[-1][0]
        total = sum(b for _, b in pair)
        if total < min(s.floor, s.off_hours_floor):
            return []
        hour = int(t // HOUR)
        n, median, peak = self._baseline(host, hour)
        findings = []
        last = host.reported.get(dst)
        if last is not None and t - last[0] < HOUR and total < 2 * last[1]:
            return []  # already reported this hour; again only if it doubles
        factors: list[Factor] = []
        volume = False
        if n >= s.min_history_hours:
            threshold = max(s.floor, s.ratio * median, s.peak_ratio * peak)
            if total >= threshold:
                volume = True
                factors.append(Factor("volume", scoring.saturating(total / max(threshold, 1), 1.5, 0.9),
                                      f"{data_size(total)} to {dst} within an hour vs a usual {data_size(median)} per active "
                                      f"hour for this host (largest hour in {s.history_days} days: {data_size(peak)})"))
        elif total >= max(s.cold_floor, s.floor):
            volume = True
            factors.append(Factor("volume", 0.5, f"{data_size(total)} to {dst} within an hour "
                                                 f"(no baseline yet for this host: {n} active hours seen)"))
        off = None
        if total >= s.off_hours_floor and (n == 0 or total > max(median, 1) * 2):
            off = self._quiet_hour(host, hour)
        if not volume and off is None:
            return []
        if off is not None:
            days_seen, active = off
            factors.append(Factor("off_hours", 0.45 if volume else 0.55,
                                  f"{data_size(total)} at {hour % 24:02d}:00-{hour % 24:02d}:59 UTC, an hour in which "
                                  f"this host was active on {active} of {days_seen} days"))
        sent = sum(e.bytes_out or 0 for e in events)
        received = sum(e.bytes_in or 0 for e in events)
        long_flows = [e for e in events if (e.duration or 0) >= HOUR]
        if received and sent > 10 * received:
            factors.append(Factor("upload", 0.2, f"upload-dominated: {data_size(sent)} sent, {data_size(received)} received"))
        if long_flows:
            factors.append(Factor("long", 0.15, f"{len(long_flows)} connection(s) lasting over an hour "
                                                f"(longest {max(e.duration or 0 for e in long_flows) / 3600:.1f} h)"))
        ports = sorted({e.dst_port for e in events if e.dst_port is not None})[:20]
        subkind = "volume" if volume else "off_hours"
        severity = Severity.HIGH if volume and (off is not None or total >= 10 * max(s.floor, 1)) else Severity.MEDIUM
        host.reported[dst] = (t, total)
        if len(host.reported) > 64:
            host.reported.pop(next(iter(host.reported)))
        stamps = [epoch_seconds(e.timestamp) for e in events if e.timestamp is not None]
        first = datetime.fromtimestamp(min(stamps, default=t), timezone.utc)
        last_seen = datetime.fromtimestamp(max(stamps, default=t), timezone.utc)
        findings.append(self.finding(
            kind="exfiltration", subkind=subkind, severity=severity, factors=factors,
            recommendation=(f"Find out what {src} sent to {dst}"
                            + (f" (port {', '.join(map(str, ports[:5]))})" if ports else "")
                            + ": ask the owner of the host whether a backup or upload was expected; if not, block "
                            f"{dst} and isolate {src}, and check it for malware or an insider copying data."),
            first_seen=first, last_seen=last_seen, events=events, source=src,
            target=dst, count=len(events), signature=f"{subkind}:{dst}",
            evidence={"bytes_hour": total, "bytes_batch": sent, "bytes_received": received,
                      "baseline_median_hour": median, "baseline_peak_hour": peak, "history_hours": n,
                      "hour_utc": hour % 24, "ports": ports, "destination": dst}))
        return findings

    def _quiet_hour(self, host: _Host, hour: int) -> tuple[int, int] | None:
        """(days seen, days active at this hour ±1) when this hour of day is unusual for the host."""
        today = hour // 24
        past = {d: m for d, m in host.days.items() if d < today}
        if len(past) < self.settings.min_days:
            return None
        hod = hour % 24
        mask = (1 << hod) | (1 << ((hod + 1) % 24)) | (1 << ((hod - 1) % 24))
        active = sum(1 for m in past.values() if m & mask)
        if active <= self.settings.quiet_fraction * len(past):
            return len(past), active
        return None

    # -- state --------------------------------------------------------------------------------------

    def prune(self, now: datetime) -> None:
        self.hosts.prune(now)
        self.dns.prune(now)
        cutoff = int(epoch_seconds(now) // HOUR) - self.settings.history_days * 24
        for _, _, host in self.hosts.items():
            if host.hours and min(host.hours) < cutoff:
                self._trim(host, cutoff + self.settings.history_days * 24)

    def state(self) -> dict[str, Any]:
        hosts = {}
        for key, seen, h in self.hosts.items():
            hosts[key] = {"seen": seen.isoformat(), "hours": {str(k): v for k, v in h.hours.items()},
                          "days": {str(k): v for k, v in h.days.items()},
                          "pairs": {d: [list(x) for x in p] for d, p in h.pairs.items() if p},
                          "reported": {d: list(v) for d, v in h.reported.items()}}
        dns = {}
        for key, seen, w in self.dns.items():
            dns[key] = {"seen": seen.isoformat(), "names": list(w.names)[: self.settings.max_names],
                        "queries": w.queries, "bulk": w.bulk, "chars": w.chars, "high": w.high, "long": w.long,
                        "first": w.first, "last": w.last, "qtypes": dict(w.qtypes), "servers": list(w.servers),
                        "examples": w.examples, "reported": w.reported}
        return {"version": 1, "hosts": hosts, "dns": dns}

    def restore(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("version") != 1:
            return
        for key, d in (state.get("hosts") or {}).items():
            h = _Host()
            h.hours = {int(k): int(v) for k, v in d.get("hours", {}).items()}
            h.days = {int(k): int(v) for k, v in d.get("days", {}).items()}
            h.pairs = {dst: deque((float(t), int(b)) for t, b in p) for dst, p in d.get("pairs", {}).items()}
            h.reported = {dst: (float(v[0]), int(v[1])) for dst, v in d.get("reported", {}).items()}
            self.hosts.put(key, datetime.fromisoformat(d["seen"]), h)
        for key, d in (state.get("dns") or {}).items():
            w = DnsWindow()
            w.names = {n: float(d.get("last", 0)) for n in d.get("names", [])}
            for attr in ("queries", "bulk", "chars", "high", "long", "reported"):
                setattr(w, attr, int(d.get(attr, 0)))
            w.first, w.last = float(d.get("first", 0)), float(d.get("last", 0))
            w.qtypes = Counter({str(k): int(v) for k, v in (d.get("qtypes") or {}).items()})
            w.servers = dict.fromkeys(d.get("servers", []))
            w.examples = list(d.get("examples", []))[:3]
            self.dns.put(key, datetime.fromisoformat(d["seen"]), w)
