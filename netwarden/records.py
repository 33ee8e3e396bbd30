"""The core records that flow through NetWarden.

Field names follow the Elastic Common Schema where one exists, so administrators recognise them.
A field a source does not have stays ``None``; vendor-specific fields go into ``extra``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
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
        for f in EVENT_FIELDS:
            value = getattr(self, f)
            if value is None or (f == "extra" and not value):
                continue
            if isinstance(value, datetime):
                value = value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
            out[f] = value
        return out


EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Event))
