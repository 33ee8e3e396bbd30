"""Traffic with addresses on threat-intelligence blocklists, in both directions.

* ``outbound``: an inside host contacted a listed address (the listed side is the responder). This is at
  least as serious as the other way round: a host that talks to a botnet C2 or a known malicious server
  may be compromised. Answered (bytes came back, the connection was established, an HTTP status) is high
  severity — critical when the listing is a malware/C2 feed or IPsum puts it on many lists; refused or
  blocked is medium (something inside *tried*).
* ``inbound``: a listed address reached us. Mostly background noise from known scanners, so it is low
  when blocked or unanswered, medium when it was answered (it got a response from one of our services).

Only the *other* side of the conversation is looked up: our own addresses (``[network] home``) and, by
default, private/loopback/multicast/reserved addresses are never "listed" (FireHOL level1 includes the
bogons; see ``netwarden.enrich.intel``). The feeds are loaded once per process and re-read when a file
changes. One finding per (direction, listed address) per batch; the engine merges repeats into one alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from netwarden.detect import scoring
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.enrich.intel import EXAMPLE_FEED, IntelIndex, Match, shared_index
from netwarden.records import Event, Factor, Finding, Severity

_BLOCKED = frozenset({"blocked", "block", "dropped", "drop", "deny", "denied", "reject", "rejected"})
# Zeek conn_state values meaning the responder never answered (S0, REJ: refused; OTH without bytes ...)
_UNANSWERED_STATES = frozenset({"S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR"})
_ANSWERED_STATES = frozenset({"SF", "S1", "S2", "S3", "RSTO", "RSTR"})
# feeds whose entries are malware infrastructure: any answered outbound contact is critical
_C2_WORDS = ("feodo", "c2", "botnet", "malware", "ransomware", "sslbl", "threatfox", "urlhaus")
MAX_PORTS = 20


@register
class IntelDetector(Detector):
    name = "intel"
    description = "traffic to or from an address on a threat-intelligence blocklist (both directions)"

    class Settings(DetectorSettings):
        feeds: list[str] = Field(default_factory=lambda: [EXAMPLE_FEED])  # feed files (see netwarden intel)
        min_score: float = 1  # entries with a lower score (IPsum count) are not loaded
        flag_private: bool = False  # private/bogon addresses listed by a feed (FireHOL level1) are not flagged
        reload_every: float = Field(5.0, ge=0)  # seconds between checks of the feed files for changes
        inbound: bool = True  # report listed addresses reaching us (scanners: mostly low severity)
        outbound: bool = True  # report inside hosts contacting listed addresses
        # IPsum counts: weight of the listing grows with the number of lists (half weight at this count)
        score_half: float = 3.0
        # an IPsum-only listing below this count is weak evidence: low severity inbound, medium outbound
        # (the IPsum author suggests >= 3 for blocking)
        strong_score: float = 3.0

    def __init__(self, settings: Any = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        s = self.settings
        self.index: IntelIndex = shared_index(s.feeds, min_score=s.min_score, flag_private=s.flag_private,
                                              reload_every=s.reload_every)

    def process(self, events: Sequence[Event]) -> list[Finding]:
        index = self.index
        index.maybe_reload()
        lookup = index.lookup
        inside = self.assets.is_inside
        inbound_on, outbound_on = self.settings.inbound, self.settings.outbound
        groups: dict[tuple[str, str], list[Event]] = {}
        matches: dict[str, Match] = {}
        for e in events:
            src, dst = e.src_ip, e.dst_ip
            if src is not None and inbound_on:
                m = lookup(src)
                if m is not None and not inside(src):
                    matches[src] = m
                    groups.setdefault(("inbound", src), []).append(e)
            if dst is not None and outbound_on:
                m = lookup(dst)
                if m is not None and not inside(dst):
                    matches[dst] = m
                    groups.setdefault(("outbound", dst), []).append(e)
        return [self._finding(direction, address, matches[address], evs)
                for (direction, address), evs in groups.items()]

    # -- one finding --------------------------------------------------------------------------------

    def _finding(self, direction: str, address: str, match: Match, events: list[Event]) -> Finding:
        times = [e.timestamp for e in events if e.timestamp is not None]
        first: datetime = min(times) if times else datetime.min
        last: datetime = max(times) if times else first
        peers = _distinct((e.src_ip if direction == "outbound" else e.dst_ip) for e in events)
        ports = _distinct(e.dst_port for e in events if e.dst_port is not None)
        answered = sum(1 for e in events if _answered(e))
        blocked = sum(1 for e in events if (e.action or "").lower() in _BLOCKED)
        sent = sum(e.bytes_out or 0 for e in events)
        received = sum(e.bytes_in or 0 for e in events)
        feeds = match.feeds
        c2 = any(w in " ".join(f.lower() for f in feeds) + " " +
                 " ".join((x.category or "").lower() for x in match.listings) for w in _C2_WORDS)
        score = match.score

        factors = [Factor("listed", self._listing_weight(match), f"{address} is {match.describe()}")]
        if score is not None and any("ipsum" in f.lower() for f in feeds):
            factors.append(Factor("reputation_score", scoring.saturating(score, self.settings.score_half, 0.9),
                                  f"IPsum: on {score:g} blocklist{'s' if score != 1 else ''}"))
        peer_text = ", ".join(peers[:3]) + (f" and {len(peers) - 3} more" if len(peers) > 3 else "")
        port_text = ", ".join(map(str, ports[:8])) + (" ..." if len(ports) > 8 else "")
        if direction == "outbound":
            factors.append(Factor("outbound", 0.35, f"inside host {peer_text} contacted it"
                                  + (f" on port {port_text}" if ports else "")))
        else:
            factors.append(Factor("inbound", 0.1, f"it reached {peer_text or 'us'}"
                                  + (f" on port {port_text}" if ports else "")))
        if answered:
            factors.append(Factor("answered", 0.4 if direction == "outbound" else 0.2,
                                  f"{answered} of {len(events)} connection{'s' if len(events) > 1 else ''} answered; "
                                  f"{_size(sent)} sent, {_size(received)} received"))
        if blocked:
            factors.append(Factor("blocked", 0.0, f"{blocked} of {len(events)} blocked by the firewall/IDS"))
        if c2:
            factors.append(Factor("malware_feed", 0.5, f"listed as malware infrastructure ({', '.join(feeds)})"))

        # a "weak" listing is only an aggregator's low count (IPsum on 1-2 lists: often shared hosting,
        # crawlers, old scanners); a curated list (DROP, FireHOL, DShield, Feodo, a CSV the admin chose) is strong
        strong = any("ipsum" not in f.lower() for f in feeds) or (score or 0) >= self.settings.strong_score
        if direction == "outbound":
            if answered and (c2 or (score or 0) >= 5):
                severity = Severity.CRITICAL
            elif answered:
                severity = Severity.HIGH if strong else Severity.MEDIUM
            elif c2:
                severity = Severity.HIGH
            else:
                severity = Severity.MEDIUM if strong else Severity.LOW
            host = peers[0] if len(peers) == 1 else f"the {len(peers)} inside hosts {peer_text}"
            recommendation = (
                f"Block {address} at the firewall in both directions; examine {host} for malware "
                f"(processes and scheduled tasks with connections to {address}"
                + (f" port {port_text}" if ports else "") + "), and look for other hosts contacting it"
                + (". Data was exchanged: treat the host as compromised until cleared." if answered else "."))
        else:
            severity = Severity.MEDIUM if answered and not blocked and strong else Severity.LOW
            target = peer_text or "your hosts"
            recommendation = (
                f"Block {address} at the firewall (it is on {', '.join(feeds)});"
                + (f" it got answers from {target}: check that host's logs for what it did after "
                   f"{first:%Y-%m-%d %H:%M}." if answered and not blocked else
                   " the attempts were refused or blocked; no further action needed unless it persists."))
        evidence: dict[str, Any] = {
            "direction": direction, "listed_address": address, "feeds": feeds, "network": match.network,
            "listings": [{"feed": x.feed, "network": x.network, **({"score": x.score} if x.score is not None else {}),
                          **({"category": x.category} if x.category else {})} for x in match.listings[:5]],
            "ports": ports[:MAX_PORTS], "peers": peers[:MAX_PORTS], "answered": answered, "blocked": blocked,
            "bytes_sent": sent, "bytes_received": received,
        }
        if score is not None:
            evidence["score"] = score
        return self.finding(
            kind="intel", subkind=direction, severity=severity, factors=factors, recommendation=recommendation,
            first_seen=first, last_seen=last, events=events, source=address,
            target=peers[0] if len(peers) == 1 else ("(several)" if peers else None), count=len(events),
            signature=f"{direction}:{'+'.join(feeds)}:{match.network}", evidence=evidence)

    def _listing_weight(self, match: Match) -> float:
        """Each feed is independent evidence: a curated list (DROP, FireHOL, Feodo) 0.5, an aggregated
        count-1 IPsum entry much less; two lists agreeing add up (noisy-OR)."""
        remaining = 1.0
        for feed in match.feeds:
            entries = [x for x in match.listings if x.feed == feed]
            score = max((x.score for x in entries if x.score is not None), default=None)
            if score is not None and "ipsum" in feed.lower():
                weight = min(0.6, 0.15 + 0.08 * score)
            else:
                weight = 0.5
            remaining *= 1.0 - weight
        return round(1.0 - remaining, 4)


def _answered(e: Event) -> bool:
    """Did the listed side's peer get a real answer (not a refusal, not silence)?"""
    if (e.action or "").lower() in _BLOCKED:
        return False
    extra = e.extra or {}
    state = extra.get("conn_state")  # Zeek
    if state in _UNANSWERED_STATES:
        return False
    if state in _ANSWERED_STATES:
        return True
    flags_in = extra.get("flags_in")  # packet captures: the responder's own flags
    if e.transport == "tcp" and isinstance(flags_in, str):
        return ("SYN" in flags_in and "ACK" in flags_in) or ((e.bytes_in or 0) > 0 and "RST" not in flags_in)
    if e.transport == "tcp" and e.tcp_flags and e.http_status is None:
        flags = e.tcp_flags.upper()  # cumulative flags (Suricata): SYN then RST and nothing else is a refusal
        if "RST" in flags and "FIN" not in flags and "PSH" not in flags:
            return False
    if e.http_status is not None or (e.bytes_in or 0) > 0 or (e.packets_in or 0) > 0:
        return True
    return e.outcome == "success"


def _distinct(values: Any) -> list[Any]:
    out: dict[Any, None] = {}
    for v in values:
        if v is not None:
            out[v] = None
            if len(out) >= 100:
                break
    return list(out)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size} B"
