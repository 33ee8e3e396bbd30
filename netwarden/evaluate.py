"""Measuring the detectors on labelled input: per alert kind, true/false positives and negatives.

Input is anything NetWarden reads. Ground truth comes from the events' own ``label`` (flow datasets:
NSL-KDD, UNSW-NB15, CICFlowMeter, labelled Zeek/Argus), or from the evaluator: ``attackers`` maps an
address to the kind of attack it performs (every event from or to it is that attack, the rest benign),
and ``all_benign`` declares a whole input normal traffic.

An event counts as detected for kind K when an alert of kind K was raised from it (the detectors report
the events behind a finding in evaluation mode), or when an alert of kind K is about the event's source
(for alerts without a source, such as a distributed flood: its target) and the event falls within the
alert's time span widened by the merge window — an alert about a scanner covers the scanner's packets
before the threshold too, as an administrator reading it would understand. Rates are per event:

- precision = TP / (TP + FP), recall = TP / (TP + FN), false-positive rate = FP / (FP + TN)
- the row ``any`` ignores the kind: an attack event flagged by any detector is found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from netwarden.detect.engine import DetectionEngine
from netwarden.records import Event
from netwarden.store.database import Database

BENIGN_LABELS = re.compile(r"^(normal|benign|background|legitimate|0|false|none|-)$|^flow=(background|normal)",
                           re.IGNORECASE)
# Dataset attack names -> the alert kind that should catch them (None: no rule detector claims them)
KIND_OF_LABEL: tuple[tuple[re.Pattern[str], str | None], ...] = tuple((re.compile(p, re.IGNORECASE), k) for p, k in (
    (r"portsweep|ipsweep|nmap|satan|mscan|saint|reconnaissance|portscan|port.?scan|scan", "port_scan"),
    (r"neptune|smurf|teardrop|\bpod\b|back|land|apache2|mailbomb|processtable|udpstorm|dos|ddos|flood"
     r"|hulk|slowloris|slowhttptest|goldeneye", "dos"),
    (r"guess_passwd|ftp_write|brute|patator|hydra|snmpguess", "brute_force"),
    (r"web.?attack|sql|xss|injection|phf|traversal", "web_attack"),
    (r"exfiltration|infiltration", "exfiltration"),
))


def expected_kind(label: str) -> str | None:
    for pattern, kind in KIND_OF_LABEL:
        if pattern.search(label):
            return kind
    return None


def is_benign(label: str) -> bool:
    return bool(BENIGN_LABELS.match(label.strip()))


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def fpr(self) -> float | None:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else None


@dataclass
class Evaluation:
    events: int = 0
    labelled: int = 0
    attacks: int = 0
    by_kind: dict[str, Counts] = field(default_factory=dict)
    alerts: int = 0
    unlabelled_alert_kinds: dict[str, int] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for kind, c in sorted(self.by_kind.items(), key=lambda kv: (kv[0] != "any", kv[0])):
            out.append({"kind": kind, "tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn, "precision": c.precision,
                        "recall": c.recall, "fpr": c.fpr})
        return out


def truth(event: Event, attackers: dict[str, str], all_benign: bool) -> str | None:
    """'benign', an alert kind, 'attack' (an attack no rule detector claims), or None (unknown)."""
    if attackers:
        for address in (event.src_ip, event.dst_ip):
            if address in attackers:
                return attackers[address]
        return "benign"
    if all_benign:
        return "benign"
    if event.label is None or not event.label.strip():
        return None
    if is_benign(event.label):
        return "benign"
    return expected_kind(event.label) or "attack"


def attribute(events: Sequence[Event], alerts: Sequence[Any], flagged: dict[int, set[str]],
              window: timedelta) -> dict[int, set[str]]:
    """Add to ``flagged`` the events covered by an alert about their source (or target)."""
    by_source: dict[str, list[Any]] = {}
    by_target: dict[str, list[Any]] = {}
    for alert in alerts:
        if alert.source:
            by_source.setdefault(alert.source, []).append(alert)
        elif alert.target:
            by_target.setdefault(alert.target, []).append(alert)
    out = {k: set(v) for k, v in flagged.items()}
    for event in events:
        candidates = by_source.get(event.src_ip or "", []) + by_target.get(event.dst_ip or "", [])
        for alert in candidates:
            ts = event.timestamp
            if ts is not None and alert.first_seen - window <= ts <= alert.last_seen + window:
                out.setdefault(id(event), set()).add(alert.kind)
    return out


def score(events: Sequence[Event], flagged: dict[int, set[str]], *, attackers: dict[str, str] | None = None,
          all_benign: bool = False) -> Evaluation:
    attackers = attackers or {}
    result = Evaluation(events=len(events))
    kinds = {k for ks in flagged.values() for k in ks}
    truths = [truth(e, attackers, all_benign) for e in events]
    kinds |= {t for t in truths if t not in (None, "benign", "attack")}
    for kind in (*sorted(kinds), "any"):
        result.by_kind[kind] = Counts()
    for event, t in zip(events, truths):
        got = flagged.get(id(event), set())
        if t is None:
            for k in got:
                result.unlabelled_alert_kinds[k] = result.unlabelled_alert_kinds.get(k, 0) + 1
            continue
        result.labelled += 1
        attack = t != "benign"
        result.attacks += attack
        for kind, c in result.by_kind.items():
            hit = bool(got) if kind == "any" else kind in got
            relevant = attack if kind == "any" else t == kind
            if relevant:
                c.tp += hit
                c.fn += not hit
            elif attack:
                continue  # an attack of another kind flagged as this kind: found, but not this kind's job
            else:
                c.fp += hit
                c.tn += not hit
    return result


def evaluate_paths(paths: Iterable[str | Path], *, fmt: str = "auto", detect_config: dict | None = None,
                   attackers: dict[str, str] | None = None, all_benign: bool = False, assets=None,  # type: ignore[no-untyped-def]
                   only: Iterable[str] | None = None, registry=None) -> Evaluation:  # type: ignore[no-untyped-def]
    """Read inputs into a throw-away in-memory store with every detector in evaluation mode; the ml detector
    runs the active models of ``registry`` (none given: it has no model and stays silent)."""
    from netwarden.pipeline import Pipeline

    db = Database.open("sqlite:///:memory:")
    engine = DetectionEngine.from_config(detect_config, None, only=only, keep_events=True, assets=assets)
    for detector in engine.detectors:
        if registry is not None and hasattr(detector, "use"):
            detector.use(registry)
    kept: list[Event] = []  # the flagged map is keyed by object identity: keep every event alive
    pipeline = Pipeline(db, stages=[kept.extend, engine])
    for path in paths:
        pipeline.ingest_file(path, fmt)
    flagged = attribute(kept, engine.alerts, engine.flagged, engine.settings.merge_window)
    result = score(kept, flagged, attackers=attackers, all_benign=all_benign)
    result.alerts = len(engine.alerts)
    db.close()
    return result
