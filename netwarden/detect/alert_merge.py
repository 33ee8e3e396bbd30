"""One batch's findings merged into alerts and incidents with a few queries for the whole batch.

Under attack every line is a finding. Asked one finding at a time, the store answered four queries per new alert
(its open alert, the source's earlier alerts, the source's open incident, the incident's insert). Here the batch
reads them up front (:class:`StoredView`: nothing is written until the batch ends, so what the store held when it
began is what each finding would have read), links the alerts into incidents in memory (:class:`IncidentLinks`)
and writes each incident and alert once. The stored result is that of writing after every finding
(tests/detect/test_batch_merge.py compares them on every engine).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from operator import attrgetter
from datetime import datetime, timedelta, timezone
from typing import Any

from netwarden.detect.base import DETECTORS
from netwarden.records import EVENT_FIELDS, _UTC_TEXT, Alert, AlertStatus, Event, Finding, Severity, _utc_text
from netwarden.store import alerts as alert_store

Key = tuple[str, str, str]  # (kind, subkind, source); an alert without a source is about its target
# Kinds ordered by how far an attack has gone; an incident that reaches "access" after "recon" escalates
STAGE = {"port_scan": 1, "unusual_service": 1, "intel": 1, "web_attack": 2, "brute_force": 2, "dos": 2,
         "exfiltration": 3}
BREACH_SUBKINDS = {"breach", "success_after_failures"}
_EVER = datetime.min.replace(tzinfo=timezone.utc)


def key_of(kind: str, subkind: str, source: str | None, target: str | None) -> Key:
    # a spoofed flood has no source: two targets are two alerts
    return (kind, subkind, source or f"target:{target}")


def finding_key(finding: Finding) -> Key:
    return key_of(finding.kind, finding.subkind, finding.source, finding.target)


class StoredView:
    """What the store held when the batch began, read for many findings at once (``prefetch``) and, for what
    the prefetch did not foresee, one finding at a time: each key's open alert, when each source's alerts
    began ("repeat offender"), each source's latest unresolved incident."""

    def __init__(self, conn: Any, merge_window: timedelta) -> None:
        self.conn = conn
        self.window = merge_window
        self._alerts: dict[Key, tuple[datetime, Alert | None]] = {}  # key -> (read since, its open alert)
        self._starts: dict[str, tuple[datetime, list[datetime]]] = {}  # source -> (read before, starts)
        self._incidents: dict[str, dict[str, Any] | None] = {}

    def prefetch(self, findings: Sequence[Finding]) -> None:
        """Read what merging ``findings`` into new alerts may ask."""
        if not findings:
            return
        self._read_alerts(findings)
        self._read_starts({f.source for f in findings if f.source}, max(f.first_seen for f in findings))

    def refresh_statuses(self, remembered: Sequence[Alert]) -> None:
        """Set the status of alerts the engine remembers from earlier batches to the stored one: a person may
        have acknowledged, resolved or dismissed one since, and a closed alert takes no more findings."""
        held = {a.id: a for a in remembered if a.id is not None}
        for alert_id, status in alert_store.statuses(self.conn, sorted(held)).items():
            held[alert_id].status = status

    def open_alert(self, key: Key, finding: Finding) -> Alert | None:
        """The most recently seen open alert of ``key`` that ``finding`` may merge into (seen within the window)."""
        since = finding.first_seen - self.window
        read = self._alerts.get(key)
        if read is None or since < read[0]:
            self._read_alerts([finding])
            read = self._alerts[key]
        alert = read[1]
        return alert if alert is not None and alert.last_seen >= since else None

    def alerts_before(self, source: str, before: datetime) -> int:
        """``alert_store.alerts_before``."""
        read = self._starts.get(source)
        if read is None or before > read[0]:
            self._read_starts({source}, before)
            read = self._starts[source]
        return bisect_left(read[1], before)

    def open_incident(self, source: str) -> dict[str, Any] | None:
        if source not in self._incidents:
            self.read_incidents({source})
        return self._incidents[source]

    def read_incidents(self, sources: set[str]) -> None:
        wanted = {s for s in sources if s not in self._incidents}
        if wanted:
            found = alert_store.latest_open_incidents(self.conn, wanted)
            self._incidents.update({s: found.get(s) for s in wanted})

    def _read_alerts(self, findings: Sequence[Finding]) -> None:
        since = min(f.first_seen for f in findings) - self.window
        best: dict[Key, Alert | None] = {finding_key(f): None for f in findings}
        for alert in alert_store.open_alerts_about(self.conn, {f.kind for f in findings},
                                                   {f.source for f in findings if f.source},
                                                   {f.target for f in findings if not f.source and f.target},
                                                   since):
            key = key_of(alert.kind, alert.subkind, alert.source, alert.target)
            if key in best:
                held = best[key]
                if held is None or (alert.last_seen, alert.id) > (held.last_seen, held.id):  # type: ignore[operator]
                    best[key] = alert
        for key, alert in best.items():
            self._alerts[key] = (since, alert)

    def _read_starts(self, sources: set[str], before: datetime) -> None:
        for source, starts in alert_store.alert_starts(self.conn, sources, before).items():
            self._starts[source] = (before, starts)


class BatchAlerts:
    """The alerts one ``handle()`` call changed, in the order it first touched them, until they are written."""

    def __init__(self, stored: StoredView | None = None) -> None:
        self.stored = stored
        self.alerts: list[Alert] = []
        self.new: dict[int, bool] = {}  # id(alert) -> is new
        self._stored_first: dict[int, datetime | None] = {}  # id(alert) -> first_seen as stored (None: new)
        self.stored_as: dict[int, alert_store.Snapshot] = {}  # id(alert) -> as stored (not new): what to write
        self._by_key: dict[Key, Alert] = {}
        self._by_source: dict[str, list[Alert]] = {}

    def touch(self, key: Key, alert: Alert, is_new: bool) -> None:
        """Call before changing ``alert``."""
        held = id(alert)
        if held in self.new:
            return
        self.alerts.append(alert)
        self.new[held] = is_new
        if is_new:
            self._stored_first[held] = None
        else:
            self._stored_first[held] = alert.first_seen
            self.stored_as[held] = alert_store.snapshot(alert)
        self._by_key[key] = alert
        if alert.source:
            self._by_source.setdefault(alert.source, []).append(alert)

    def pending(self, key: Key, since: datetime) -> Alert | None:
        """This batch's alert for ``key`` when the open-alert memory let go of it before it was written."""
        alert = self._by_key.get(key)
        if alert is not None and alert.last_seen >= since \
                and alert.status in (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED):
            return alert
        return None

    def unwritten_before(self, source: str, before: datetime) -> int:
        """How the store's count of ``source``'s alerts before ``before`` would differ had this batch's
        alerts been written after each finding."""
        diff = 0
        for alert in self._by_source.get(source, ()):
            stored = self._stored_first[id(alert)]
            diff += (alert.first_seen < before) - (stored is not None and stored < before)
        return diff


class IncidentLinks:
    """Links a batch's alerts into their sources' incidents in memory, then writes each incident once.

    An incident this batch linked already answers the later lookups for its source as the store would (it is
    the source's most recent), so each source's incident is read once per batch; the new ones get their ids
    from one multi-row insert at the end, and so do the alerts linked to them."""

    def __init__(self, stored: StoredView, incident_window: timedelta) -> None:
        self.stored = stored
        self.window = incident_window
        self._current: dict[str, dict[str, Any]] = {}  # source -> the incident this batch linked last
        self._touched: dict[int, dict[str, Any]] = {}  # in the order first linked
        self._stored_as: dict[int, dict[str, Any]] = {}  # id(incident) -> as read (stored ones): what to write
        self._links: list[tuple[Alert, dict[str, Any]]] = []
        self._severities: dict[tuple[tuple[str, ...], str, Severity], str] = {}  # incident_severity, this batch
        # id(incident) -> (its kinds list, as a tuple) when this batch last wrote its kinds and summary
        self._said: dict[int, tuple[list[str], tuple[str, ...]]] = {}

    def link_all(self, batch: Sequence[Alert]) -> None:
        self.stored.read_incidents({a.source for a in batch if a.source})
        for alert in batch:
            self.link(alert)

    def link(self, alert: Alert) -> None:
        """Link the alert into its source's open incident (or a new one)."""
        if not alert.source:
            return
        incident = None
        if alert.incident_id is not None:
            incident = self._open(alert.source, _EVER)
            if incident is not None and incident["id"] != alert.incident_id:
                incident = None
        if incident is None:
            incident = self._open(alert.source, alert.first_seen - self.window)
        label = f"{alert.kind}/{alert.subkind}" if alert.subkind else alert.kind
        if incident is None:
            incident = {"id": None, "source": alert.source, "severity": str(alert.severity), "status": "open",
                        "kinds": [], "alert_count": 0, "summary": "", "first_seen": alert.first_seen,
                        "last_seen": alert.last_seen}
        elif incident["id"] is not None and id(incident) not in self._stored_as:
            self._stored_as[id(incident)] = dict(incident)  # its values are replaced below, never changed
        kinds = incident["kinds"]
        said = self._said.get(id(incident))
        if said is None or said[0] is not kinds or label not in kinds:
            # the kinds (a new list: the copy as read holds the old one) and the summary, when they change:
            # a flood links each source's incident to several alerts of the same few kinds per batch
            kinds = list(kinds)
            if label not in kinds:
                kinds.append(label)
            incident["kinds"] = kinds
            incident["summary"] = f"{' → '.join(kinds)} from {alert.source}"
            said = self._said[id(incident)] = (kinds, tuple(kinds))
        if alert.incident_id != incident["id"] or incident["id"] is None:
            incident["alert_count"] += 1
        incident["first_seen"] = min(incident["first_seen"], alert.first_seen)
        incident["last_seen"] = max(incident["last_seen"], alert.last_seen)
        judged = (said[1], incident["severity"], alert.severity)
        if judged not in self._severities:  # a flood links thousands of alerts of the same few kinds
            self._severities[judged] = str(incident_severity(kinds, Severity(judged[1]), alert.severity))
        incident["severity"] = self._severities[judged]
        self._current[alert.source] = incident
        self._touched.setdefault(id(incident), incident)
        self._links.append((alert, incident))

    def save(self, conn: Any) -> None:
        alert_store.save_incidents(conn, list(self._touched.values()), self._stored_as)
        for alert, incident in self._links:
            alert.incident_id = incident["id"]

    def _open(self, source: str, since: datetime) -> dict[str, Any] | None:
        """``alert_store.open_incident``: the source's most recent unresolved incident if seen since ``since``."""
        incident = self._current.get(source) or self.stored.open_incident(source)
        return incident if incident is not None and incident["last_seen"] >= since else None


def _stage(kind: str) -> int:
    """How far an alert kind has gone: the detector of that name says so (``stage``), else STAGE, else 1."""
    detector = DETECTORS.entries.get(kind)
    if detector is not None and detector.stage is not None:
        return detector.stage
    return STAGE.get(kind, 1)


def incident_severity(kinds: Sequence[str], current: Severity, new: Severity) -> Severity:
    """The worst of its alerts, raised when one source progresses through the stages of an attack."""
    severity = current if current.rank >= new.rank else new
    stages = {_stage(k.split("/")[0]) for k in kinds}
    if any(k.split("/")[-1] in BREACH_SUBKINDS for k in kinds) and len(kinds) > 1:
        return Severity.CRITICAL
    if len(stages) >= 2 and severity.rank < Severity.HIGH.rank:
        return Severity.HIGH
    return severity


# -- merging a finding's evidence into an alert's ---------------------------------------------------

EVIDENCE_LIST_LIMIT = 20  # items kept of each evidence list (the newest)
SAMPLES = 5  # sample events an alert keeps
_SAMPLE_FIELDS = tuple(f for f in EVENT_FIELDS if f != "extra")
_SAMPLE_VALUES = attrgetter(*_SAMPLE_FIELDS)


def merge_evidence(old: dict[str, Any], finding: Finding) -> dict[str, Any]:
    """Merge a finding's evidence into an alert's: scalars take the newest value, lists are unioned
    (bounded), and a few sample events are kept so the alert can be understood on its own.

    A new dict every time, but lists that gain nothing are kept as they are rather than copied: evidence is
    replaced, never changed in place (``alert_store.snapshot``), and under a flood most findings repeat what
    their alert already holds (a list equal to the held one is settled by one comparison in C)."""
    new = finding.evidence
    if not old:
        out = dict(new)  # a new alert's: the finding's, as merged into nothing
    else:
        out = old.copy()
        for key, value in new.items():
            if isinstance(value, list):
                merged = out.get(key)
                if isinstance(merged, list):
                    if value != merged:
                        held = merged
                        for item in value:
                            if item not in merged:
                                if merged is held:
                                    merged = list(held)
                                merged.append(item)
                    if len(merged) > EVIDENCE_LIST_LIMIT:
                        merged = merged[-EVIDENCE_LIST_LIMIT:]
                    out[key] = merged
                    continue
            out[key] = value
    samples = out.get("samples", _NO_SAMPLES)
    if finding.samples and len(samples) < SAMPLES:
        samples = list(samples)
        for event in finding.samples:
            if len(samples) >= SAMPLES:
                break
            samples.append(sample(event))
    elif samples is _NO_SAMPLES or not isinstance(samples, list):
        samples = list(samples)
    out["samples"] = samples
    return out


_NO_SAMPLES: list[Any] = []  # never changed: copied before use


def sample(event: Event) -> dict[str, Any]:
    """An event as an alert keeps it: ``Event.to_dict`` but ``extra``, the raw line cut at 2,000 characters
    (without building ``extra`` to drop it: a flood samples tens of thousands of events)."""
    out = {name: value for name, value in zip(_SAMPLE_FIELDS, _SAMPLE_VALUES(event)) if value is not None}
    for name, value in out.items():
        if isinstance(value, datetime):
            out[name] = _UTC_TEXT.get(value) or _utc_text(value)  # a value replaced: the keys stay in order
    raw = out.get("raw")
    if raw and len(raw) > 2000:
        out["raw"] = raw[:2000] + "..."
    return out
