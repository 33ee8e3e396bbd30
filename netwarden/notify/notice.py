"""What a notification is about: an alert or a block, turned into plain fields (no formatting yet)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from netwarden.records import Alert, Severity

if TYPE_CHECKING:
    from netwarden.store.blocks import Block


@dataclass
class Notice:
    kind: str  # "alert" or "block"
    severity: Severity
    title: str
    fields: dict[str, str] = field(default_factory=dict)
    when: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": str(self.severity), "title": self.title, "fields": self.fields,
                "time": self.when.isoformat()}


def alert_notice(alert: Alert, *, escalated: bool = False) -> Notice:
    label = f"{alert.kind}/{alert.subkind}" if alert.subkind else alert.kind
    title = f"{alert.severity} {label} from {alert.source or 'unknown source'}"
    fields = {"alert": f"#{alert.id}" if alert.id is not None else "-",
              "confidence": f"{alert.confidence:.2f}", "target": alert.target or "-",
              "events": f"{alert.count:,}", "first seen": alert.first_seen.isoformat(),
              "last seen": alert.last_seen.isoformat(),
              "why": alert.factors[0].detail if alert.factors else "-",
              "what to do": alert.recommendation or "-"}
    if escalated:
        title += " (severity raised)"
    return Notice("alert", alert.severity, title, fields)


def block_notice(block: Block, what: str) -> Notice:
    verb = {"blocked": "blocked", "failed": "block FAILED for", "unblocked": "unblocked",
            "expired": "block expired for"}.get(what, what)
    dry = " (dry-run: firewall untouched)" if block.mode == "dry-run" and what == "blocked" else ""
    title = f"{verb} {block.network}{dry}"
    fields = {"block": f"#{block.id}", "reason": block.reason, "by": block.created_by,
              "backend": block.backend,
              "until": block.expires.isoformat() if block.expires else "removed by hand (permanent)"}
    if block.detail:
        fields["detail"] = block.detail
    severity = Severity.HIGH if what == "failed" else Severity.MEDIUM
    return Notice("block", severity, title, fields)
