"""What a batch goes through between parsing and the store, in this order:

1. **enrich**: stages that complete events in place (events without a time are stamped on arrival);
2. **evidence filter**: which events detection may see — not the refused traffic (403s, resets, drops) of
   sources we block, which says only that the block works (:class:`EvidenceFilter`);
3. **detect**: the detection engine (tests add their own callables here);
4. **alert listeners**: told once per batch of every alert the batch created or changed (respond: blocks
   and notifications; the live feed), before the next batch is detected, so the evidence filter of the
   next batch already knows the blocks this one caused;
5. **observers**: see every batch as stored (the live feed's event sample and rate).

Every batch is stored whole, whatever the evidence filter withheld from detection. Steps 2-4 run under
one lock: the engine and its listeners keep state and the live sources (syslog, NetFlow, the HTTP
intake, followed files) call from their own threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Protocol

from netwarden.records import Alert, Event

log = logging.getLogger(__name__)

Stage = Callable[[list[Event]], None]
AlertChange = tuple[Alert, bool]  # (alert, is_new)
AlertsListener = Callable[[list[AlertChange]], None]

REFUSED_ACTIONS = frozenset({"block", "blocked", "drop", "dropped", "deny", "denied", "reject", "rejected",
                             "refused", "reset"})


def stamp_arrival(events: list[Event]) -> None:
    """Flow CSVs carry no time: such events are stamped on arrival."""
    now = None
    for event in events:
        if event.timestamp is None:
            event.timestamp = now = now or datetime.now(timezone.utc)


def looks_refused(event: Event) -> bool:
    if event.http_status == 403:
        return True
    if event.action and event.action.lower() in REFUSED_ACTIONS:
        return True
    flags = (event.tcp_flags or "").upper()
    return "RST" in flags or flags in ("R", "RA", "AR")


class Blocks(Protocol):
    """What the evidence filter asks of the responder."""

    def any_enforced(self) -> bool: ...

    def refuses(self, address: str) -> bool: ...


class EvidenceFilter:
    """A block must not feed itself: while 203.0.113.7 is blocked (enforced; a dry-run block refuses
    nothing), its 403s, resets and firewall drops are withheld from detection."""

    def __init__(self, blocks: Blocks) -> None:
        self.blocks = blocks
        self.withheld = 0

    def __call__(self, events: list[Event]) -> list[Event]:
        """The events detection may see (``events`` itself is left as it is: it is stored whole)."""
        if not self.blocks.any_enforced():
            return events
        refuses = self.blocks.refuses
        kept = [e for e in events if not (e.src_ip and looks_refused(e) and refuses(e.src_ip))]
        self.withheld += len(events) - len(kept)
        return kept


class AlertFeed:
    """The detection engine's listener: gathers the alerts of one batch for the alert listeners."""

    def __init__(self) -> None:
        self._changes: list[AlertChange] = []

    def __call__(self, alert: Alert, is_new: bool) -> None:
        self._changes.append((alert, is_new))

    def take(self) -> list[AlertChange]:
        changes, self._changes = self._changes, []
        return changes


class Stages:
    """The steps of :mod:`this module <netwarden.pipeline.stages>`, built explicitly.

    >>> Stages(detect=[engine], evidence=EvidenceFilter(responder), alerts=feed,       # doctest: +SKIP
    ...        alert_listeners=[response.on_alerts], observers=[live.on_events])
    """

    def __init__(self, *, enrich: Sequence[Stage] = (stamp_arrival,), evidence: EvidenceFilter | None = None,
                 detect: Sequence[Stage] = (), alerts: AlertFeed | None = None,
                 alert_listeners: Sequence[AlertsListener] = (), observers: Sequence[Stage] = ()) -> None:
        self.enrich = tuple(enrich)
        self.evidence = evidence
        self.detect = tuple(detect)
        self.alerts = alerts
        self.alert_listeners = tuple(alert_listeners)
        self.observers = tuple(observers)
        self.lock = threading.Lock()  # evidence filter → detect → alert listeners, one batch at a time

    def run(self, events: list[Event], *, enriched: bool = False) -> None:
        """All the steps; ``enriched``: :meth:`enrich_all` ran on ``events`` already (a file import stores them
        between the two)."""
        if not enriched:
            self.enrich_all(events)
        if self.detect:
            with self.lock:
                seen = self.evidence(events) if self.evidence is not None else events
                for stage in self.detect:
                    stage(seen)
                changes = self.alerts.take() if self.alerts is not None else []
                if changes:
                    for listener in self.alert_listeners:
                        try:
                            listener(changes)
                        except Exception:  # a failing listener must not stop ingest
                            log.exception("alert listener failed")
        for stage in self.observers:
            stage(events)

    def enrich_all(self, events: list[Event]) -> None:
        """Step 1 alone: the events as they are stored."""
        for stage in self.enrich:
            stage(events)

    @property
    def detects(self) -> bool:
        return bool(self.detect)
