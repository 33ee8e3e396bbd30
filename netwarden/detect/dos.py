"""Denial of service: SYN floods, HTTP request floods (one source or many), UDP and ICMP floods.

Every rate is judged against the site's OWN baseline, learned from the traffic itself: per target and
per measure, an exponentially weighted moving average and variance of the per-minute count (``alpha`` 0.05:
the last ~20 minutes weigh most, so a busy hour raises the bar and a quiet night lowers it). A minute is a
flood when its count passes

    max(absolute floor, ratio × usual, usual + sigmas × deviation)

The absolute floors are what no small or medium site sees from one place by accident (5 HTTP requests a
second from one client for a whole minute, 1,000 half-open connections to one server in a minute, 500
UDP or ICMP packets a second to one host); the ratio and the deviation make a busy site's own normal
traffic, including its steady crawlers, the baseline instead of an alarm. A client's own rate has its own,
faster baseline (``source_alpha``): a crawler that has fetched at 15 requests/s for hours is not "sudden",
while the same client jumping from 10/min to 1,000/min is.

Measures (per target = the server address, or for web logs the virtual host or the observer):

- ``syn_flood``: half-open TCP connections (the originator sent SYN and never completed the handshake:
  flows with only SYN from the originator, Zeek ``S0``, netfilter ``SYN`` log lines), counted in packets.
  A vertical port scan is half-open too, so a flood also needs the SYNs to hit few ports (the top ports
  carry ``port_share`` of them); the port scan detector reports the other case.
- ``http_flood``: requests of one source to one site; ``ddos``: all requests to one site, from many sources
  at once, none of them dominant.
- ``udp_flood``/``icmp_flood``: packets of UDP or ICMP flows to one host.

Windows follow event time, never arrival order. Events up to ``late_minutes`` (2) behind the minute being
filled (Suricata writes flows out of order) count into it; older ones — a log imported after a newer one,
a device whose clock is behind — start the target's (and the client's) clock over at their own minute, as
a jump of more than a day does, so an hour of old lines is never lumped into one minute.

A firewall that logs its own flood protection (a log prefix naming a flood or a limit, e.g. ``SYN-FLOOD``,
``RATE-LIMIT``) is counted against ``firewall_flood_floor`` (100 lines a minute): such a LOG rule is usually
rate-limited itself, and the firewall already judged the packets a flood. State is bounded: at most
``max_targets`` targets and ``max_sources`` sources, and at most ``max_bucket_sources`` per minute are
named (a spoofed flood of a million addresses is counted, not remembered).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from netwarden.detect import scoring
from netwarden.detect._rates import DAY, Client, Rate, minute_time
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.windows import KeyedState
from netwarden.records import Event, Factor, Finding, Severity

# measure -> subkind
_MEASURES = {"syn": "syn_flood", "synfw": "syn_flood", "http": "ddos", "udp": "udp_flood", "icmp": "icmp_flood"}
_FLOOD_RULE = re.compile(r"flood|limit|ddos|dos\b|syn.?attack", re.IGNORECASE)  # a firewall rule's log prefix


@register
class DenialOfService(Detector):
    name = "dos"
    description = "floods against the site's own baseline: SYN floods, HTTP request floods, DDoS, UDP/ICMP floods"

    class Settings(DetectorSettings):
        alpha: float = 0.05  # weight of each new minute in the site's baseline (memory ~20 min)
        source_alpha: float = 0.5  # a client's own baseline adapts fast: steady is normal, a jump is not
        ratio: float = 5.0  # a flood is at least this many times the usual rate ...
        sigmas: float = 6.0  # ... and this many deviations above it
        syn_floor: int = 1_000  # half-open connections per minute to one server
        syn_max_ports: int = 3  # a flood hits a service, a scan many ports:
        syn_port_share: float = 0.8  # the top ``syn_max_ports`` ports carry this share of the SYNs
        # requests per minute from one client: 5/s for a whole minute. The busiest real client-minute of the
        # benign access log (a browser loading a page of images) is 108; a page of 100 assets is one burst
        http_source_floor: int = 300
        http_site_floor: int = 3_000  # requests per minute to one site from everyone (50/s)
        ddos_min_sources: int = 20
        ddos_max_share: float = 0.5  # no single source carries this much (else it is an http_flood)
        udp_floor: int = 30_000  # packets per minute to one host (500 pps)
        icmp_floor: int = 6_000  # packets per minute to one host (100 pps; ping sends 1)
        max_targets: int = 10_000
        max_sources: int = 100_000
        max_bucket_sources: int = 2_000
        late_minutes: int = 2  # events this far behind count into the current minute; older restart the clock
        firewall_flood_floor: int = 100  # lines a minute of a firewall's own flood/limit drop rule to one host

    def __init__(self, settings: Any = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        s = self.settings
        self.rates: KeyedState[Rate] = KeyedState(Rate, idle=timedelta(days=2), max_keys=s.max_targets)
        self.clients: KeyedState[Client] = KeyedState(Client, idle=timedelta(hours=2), max_keys=s.max_sources)
        self._time: datetime | None = None  # the last time converted, and its (epoch seconds, minute)
        self._minute = (0.0, 0)
        self._last_rate: tuple[str, datetime, Rate] | None = None  # the rate last got from ``rates``: key, time
        self.floors = {"syn": s.syn_floor, "http": s.http_site_floor, "udp": s.udp_floor, "icmp": s.icmp_floor,
                       "synfw": s.firewall_flood_floor}

    # -- the batch ---------------------------------------------------------------------------------

    def process(self, events: Sequence[Event]) -> list[Finding]:
        out: list[Finding] = []
        self._last_rate = None  # (anything may have changed the table between batches)
        for e in events:
            ts = e.timestamp
            if ts is None:
                continue
            if e.http_method is not None or (e.http_status is not None and e.source_kind == "access_log"):
                target = e.dst_ip or e.extra.get("host") or e.extra.get("vhost") or e.observer or "web"
                self._count("http", str(target)[:256], e, ts, 1, out)
                continue
            transport = e.transport
            if transport == "tcp":
                if e.dst_ip is not None and self._half_open(e):  # no call for the many tcp events without one (sshd's)
                    n = e.packets_out or 1
                    self._count("syn", e.dst_ip, e, ts, n if 0 < n < 10_000_000 else 1, out)
                    if e.source_kind == "firewall" and _FLOOD_RULE.search(str(e.extra.get("prefix") or "")):
                        self._count("synfw", e.dst_ip, e, ts, 1, out)
            elif transport == "udp":
                if e.dst_ip is not None and e.packets_out:
                    self._count("udp", e.dst_ip, e, ts, min(e.packets_out, 10_000_000), out)
            elif transport == "icmp" or transport == "icmpv6":
                if e.dst_ip is not None:
                    n = e.packets_out or 1
                    self._count("icmp", e.dst_ip, e, ts, min(max(n, 1), 10_000_000), out)
        return out

    @staticmethod
    def _half_open(e: Event) -> bool:
        """The originator sent SYN and never acknowledged the answer (whatever the server replied)."""
        extra = e.extra
        if extra:
            state = extra.get("conn_state")
            if state is not None:  # Zeek: S0 = SYN seen, no reply ever completed (REJ, a closed port, is a scan's)
                return state == "S0"
            flags_out = extra.get("flags_out")
            if flags_out is not None:  # our flow table: what the originator sent
                return "SYN" in flags_out and "ACK" not in flags_out
        flags = e.tcp_flags
        if flags is None:
            return False
        # a single-packet log line (netfilter, MikroTik: the packet's flags), or a flow whose flags only show SYN
        return flags == "SYN" or flags == "S" or (e.source_kind == "firewall" and "SYN" in flags and "ACK" not in flags)

    # -- counting and deciding ---------------------------------------------------------------------

    def _count(self, measure: str, target: str, e: Event, ts: datetime, n: int, out: list[Finding]) -> None:
        s = self.settings
        if ts is self._time:  # a parser hands the lines of one second the same time: converted once for them
            epoch, minute = self._minute
        else:
            epoch = ts.timestamp() if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc).timestamp()
            minute = int(epoch // 60)
            self._time, self._minute = ts, (epoch, minute)
        key = f"{measure}|{target}"
        last = self._last_rate
        if last is not None and last[1] is ts and last[0] == key:
            rate = last[2]  # the table's most recent key, at the same time: getting it again would change nothing
        else:
            rate = self.rates.get(key, ts)
            self._last_rate = (key, ts, rate)
        if minute > rate.minute or minute < rate.minute - s.late_minutes:
            if minute < rate.minute:
                rate.minute = -1  # older than the clock: another timeline (an older log), not late events
                rate.mean = rate.var = 0.0
                rate.minutes = rate.streak = 0
            rate.roll(minute, s.alpha)
            rate.threshold = self._threshold(measure, rate)
        rate.count += n
        if rate.first is None or ts < rate.first:
            rate.first = ts
        if rate.last is None or ts > rate.last:
            rate.last = ts
        src = e.src_ip
        if src is not None:
            sources = rate.sources
            if src in sources:
                sources[src] += n
            elif len(sources) < s.max_bucket_sources:
                sources[src] = n
            else:
                rate.other_sources += 1
        if measure in ("syn", "synfw") and e.dst_port is not None:
            ports = rate.ports
            if e.dst_port in ports:
                ports[e.dst_port] += n
            elif len(ports) < 1000:
                ports[e.dst_port] = n
        if measure == "http" and src is not None:
            finding = self._client(src, target, e, ts, epoch, minute, rate)
            if finding is not None:
                out.append(finding)
        if rate.count >= rate.threshold and (rate.alerted == 0 or rate.count >= 2 * rate.alerted):
            finding = self._site(measure, target, rate, e)
            if finding is not None:
                rate.alerted = rate.count
                out.append(finding)

    def _threshold(self, measure: str, rate: Rate) -> float:
        """The count that makes a flood of the current minute, from the baseline before it."""
        s = self.settings
        usual = rate.mean
        dev = math.sqrt(max(rate.var, 0.0) + usual)  # Poisson noise at least: sd ≥ √mean
        return max(self.floors[measure], s.ratio * usual, usual + s.sigmas * dev)

    def _client(self, src: str, target: str, e: Event, ts: datetime, epoch: float, minute: int,
                site: Rate) -> Finding | None:
        s = self.settings
        c = self.clients.get(f"{src}|{target}", ts)
        if minute < c.minute - s.late_minutes:  # an older timeline (see _count)
            c.minute, c.count, c.prev, c.mean, c.minutes = -1, 0, 0, 0.0, 0
            c.alerted_minute, c.alerted_level = -10, 0.0
        if minute > c.minute:
            if c.minute >= 0:
                gap = minute - c.minute
                a = s.source_alpha
                if gap > DAY:
                    c.mean, c.minutes = 0.0, 0
                else:
                    c.mean = c.mean + a * (c.count - c.mean) if c.minutes else float(c.count)
                    c.mean *= (1 - a) ** min(gap - 1, 100)
                    c.minutes += 1
                c.prev = c.count if gap == 1 else 0
            c.minute, c.count = minute, 0
        c.count += 1
        if e.user_agent and c.agent is None:
            c.agent = e.user_agent[:256]
        # requests in the last 60 s, estimated from this minute and the share of the previous one still in
        # the window (a burst that straddles a minute boundary is not cut in two)
        left = 1.0 - (epoch / 60 - minute)  # (comparisons, not max(): a call per request)
        count = int(c.prev * left + c.count) if left > 0.0 else c.count
        if count < s.http_source_floor or count < s.ratio * c.mean \
                or (minute - c.alerted_minute < 2 and count < 2 * c.alerted_level):
            return None  # one finding per client every two minutes, sooner only if its rate doubled
        c.alerted_minute, c.alerted_level = minute, float(count)
        usual_site = site.mean
        share = count / max(site.count, 1)
        first = site.first or ts
        factors = [Factor("request_rate", scoring.saturating(count / s.http_source_floor, 2, 0.9),
                          f"{count:,} requests in this minute from {src} (the floor is {s.http_source_floor:,}/min)")]
        if c.minutes:
            factors.append(Factor("sudden", scoring.saturating(count / max(c.mean, 1.0), s.ratio * 2, 0.7),
                                  f"this client usually makes {c.mean:,.0f} requests/min"))
        else:
            factors.append(Factor("sudden", 0.3, "a client not seen in the last minutes"))
        if site.minutes >= 10:
            factors.append(Factor("site_baseline", scoring.saturating(count / max(usual_site, 1.0), 10 * s.ratio, 0.8),
                                  f"{count:,} requests/min vs a usual {usual_site:,.0f}/min for the whole site"))
        if share >= 0.5:
            factors.append(Factor("share", 0.3, f"{share:.0%} of the site's requests this minute"))
        # medium once the client is also far above what the whole site usually gets, or very fast;
        # a new, steady crawler's first minutes stay low (its own baseline learns it at once)
        extreme = count >= 10 * s.http_source_floor
        above_site = site.minutes >= 10 and count >= 10 * s.ratio * max(usual_site, 1.0)
        seen_before = c.minutes > 0  # it had a (lower) rate of its own before: this is a jump, not a start
        sev = Severity.HIGH if extreme and above_site else (
            Severity.MEDIUM if extreme or seen_before else Severity.LOW)
        agent = c.agent
        return self.finding(
            kind="dos", subkind="http_flood", severity=sev, factors=factors,
            recommendation=(f"Rate-limit or block {src} for {target} (nginx limit_req / a firewall rule); "
                            f"if it is a crawler (user agent {agent!r}), slow it in robots.txt (Crawl-delay) "
                            "or contact its operator." if agent else
                            f"Rate-limit or block {src} for {target} (nginx limit_req / a firewall rule)."),
            first_seen=first, last_seen=ts, source=src, target=target, count=count,
            signature=f"http_flood:{target}",
            evidence={"requests_this_minute": count, "client_usual_per_min": round(c.mean, 1),
                      "site_usual_per_min": round(usual_site, 1), "site_this_minute": site.count,
                      "user_agent": agent, "minute": minute_time(minute).isoformat()},
            events=[e])

    def _site(self, measure: str, target: str, rate: Rate, e: Event) -> Finding | None:
        s = self.settings
        count = rate.count
        sources = rate.sources
        distinct = len(sources) + rate.other_sources
        top = sorted(sources.items(), key=lambda kv: -kv[1])[:10]
        top_share = top[0][1] / count if top else 0.0
        subkind = _MEASURES[measure]
        if measure in ("syn", "synfw"):
            ports = sorted(rate.ports.items(), key=lambda kv: -kv[1])
            covered = sum(v for _, v in ports[:s.syn_max_ports])
            if ports and covered < s.syn_port_share * count:
                return None  # half-open to many ports: a port scan, not a flood
        if measure == "http":
            if distinct < s.ddos_min_sources or top_share >= s.ddos_max_share:
                return None  # one client: its http_flood finding says it
        usual = rate.mean
        unit = {"syn": "half-open connections", "synfw": "drops by the firewall's flood rule", "http": "requests",
                "udp": "UDP packets", "icmp": "ICMP packets"}[measure]
        learned = rate.minutes >= 10
        detail = f"{count:,} {unit} in one minute to {target}"
        detail += f" vs a usual {usual:,.0f}/min" if learned else f" (no baseline yet; the floor is {self.floors[measure]:,}/min)"
        factors = [Factor("rate", scoring.saturating(count / self.floors[measure], 2, 0.9), detail)]
        if learned:
            factors.append(Factor("above_baseline", scoring.saturating(count / max(usual, 1.0), 10 * s.ratio, 0.85),
                                  f"{count / max(usual, 1.0):,.0f}× the usual rate"))
        if distinct >= s.ddos_min_sources:
            factors.append(Factor("many_sources", scoring.saturating(distinct, 100, 0.6),
                                  f"from {distinct:,}{'+' if rate.other_sources else ''} source addresses"
                                  + (" (spoofed or a botnet)" if measure != "http" else "")))
        if rate.streak:
            factors.append(Factor("sustained", scoring.saturating(rate.streak + 1, 3, 0.6),
                                  f"{rate.streak + 1} flooded minutes in a row"))
        evidence: dict[str, Any] = {"count_this_minute": count, "usual_per_min": round(usual, 1),
                                    "baseline_minutes": rate.minutes, "distinct_sources": distinct,
                                    "top_sources": [[a, n] for a, n in top], "minute": minute_time(rate.minute).isoformat()}
        port_text = ""
        if measure in ("syn", "synfw"):
            ports = sorted(rate.ports.items(), key=lambda kv: -kv[1])[:5]
            evidence["ports"] = [[p, n] for p, n in ports]
            port_text = ",".join(str(p) for p, _ in ports[:s.syn_max_ports])
            factors.append(Factor("few_ports", 0.4, f"to port{'s' if len(ports) > 1 else ''} {port_text}"))
        single = top_share >= s.ddos_max_share and top
        source = top[0][0] if single else None
        severity = Severity.HIGH if (count >= 5 * self.floors[measure] or rate.streak >= 1) else Severity.MEDIUM
        who = f"from {source}" if source else f"from {distinct:,} addresses"
        if measure in ("syn", "synfw"):
            rec = (f"SYN flood {who} against {target}:{port_text}: make sure SYN cookies are on "
                   "(sysctl net.ipv4.tcp_syncookies=1), rate-limit new connections per source at the firewall"
                   + (f", block {source}" if source else "; the sources are likely spoofed, so ask the upstream "
                      "provider to filter") + ".")
        elif measure == "http":
            rec = (f"Request flood {who} against {target}: enable rate limiting (nginx limit_req, a CDN or the "
                   "upstream provider's DDoS protection), block the busiest sources listed in the evidence, and "
                   "serve static copies of the hot pages.")
        else:
            rec = (f"{unit.split()[0]} flood {who} against {target}: drop or rate-limit {unit.split()[0]} to "
                   f"{target} at the edge" + (f", block {source}" if source else ", and ask the upstream provider "
                                              "to filter (the sources may be spoofed)") + ".")
        new = count - rate.alerted
        return self.finding(
            kind="dos", subkind=subkind, severity=severity, factors=factors, recommendation=rec,
            first_seen=rate.first or e.timestamp, last_seen=rate.last or e.timestamp, source=source,
            target=target, count=max(new, 1), signature=f"{subkind}:{target}" + (f":{port_text}" if port_text else ""),
            evidence=evidence, events=[e])

    # -- state -------------------------------------------------------------------------------------

    def prune(self, now: datetime) -> None:
        self.rates.prune(now)
        self.clients.prune(now)

    def state(self) -> dict[str, Any]:
        return {"rates": [[k, seen.isoformat(), r.to_json()] for k, seen, r in self.rates.items()],
                "clients": [[k, seen.isoformat(), [c.minute, c.count, c.mean, c.minutes]]
                            for k, seen, c in self.clients.items()]}

    def restore(self, state: dict[str, Any]) -> None:
        for item in state.get("rates", []) or []:
            try:
                key, seen, value = item
                measure = str(key).partition("|")[0]
                if measure not in self.floors:
                    continue
                rate = Rate.from_json(value)
                rate.threshold = self._threshold(measure, rate)  # not saved; 0 would make any minute a flood
                self.rates.put(str(key), datetime.fromisoformat(seen), rate)
            except (TypeError, ValueError, IndexError):
                continue
        for item in state.get("clients", []) or []:
            try:
                key, seen, value = item
                c = Client()
                c.minute, c.count, c.mean, c.minutes = int(value[0]), int(value[1]), float(value[2]), int(value[3])
                self.clients.put(str(key), datetime.fromisoformat(seen), c)
            except (TypeError, ValueError, IndexError):
                continue
