"""Alerts that an IDS already raised (Suricata ``eve.json`` alert events), as NetWarden alerts.

A site that runs Suricata wants its verdicts in the same place as everything else, merged per source
so that 131 hits of one scan signature are one alert with a count, linked into the source's incident,
and answerable with the same acknowledge / false-positive workflow. Suricata's severity (1 most
severe) maps to high / medium / low; a flow the IPS already dropped is one step less urgent.

Policy and informational rules (``ET POLICY``, ``ET INFO``, ``ET HUNTING``, games/chat/P2P, Suricata's
own decoder and stream events, and the classtypes "Not Suspicious Traffic", "Potential Corporate Privacy
Violation", "Unknown Traffic", "Misc activity", "Generic Protocol Command Decode") describe what people on
the network do — a cloud backup, curl, a game — not an attack, whatever severity the rule carries: they
are low, with a weak factor, so ordinary users never reach the block line on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.records import Event, Factor, Finding, Severity

_SEVERITY = {1: Severity.HIGH, 2: Severity.MEDIUM, 3: Severity.LOW, 4: Severity.LOW}
_WEIGHT = {1: 0.85, 2: 0.65, 3: 0.45, 4: 0.3}
_DOWNGRADE = {Severity.HIGH: Severity.MEDIUM, Severity.MEDIUM: Severity.LOW, Severity.LOW: Severity.LOW}
_SLUG = re.compile(r"[^a-z0-9]+")
_INFORMATIONAL_RULE = re.compile(r"^(?:ET (?:POLICY|INFO|HUNTING|GAMES|CHAT|P2P|INAPPROPRIATE)|GPL (?:POLICY|INFO|CHAT|P2P)"
                                 r"|SURICATA )", re.IGNORECASE)
_INFORMATIONAL_CLASS = frozenset({"not suspicious traffic", "potential corporate privacy violation", "unknown traffic",
                                  "misc activity", "generic protocol command decode",
                                  "detection of a non-standard protocol or event"})


@register
class IdsAlerts(Detector):
    name = "ids"
    description = "alerts raised by an IDS (Suricata eve.json), merged per source and category"

    class Settings(DetectorSettings):
        # Suricata severity above this number (less severe) is ignored; 3 keeps all but informational
        max_severity: int = 3

    def process(self, events: Sequence[Event]) -> list[Finding]:
        findings = []
        for e in events:
            extra = e.extra
            if e.source_kind != "suricata" or extra.get("event_type") != "alert":
                continue
            level = extra.get("severity")
            level = level if isinstance(level, int) and 1 <= level <= 4 else 3
            if level > self.settings.max_severity or e.timestamp is None:
                continue
            signature = str(extra.get("signature") or "unnamed signature")[:200]
            sid = extra.get("signature_id")
            category = str(extra.get("category") or "uncategorised")
            severity = _SEVERITY[level]
            blocked = e.action == "blocked"
            if blocked:
                severity = _DOWNGRADE[severity]
            target = e.dst_ip  # the port goes to the evidence: one alert per source for all ports of a host
            where = f"{target}:{e.dst_port}" if target and e.dst_port is not None else target
            factors = [Factor("ids_signature", _WEIGHT[level],
                              f"Suricata: {signature} (sid {sid}, severity {level})")]
            if _INFORMATIONAL_RULE.match(signature) or category.lower() in _INFORMATIONAL_CLASS:
                severity = Severity.LOW
                factors = [Factor("ids_signature", _WEIGHT[4], f"Suricata: {signature} (sid {sid}, severity {level}): "
                                                               f"a policy or informational rule ({category})")]
            if blocked:
                factors.append(Factor("blocked", 0.0, "the IPS dropped it"))
            findings.append(self.finding(
                kind="ids", subkind=_SLUG.sub("_", category.lower()).strip("_")[:64] or "alert",
                severity=severity, factors=factors, source=e.src_ip, target=target, count=1,
                signature=f"sid:{sid}", first_seen=e.timestamp, last_seen=e.timestamp, events=[e],
                evidence={"signatures": [signature], "sids": [sid], "categories": [category],
                          "targets": [where] if where else []},
                recommendation=(f"Suricata flagged traffic from {e.src_ip} to {where}: '{signature}'. "
                                + ("The IPS already dropped it; " if blocked else "")
                                + "look up sid {sid} to judge it, and block the source if it is outside "
                                  "and the traffic is not expected.".format(sid=sid))))
        return findings
