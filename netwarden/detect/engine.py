"""The detection engine: runs the detectors on each batch and turns findings into few, explained alerts.

It is the pipeline's detect stage (``Pipeline(db, stages=[engine])``; see netwarden.pipeline.stages): every
batch of events, from a file or a live stream, passes through the detectors before it is stored. For each finding the engine

1. drops it if an administrator marked that pattern from that source as a false positive;
2. merges it into the open alert of the same kind from the same source (seen within ``merge_window``),
   or opens a new alert — so a scan of 5,000 ports is one alert with a count, not 5,000;
3. scores confidence from the named factors, adding "repeat offender" when the source has history;
4. links the alert into the source's incident, which escalates when one source goes from
   reconnaissance to access attempts to a success (scan → brute force → login is one critical incident);
5. stores the alerts and tells its listeners (the pipeline's alert feed) about new and updated ones — once per batch
   for each alert however many findings it merged, so a flood of attacks costs a write per alert, not per line.

What the store holds (open alerts, earlier alerts, open incidents) is read for the whole batch and the batch's
incidents and alerts are written together (:mod:`netwarden.detect.alert_merge`): a flood of new alerts costs a
few queries per batch, not four per alert.

Detector state (sliding windows) is saved to the database so a restart resumes an ongoing scan.
"""

from __future__ import annotations

import gc
import heapq
import logging
import time
from collections import OrderedDict
from contextlib import nullcontext
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from netwarden import metrics
from netwarden.detect import scoring
from netwarden.detect.alert_merge import BatchAlerts, IncidentLinks, StoredView, finding_key
from netwarden.detect.alert_merge import EVIDENCE_LIST_LIMIT, merge_evidence as _evidence  # noqa: F401
from netwarden.detect.alert_merge import STAGE, incident_severity  # noqa: F401  (re-exported: their old home)
from netwarden.detect.base import DETECTORS, Detector, SettingsError
from netwarden.enrich.assets import Assets
from netwarden.records import Alert, AlertStatus, Event, Factor, Finding
from netwarden.store import alerts as alert_store

log = logging.getLogger(__name__)
AlertListener = Callable[[Alert, bool], None]  # (alert, is_new)

MAX_OPEN_ALERTS = 20_000
_OPEN = (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED)  # the statuses an alert takes more findings in
KEPT_WITH_DB = 1_000  # alerts held in engine.alerts when they are stored (the ingest summary shows ten)


def load_detectors() -> dict[str, type[Detector]]:
    return DETECTORS.all()


@dataclass
class EngineSettings:
    merge_window: timedelta = timedelta(hours=1)
    incident_window: timedelta = timedelta(hours=24)
    # seconds of wall time between saves of detector state; None: never saved here (a bus worker's state is
    # rebuilt from the bus's history per partition, and workers must not overwrite each other's partial views)
    state_every: float | None = 60.0
    prune_every: int = 20_000  # events between pruning idle detector state
    # alerts whose newest evidence is older than this (imports of old logs) are marked ``history``: the
    # responder and the notifier leave them alone. None: never (evaluation, backtests)
    history_after: timedelta | None = None


@dataclass
class EngineStats:
    events: int = 0
    findings: int = 0
    suppressed: int = 0
    alerts_new: int = 0
    alerts_updated: int = 0
    seconds: float = 0.0
    by_detector: dict[str, float] = field(default_factory=dict)
    # each detector's state_counts(), refreshed when the engine prunes (read by /metrics)
    state: dict[str, dict[str, int]] = field(default_factory=dict)


class DetectionEngine:
    stored_view = StoredView  # how a batch reads the store (tests compare it with a query per finding)

    def __init__(self, detectors: Sequence[Detector], db=None, *,  # type: ignore[no-untyped-def]
                 settings: EngineSettings | None = None, keep_events: bool = False,
                 listeners: Sequence[AlertListener] = ()) -> None:
        self.detectors = list(detectors)
        self.db = db
        self.settings = settings or EngineSettings()
        self.keep_events = keep_events
        self.stats = EngineStats()
        self.listeners: list[AlertListener] = list(listeners)
        # every alert this engine created (without a db: the output); with a db they are stored, and only the most
        # severe KEPT_WITH_DB are kept for the ingest summary, or a long `serve` would hold every alert ever raised
        self.alerts: list[Alert] = []
        self.flagged: dict[int, set[str]] = {}  # id(event) -> alert kinds, when evaluating
        self._open: OrderedDict[tuple[str, str, str | None], Alert] = OrderedDict()
        self._suppressed: set[tuple[str, str, str]] = set()
        self._suppressions_loaded = 0.0
        self._last_save = time.monotonic()
        self._since_prune = 0
        self._latest: datetime | None = None
        self._batch = BatchAlerts()  # the alerts handle() is merging, not written yet
        if db is not None:
            self._restore()
        metrics.track_engine(self)  # seconds per detector, read when Prometheus scrapes

    @classmethod
    def from_config(cls, config: dict[str, dict[str, Any]] | None = None, db=None, *,  # type: ignore[no-untyped-def]
                    only: Iterable[str] | None = None, keep_events: bool = False,
                    assets: Assets | None = None, listeners: Sequence[AlertListener] = (),
                    settings: EngineSettings | None = None) -> DetectionEngine:
        """Every registered detector with its ``[detect.<name>]`` settings (disabled ones left out)."""
        available = load_detectors()
        config = dict(config or {})
        unknown = set(config) - set(available)
        if unknown:
            raise SettingsError(f"[detect] unknown detector(s): {', '.join(sorted(unknown))}; "
                                f"known: {', '.join(available)}")
        wanted = list(only) if only is not None else list(available)
        for name in wanted:
            if name not in available:
                raise SettingsError(f"unknown detector {name!r}; known: {', '.join(available)}")
        detectors = [available[n](config.get(n), keep_events=keep_events, assets=assets) for n in wanted]
        return cls([d for d in detectors if d.settings.enabled], db, settings=settings, keep_events=keep_events,
                   listeners=listeners)

    # -- the stage ----------------------------------------------------------------------------------

    def __call__(self, events: list[Event]) -> None:
        self.process(events)

    def process(self, events: Sequence[Event]) -> list[Alert]:
        if not events:
            return []
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self._process(events)
        finally:
            if paused:
                gc.enable()

    def _process(self, events: Sequence[Event]) -> list[Alert]:
        started = time.perf_counter()
        findings: list[Finding] = []
        for detector in self.detectors:
            t = time.perf_counter()
            try:
                findings += detector.process(events)
            except Exception:  # one broken detector must not stop ingest or the other detectors
                log.exception("detector %s failed on a batch", detector.name)
            self.stats.by_detector[detector.name] = self.stats.by_detector.get(detector.name, 0.0) \
                + time.perf_counter() - t
        self.stats.events += len(events)
        latest = max((e.timestamp for e in events if e.timestamp is not None), default=None)
        if latest is not None and (self._latest is None or latest > self._latest):
            self._latest = latest
        changed = self.handle(findings)
        self._housekeeping(len(events))
        self.stats.seconds += time.perf_counter() - started
        return changed

    def handle(self, findings: Sequence[Finding]) -> list[Alert]:
        """Turn findings into new or updated alerts (stored when the engine has a database).

        Findings are merged in memory first; then each changed alert is linked to its incident and written
        once per batch, however many findings it took (under attack, every line is one), and listeners hear
        of it once. The results are those of linking and writing after every finding: an alert's count, span
        and severity only grow, so its incident ends the same, and "repeat offender" counts the alerts of
        this batch not yet written as if they were (``_earlier_alerts``)."""
        if not findings:
            return []
        self._refresh_suppressions()
        old = datetime.now(timezone.utc) - self.settings.history_after \
            if self.settings.history_after is not None else None
        with self.db.engine.begin() if self.db is not None else nullcontext() as conn:
            stored = self.stored_view(conn, self.settings.merge_window) if conn is not None else None
            changed = self._batch = BatchAlerts(stored)
            try:
                self._merge_all(findings, old)
                if changed.stored is not None and changed.alerts:
                    batch = list(changed.alerts)
                    links = IncidentLinks(changed.stored, self.settings.incident_window)
                    links.link_all(batch)
                    alert_store.lock_for_writing(conn)  # quick retries: the writer process holds it in turns
                    links.save(conn)
                    alert_store.save_alerts(conn, batch, changed.stored_as)
            except BaseException:
                # The remembered alerts now hold this batch's changes, which the rollback did not store; only
                # what changes is written, so the next batch would never send them: read them again instead.
                if conn is not None:
                    self._open.clear()
                raise
            finally:
                self._batch = BatchAlerts()
        counts: dict[tuple[str, bool], int] = {}  # the metrics, counted per batch (a flood changes thousands)
        for alert in changed.alerts:
            is_new = changed.new[id(alert)]
            counts[(alert.kind, is_new)] = counts.get((alert.kind, is_new), 0) + 1
            if is_new:
                self.stats.alerts_new += 1
                self.alerts.append(alert)
            else:
                self.stats.alerts_updated += 1
            for listener in self.listeners:
                try:
                    listener(alert, is_new)
                except Exception:
                    log.exception("alert listener failed")
        for (kind, is_new), n in counts.items():
            metrics.alert_changed(kind, is_new, n)
        if self.db is not None and len(self.alerts) >= 2 * KEPT_WITH_DB:
            self._keep_most_severe()
        return list(changed.alerts)

    def _keep_most_severe(self) -> None:
        """The KEPT_WITH_DB most severe alerts (as they stand now), in the order they were raised."""
        keep = {id(a) for a in heapq.nlargest(KEPT_WITH_DB, self.alerts, key=lambda a: (a.severity.rank, a.confidence))}
        self.alerts = [a for a in self.alerts if id(a) in keep]

    # -- merging and scoring ------------------------------------------------------------------------

    def _merge_all(self, findings: Sequence[Finding], old: datetime | None) -> None:
        keys = [None if self._is_suppressed(f) else finding_key(f) for f in findings]  # None: suppressed
        if self._batch.stored is not None:  # what the findings of keys not in memory may ask, in a few queries
            unknown, remembered, known = [], {}, []
            for f, key in zip(findings, keys):
                if key is not None:
                    alert = self._open.get(key)
                    if alert is None:
                        unknown.append(f)
                    else:
                        remembered[id(alert)] = alert
                        known.append((f, alert))
            self._batch.stored.refresh_statuses(list(remembered.values()))  # a person may have closed one
            # a key whose alert in memory is closed or too old asks the store too (its merge may find a newer
            # one): read with the others, not in a query per finding (4,000 of them in a 1M-line SSH log)
            window = self.settings.merge_window
            unknown += [f for f, alert in known if alert.status not in _OPEN or f.first_seen - alert.last_seen > window]
            self._batch.stored.prefetch(unknown)
        rescore: dict[int, Alert] = {}  # alerts whose factors grew: their confidence, once they are all merged
        for finding, key in zip(findings, keys):
            self.stats.findings += 1
            if key is None:
                self.stats.suppressed += 1
                continue
            alert = self._merge(finding, key, rescore)
            if old is not None:
                alert.history = alert.last_seen < old
            if self.keep_events:
                for event in finding.events:
                    self.flagged.setdefault(id(event), set()).add(alert.kind)
        for alert in rescore.values():  # a function of the final factors alone: the same as after every finding
            alert.confidence = scoring.calibrated(alert.factors, alert.detector)

    def _merge(self, finding: Finding, key: tuple[str, str, str], rescore: dict[int, Alert]) -> Alert:
        opened, batch, window = self._open, self._batch, self.settings.merge_window
        alert = held = opened.get(key)
        if alert is not None and (finding.first_seen - alert.last_seen > window or alert.status not in _OPEN):
            alert = None
        if alert is None:
            alert = batch.pending(key, finding.first_seen - window)
        if alert is None and batch.stored is not None:
            alert = batch.stored.open_alert(key, finding)
        if alert is None:
            alert = self._new_alert(batch.stored, finding)
            batch.touch(key, alert, True)
        else:
            batch.touch(key, alert, False)
            self._update(alert, finding)
            rescore[id(alert)] = alert
        if held is None:  # a new key: at the end, the least recently merged let go when there are too many
            opened[key] = alert
            if len(opened) > MAX_OPEN_ALERTS:
                opened.popitem(last=False)
        else:
            opened[key] = alert
            opened.move_to_end(key)
        return alert

    def _new_alert(self, stored: StoredView | None, finding: Finding) -> Alert:
        factors = list(finding.factors)
        if finding.source:
            earlier = self._earlier_alerts(stored, finding)
            if earlier:
                factors.append(Factor("repeat_offender", min(0.45, 0.15 * earlier),
                                      f"{earlier} earlier alert{'s' if earlier > 1 else ''} from this source"))
        factors = scoring.merge([], factors)
        return Alert(kind=finding.kind, subkind=finding.subkind, severity=finding.severity,
                     confidence=scoring.calibrated(factors, finding.detector), factors=factors, source=finding.source,
                     target=finding.target, first_seen=finding.first_seen, last_seen=finding.last_seen,
                     count=finding.count, evidence=_evidence({}, finding), recommendation=finding.recommendation,
                     detector=finding.detector, signature=finding.signature,
                     model_version=finding.evidence.get("model_version"))

    def _earlier_alerts(self, stored: StoredView | None, finding: Finding) -> int:
        """How many alerts the finding's source had before (the "repeat offender" factor)."""
        if stored is None:
            return 0
        # this batch's alerts count as if written already (they are written once, at the end of the batch)
        return stored.alerts_before(finding.source, finding.first_seen) \
            + self._batch.unwritten_before(finding.source, finding.first_seen)  # type: ignore[arg-type]

    def _update(self, alert: Alert, finding: Finding) -> None:
        alert.factors = scoring.merge(alert.factors, finding.factors)  # its confidence: at the end of _merge_all
        if finding.severity.rank > alert.severity.rank:
            alert.severity = finding.severity
        alert.count += finding.count
        alert.first_seen = min(alert.first_seen, finding.first_seen)
        alert.last_seen = max(alert.last_seen, finding.last_seen)
        if finding.target and alert.target and finding.target != alert.target:
            alert.target = "(several)"
        alert.evidence = _evidence(alert.evidence, finding)
        alert.recommendation = finding.recommendation or alert.recommendation

    # -- suppressions, state, housekeeping ----------------------------------------------------------

    def _refresh_suppressions(self) -> None:
        if self.db is None or time.monotonic() - self._suppressions_loaded < 10:
            return
        with self.db.engine.connect() as conn:
            self._suppressed = alert_store.load_suppressions(conn)
        self._suppressions_loaded = time.monotonic()

    def _is_suppressed(self, f: Finding) -> bool:
        s = self._suppressed
        if not s:
            return False
        src = f.source or "*"
        return ((f.kind, src, f.signature) in s or (f.kind, src, "") in s or (f.kind, "*", f.signature) in s)

    def _housekeeping(self, n: int) -> None:
        self._since_prune += n
        if self._since_prune >= self.settings.prune_every and self._latest is not None:
            for detector in self.detectors:
                detector.prune(self._latest)
            self._since_prune = 0
            self.stats.state = self.state_counts()
        every = self.settings.state_every
        if self.db is not None and every is not None and time.monotonic() - self._last_save >= every:
            self.save_state()

    def state_counts(self) -> dict[str, dict[str, int]]:
        """Per detector: the keys its bounded tables hold, and those evicted (table full) or expired (idle)."""
        return {d.name: counts for d in self.detectors if (counts := d.state_counts())}

    def save_state(self) -> None:
        if self.db is None or self.settings.state_every is None:
            return
        with self.db.engine.begin() as conn:
            for detector in self.detectors:
                alert_store.save_state(conn, detector.name, detector.state())
        self._last_save = time.monotonic()

    def _restore(self) -> None:
        with self.db.engine.connect() as conn:  # type: ignore[union-attr]
            for detector in self.detectors:
                saved = alert_store.load_state(conn, detector.name)
                if saved:
                    try:
                        detector.restore(saved)
                    except Exception:  # stale or foreign state is not worth refusing to start over
                        log.warning("could not restore state of detector %s; starting fresh", detector.name)

    def close(self) -> None:
        self.save_state()
