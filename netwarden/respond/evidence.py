"""A block must not feed itself: traffic refused because of a block is no evidence for another block.

While 203.0.113.7 is blocked (enforced; a dry-run block refuses nothing), its 403s, resets and firewall
drops say only that the block works. This
stage sits in front of the detection engine and withholds such events from the detectors; they are
still stored (the pipeline stores the batch it was given, not what a stage passes on).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from netwarden.records import Event

REFUSED_ACTIONS = frozenset({"block", "blocked", "drop", "dropped", "deny", "denied", "reject", "rejected",
                             "refused", "reset"})


def looks_refused(event: Event) -> bool:
    if event.http_status == 403:
        return True
    if event.action and event.action.lower() in REFUSED_ACTIONS:
        return True
    flags = (event.tcp_flags or "").upper()
    return "RST" in flags or flags in ("R", "RA", "AR")


class EvidenceFilter:
    """``Pipeline(db, stages=[EvidenceFilter(engine, responder)])``: the engine sees everything except
    refused traffic from currently blocked sources."""

    def __init__(self, engine: Callable[[list[Event]], object], is_blocked: Callable[[str], bool],
                 any_blocked: Callable[[], bool]) -> None:
        self.engine = engine
        self.is_blocked = is_blocked
        self.any_blocked = any_blocked
        self.withheld = 0
        # the engine is not thread-safe and live sources (syslog, NetFlow, web intake) call from several threads
        self._lock = threading.Lock()

    def __call__(self, events: list[Event]) -> None:
        with self._lock:
            if self.any_blocked():
                kept = [e for e in events if not (e.src_ip and looks_refused(e) and self.is_blocked(e.src_ip))]
                self.withheld += len(events) - len(kept)
                events = kept
            self.engine(events)
