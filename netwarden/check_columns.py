"""A checked connection as a model trained on a plain CSV sees it. Such a model reads its features from the
CSV's own columns (``source_ip``, ``protocol``, ``bytes_sent``, ``flag`` ...: netwarden.learn.features, mode
"extra"), not from NetWarden's event fields, so the Check page must give it those columns, with the values as
the person typed them (``ICMP`` stays ``ICMP``; a TCP flag on an ICMP row is still the row's ``flag``) — else
the same row scores differently through Check and through ``netwarden model predict``."""

from __future__ import annotations

import dataclasses
from typing import Any

from netwarden.records import Event

# the connection's fields, and the column names single-record datasets give them
ALIASES = {
    "src_ip": ("source_ip", "src_ip", "srcip", "source ip", "src ip", "saddr", "src_addr", "source_address"),
    "dst_ip": ("destination_ip", "dst_ip", "dstip", "destination ip", "dst ip", "daddr", "dst_addr",
               "destination_address"),
    "protocol": ("protocol", "proto", "protocol_type", "transport"),
    "src_port": ("src_port", "sport", "source_port", "source port", "srcport"),
    "dst_port": ("dst_port", "dport", "dsport", "destination_port", "destination port", "dstport"),
    "packet_size": ("packet_size", "pkt_size", "packet_length", "length", "size"),
    "bytes_out": ("bytes_sent", "bytes_out", "src_bytes", "sbytes", "out_bytes", "orig_bytes"),
    "bytes_in": ("bytes_received", "bytes_in", "dst_bytes", "dbytes", "in_bytes", "resp_bytes"),
    "tcp_flags": ("flag", "flags", "tcp_flags", "tcp_flag"),
}
_FIELD_OF = {alias: field for field, aliases in ALIASES.items() for alias in aliases}


def for_model(event: Event, model: Any, asked: dict[str, Any] | None) -> Event:
    """``event`` with the columns a CSV-trained model reads filled from what was asked; unchanged for models
    that read event fields."""
    spec = getattr(model, "spec_", None)
    if asked is None or spec is None or getattr(spec, "mode", None) != "extra":
        return event
    extra = dict(event.extra)
    for name in spec.numeric:
        value = asked.get(_FIELD_OF.get(name.lower(), ""))
        if name not in extra and isinstance(value, (int, float)) and not isinstance(value, bool):
            extra[name] = float(value)  # the CSV reader gives numbers as floats
    for name in spec.categorical:
        value = asked.get(_FIELD_OF.get(name.lower(), ""))
        if name not in extra and value is not None:
            text = str(value)
            levels = {str(level).lower(): level for level in spec.levels.get(name, [])}
            extra[name] = levels.get(text.lower(), text)  # "icmp" typed, "ICMP" learnt: the same protocol
    return dataclasses.replace(event, extra=extra)
