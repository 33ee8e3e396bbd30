"""The live feed's messages: what a browser is told about new events, alerts and block changes.

The web process publishes them to its own hub (``web.runtime``); a bus worker publishes the same messages to
the bus, where every web process picks them up. Both build them here, so a headless worker needs nothing
from ``web/``. Every text field comes from logs: the browser renders them as text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from netwarden.records import Alert, Event

EVENTS_PER_BATCH = 20  # the live stream shows a sample of each batch; the events page has them all


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def live_event(e: Event) -> dict[str, Any]:
    """The fields the live stream shows."""
    return {"timestamp": _iso(e.timestamp), "source_kind": str(e.source_kind), "src_ip": e.src_ip,
            "src_port": e.src_port, "dst_ip": e.dst_ip, "dst_port": e.dst_port, "transport": e.transport,
            "http_method": e.http_method, "url": (e.url or "")[:300] or None, "http_status": e.http_status,
            "user_agent": (e.user_agent or "")[:300] or None, "user": e.user, "action": e.action,
            "message": (e.message or "")[:300] or None}


def block_summary(b: Any) -> dict[str, Any]:
    return {"id": b.id, "network": b.network, "state": str(b.state), "reason": (b.reason or "")[:300],
            "mode": b.mode, "level": b.level, "created_by": b.created_by, "alert_id": b.alert_id,
            "created": _iso(b.created), "expires": _iso(b.expires)}


def alert_summary(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "subkind": a.subkind, "severity": str(a.severity),
            "confidence": round(a.confidence, 3), "source": a.source, "target": a.target,
            "first_seen": _iso(a.first_seen), "last_seen": _iso(a.last_seen), "count": a.count,
            "status": str(a.status), "detector": a.detector, "incident_id": a.incident_id, "history": a.history}


def events_message(batch: list[Event]) -> dict[str, Any]:
    """The ``events`` topic: how many were stored, and a sample of the last ones."""
    return {"count": len(batch), "sample": [live_event(e) for e in batch[-EVENTS_PER_BATCH:]]}


def alert_message(alert: Alert, is_new: bool) -> dict[str, Any]:
    """The ``alert`` topic."""
    return {**alert_summary(alert), "is_new": is_new}


def block_message(block: Any, what: str) -> dict[str, Any]:
    """The ``block`` topic: ``what`` happened (blocked, unblocked, expired, failed)."""
    return {**block_summary(block), "what": what}
