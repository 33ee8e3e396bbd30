"""The core records that flow through NetWarden.

Field names follow the Elastic Common Schema where one exists, so administrators recognise them.
A field a source does not have stays ``None``; vendor-specific fields go into ``extra``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from operator import attrgetter
from typing import Any


class SourceKind(StrEnum):
    """Where an event came from: what kind of log or sensor produced it."""

    ACCESS_LOG = "access_log"
    SYSLOG = "syslog"
    AUTH = "auth"
    FIREWALL = "firewall"
    NETFLOW = "netflow"
    PCAP = "pcap"
    ZEEK = "zeek"
    SURICATA = "suricata"
    ARGUS = "argus"
    FLOW_CSV = "flow_csv"
    HTTP = "http"


@dataclass(slots=True)
class Event:
    """One normalised observation: a request, a connection, a log line, a flow.

    >>> Event(timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc), source_kind="access_log",
    ...       src_ip="203.0.113.7", http_method="GET", url="/", http_status=200).http_status
    200
    """

    timestamp: datetime | None
    source_kind: str
    observer: str | None = None
    src_ip: str | None = None
    src_port: int | None = None
    dst_ip: str | None = None
    dst_port: int | None = None
    transport: str | None = None  # tcp, udp, icmp, ... lower case
    app_protocol: str | None = None  # http, dns, ssh, ...
    bytes_out: int | None = None  # sent by the source (originator)
    bytes_in: int | None = None  # received by the source
    packets_out: int | None = None
    packets_in: int | None = None
    duration: float | None = None  # seconds
    tcp_flags: str | None = None  # e.g. "SYN,ACK" or a tool's own notation kept verbatim
    action: str | None = None  # firewall/IDS verdict: allowed, blocked, dropped, alert ...
    http_method: str | None = None
    url: str | None = None
    http_status: int | None = None
    user_agent: str | None = None
    user: str | None = None
    outcome: str | None = None  # success, failure, unknown
    message: str | None = None
    raw: str | None = None
    label: str | None = None  # ground truth when the input carries one
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in NetWarden's own event shape (what the ``netwarden`` format reads)."""
        out: dict[str, Any] = {}
        for f, value in zip(EVENT_FIELDS, _EVENT_VALUES(self)):  # one C call for all the fields
            if value is None:
                continue
            if isinstance(value, datetime):
                value = _UTC_TEXT.get(value) or _utc_text(value)
            out[f] = value
        if not self.extra:
            out.pop("extra", None)
        return out


EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Event))
_EVENT_VALUES = attrgetter(*EVENT_FIELDS)
# UTC times as text: alerts keep sample events as dicts, a flood asks for thousands within the same seconds
_UTC_TEXT: dict[datetime, str] = {}


def _utc_text(t: datetime) -> str:
    text = t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if t.tzinfo is timezone.utc:  # equal UTC times print alike (not so naive ones, nor wall times of one zone)
        if len(_UTC_TEXT) >= 4096:
            _UTC_TEXT.clear()
        _UTC_TEXT[t] = text
    return text


class Severity(StrEnum):
    """How urgently a person should look: critical, high, medium, low."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def time_order(event: Event) -> datetime:
    """Sort key for events in time order; one without a time (none the parsers make) sorts first."""
    return event.timestamp or _EPOCH


class AlertStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"


@dataclass(slots=True)
class Factor:
    """One named reason behind a confidence, e.g. ("failures", 0.7, "412 failures in 60 s").

    ``weight`` is how much this reason alone would make the administrator believe the alert (0..1);
    the alert's confidence combines the factors as independent evidence (see ``detect.scoring``).
    """

    name: str
    weight: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "weight": round(self.weight, 4), "detail": self.detail}


@dataclass(slots=True)
class Finding:
    """What a detector reports: one kind of suspicious activity by one source, with its evidence.

    ``signature`` names the precise pattern (a rule id, a port set, a URL path) so that an administrator
    who marks an alert as a false positive suppresses exactly that pattern from that source.
    """

    kind: str  # e.g. "web_attack", "port_scan", "brute_force"
    detector: str
    severity: Severity
    factors: list[Factor]
    recommendation: str
    first_seen: datetime
    last_seen: datetime
    source: str | None = None  # the offender, usually an address
    target: str | None = None
    count: int = 1  # events behind this finding
    signature: str = ""
    subkind: str = ""  # e.g. "sqli", "vertical", "ssh"
    evidence: dict[str, Any] = field(default_factory=dict)
    samples: list[Event] = field(default_factory=list)  # a few events that show it (bounded)
    events: list[Event] = field(default_factory=list)  # every contributing event, only when evaluating


@dataclass(slots=True)
class Alert:
    """A stored, explained alert: repeats of one kind from one source update it instead of piling up."""

    kind: str
    subkind: str
    severity: Severity
    confidence: float
    factors: list[Factor]
    source: str | None
    target: str | None
    first_seen: datetime
    last_seen: datetime
    count: int
    evidence: dict[str, Any]
    recommendation: str
    detector: str
    signature: str = ""
    status: AlertStatus = AlertStatus.NEW
    id: int | None = None
    incident_id: int | None = None
    model_version: str | None = None
    history: bool = False  # from old events (an import): shown, but no automatic block or notification
