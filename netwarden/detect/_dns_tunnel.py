"""DNS tunnelling, for the exfiltration detector: many unique, random-looking or long names under one
registered domain from one inside host, TXT/NULL queries in bulk. Per (host, domain) a :class:`DnsWindow`
counts the queries; ``DnsTunnelling`` is the detector's half that reads DNS events and reports."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from netwarden.detect import scoring
from netwarden.detect.base import DetectorPart
from netwarden.detect.windows import epoch_seconds
from netwarden.records import Event, Factor, Finding, Severity
from netwarden.text import data_size

# second-level labels under which registrations happen one level deeper (example.co.uk); without a
# public-suffix list this covers the common cases
_SLD = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go", "gob", "mil", "nic", "ltd",
                  "plc", "sch", "nhs", "police", "info", "biz", "web", "nom"})
_TUNNEL_QTYPES = frozenset({"TXT", "NULL", "10", "16", "ANY", "255", "PRIVATE", "MX", "CNAME", "SRV"})
_BULK_QTYPES = frozenset({"TXT", "NULL", "10", "16"})


def registered_domain(name: str) -> tuple[str, str]:
    """("sub.part", "example.co.uk") of a query name, lower case, without the trailing dot."""
    labels = name.lower().rstrip(".").split(".")
    n = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SLD else 2
    return ".".join(labels[:-n]), ".".join(labels[-n:])


def entropy(text: str) -> float:
    """Shannon entropy in bits per character (random base32 ≈ 4.5+ for 50 characters; words ≈ 3)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


class DnsWindow:
    __slots__ = ("names", "queries", "bulk", "chars", "high", "long", "first", "last", "qtypes", "servers",
                 "examples", "reported")

    def __init__(self) -> None:
        self.names: dict[str, float] = {}  # unique subdomain part -> last seen (bounded)
        self.queries = 0
        self.bulk = 0  # TXT/NULL queries
        self.chars = 0  # characters of unique subdomains (what could carry data)
        self.high = 0  # unique names that look random (entropy) ...
        self.long = 0  # ... or are long
        self.first = 0.0
        self.last = 0.0
        self.qtypes: Counter[str] = Counter()
        self.servers: dict[str, None] = {}
        self.examples: list[str] = []
        self.reported = 0  # unique names when last reported


class DnsTunnelling(DetectorPart):
    """The DNS half of :class:`~netwarden.detect.exfiltration.ExfiltrationDetector` (a mixin: it uses the
    detector's settings, windows and ``finding``)."""

    dns: Any  # the detector's windows: (host, domain) -> DnsWindow

    def _dns(self, e: Event, when: datetime, extra: dict[str, Any],
             touched: dict[tuple[str, str], tuple[DnsWindow, list[Event]]]) -> None:
        if extra.get("dns_type") not in (None, "query"):
            return  # Suricata logs the answer too: count each question once
        if e.src_ip is None:
            return
        many = extra.get("dns_queries")  # a capture flow that carried several questions
        if isinstance(many, list) and many:
            for item in many[:50]:
                if isinstance(item, (list, tuple)) and item:
                    self._question(e, when, item[0], item[1] if len(item) > 1 else None, touched)
            return
        self._question(e, when, extra.get("dns_query") or extra.get("dns_rrname"),
                       extra.get("dns_qtype") or extra.get("dns_rrtype"), touched)

    def _question(self, e: Event, when: datetime, name: Any, qtype: Any,
                  touched: dict[tuple[str, str], tuple[DnsWindow, list[Event]]]) -> None:
        if not isinstance(name, str) or len(name) < 12:
            return
        sub, domain = registered_domain(name[:300])
        if not sub or domain.endswith(self._allow) and any(
                domain == a or domain.endswith("." + a) for a in self._allow):
            return
        key = f"{e.src_ip} {domain}"
        window = self.dns.get(key, when)
        t = epoch_seconds(when)
        s = self.settings
        if window.queries and t - window.first > s.dns_window:
            window.__init__()  # a new window
        if not window.queries:
            window.first = t
        window.queries += 1
        window.last = max(window.last, t)
        qt = str(qtype).upper() if qtype is not None else ""
        if qt:
            window.qtypes[qt] += 1
            if qt in _BULK_QTYPES:
                window.bulk += 1
        if e.dst_ip and len(window.servers) < 10:
            window.servers[e.dst_ip] = None
        if sub not in window.names and len(window.names) < s.max_names:
            window.names[sub] = t
            window.chars += len(sub)
            letters = sub.replace(".", "")
            if len(letters) >= s.dns_long_length:
                window.long += 1
            elif len(letters) >= s.dns_min_length and entropy(letters) >= s.dns_min_entropy:
                window.high += 1
            elif len(letters) >= 12 and entropy(letters) >= s.dns_min_entropy + 0.3:
                window.high += 1  # shorter but very random (a hex/base32 chunk)
            if len(window.examples) < 3 and len(letters) >= s.dns_min_length:
                window.examples.append(name[:120])
        k = (e.src_ip, domain)
        if k in touched:
            if touched[k][1][-1] is not e:
                touched[k][1].append(e)
        else:
            touched[k] = (window, [e])

    def _check_dns(self, src: str, domain: str, w: DnsWindow, events: list[Event]) -> Finding | None:
        s = self.settings
        unique = len(w.names)
        suspicious = w.high + w.long
        names_hit = suspicious >= s.dns_min_unique and suspicious >= 0.5 * unique
        bulk_hit = w.bulk >= s.dns_min_bulk and unique >= s.dns_min_unique // 2 and suspicious >= 0.3 * unique
        if not (names_hit or bulk_hit):
            return None
        if w.reported and unique < 2 * w.reported:
            return None  # already reported this window; again when it doubles
        w.reported = unique
        span = max(w.last - w.first, 1.0)
        avg = w.chars / max(unique, 1)
        factors = [Factor("unique_subdomains", scoring.saturating(unique, s.dns_min_unique * 2, 0.8),
                          f"{unique} unique subdomains of {domain} in {span / 60:.0f} min from {src}"),
                   Factor("random_names", scoring.saturating(suspicious / max(unique, 1), 0.5, 0.7),
                          f"{suspicious} of them long or random-looking (average {avg:.0f} characters)")]
        if w.bulk:
            factors.append(Factor("txt_null", scoring.saturating(w.bulk, s.dns_min_bulk, 0.6),
                                  f"{w.bulk} TXT/NULL queries (a tunnel's return channel)"))
        encoded = w.chars * 5 // 8  # base32-style names carry about 5 bits per character
        factors.append(Factor("encoded_bytes", 0.1, f"about {data_size(encoded)} could be encoded in those names"))
        first = datetime.fromtimestamp(w.first, timezone.utc)
        last = datetime.fromtimestamp(max(w.last, w.first), timezone.utc)
        return self.finding(
            kind="exfiltration", subkind="dns_tunnel", severity=Severity.HIGH, factors=factors,
            recommendation=(f"Check {src} for DNS tunnelling software (iodine, dnscat2, malware) talking to {domain}; "
                            f"block the domain {domain} at your DNS resolver and allow outbound DNS only from "
                            f"the resolver."),
            first_seen=first, last_seen=last, events=events, source=src,
            target=domain, count=len(events), signature=f"dns_tunnel:{domain}",
            evidence={"domain": domain, "unique_subdomains": unique, "suspicious_names": suspicious,
                      "queries": w.queries, "txt_null": w.bulk, "qtypes": dict(w.qtypes.most_common(5)),
                      "resolvers": list(w.servers), "examples": list(w.examples), "average_length": round(avg, 1)})
