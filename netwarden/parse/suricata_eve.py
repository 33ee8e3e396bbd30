"""Suricata ``eve.json``: one JSON object per line, with ``event_type`` saying which kind.

alert, flow (and netflow), http, dns, tls, fileinfo and anomaly get their fields mapped; any other type is
kept as an event with the common part (addresses, ports, protocol, time) and ``event_type`` in ``extra``.

Decisions:

* ``timestamp`` is the event's time, except for ``flow``/``netflow`` records, whose ``timestamp`` is when
  Suricata *logged* the flow (at its end, or at a timeout; for a pcap it may even precede the flow). Their
  event time is ``flow.start``, as for Zeek's ``ts`` and Argus' ``StartTime``; the logged time stays in
  ``extra["logged_at"]``.
* The source is the client (``src_ip``), so ``*_toserver`` counters are ``*_out`` and ``*_toclient`` ``*_in``.
  Flow counters inside an alert are a snapshot, not a total, and are not mapped.
* ``alert.action`` "allowed" means an IDS alert: ``Event.action`` "alert"; "blocked" (IPS) is "blocked".
* ``app_proto`` "failed" (detection gave up) is no application protocol; it stays in ``extra``.
* ``host`` is the sensor's name: it becomes ``observer`` unless the context names one.
* A line prefixed by syslog (``... suricata[123]: {"timestamp":...``) is read from its ``{``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from netwarden.parse import fields
from netwarden.parse._jsonline import load_object, obj, objects, plain, scalar, string
from netwarden.parse.base import ParseError, Parser, register
from netwarden.records import Event, SourceKind

_APP_EVENT_TYPES = frozenset({"http", "dns", "tls", "ssh", "smtp", "ftp", "smb", "dhcp", "nfs", "tftp", "rdp",
                              "sip", "snmp", "krb5", "ikev2", "mqtt", "http2", "quic", "rfb", "dnp3",
                              "modbus"})
_TCP_FLAG_NAMES = ((0x02, "SYN"), (0x10, "ACK"), (0x08, "PSH"), (0x01, "FIN"), (0x04, "RST"), (0x20, "URG"),
                   (0x40, "ECE"), (0x80, "CWR"))
_MAX_ANSWERS = 32
_SYSLOG_MARK = '{"timestamp"'


def _address(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ParseError("bad_address", f"{what} is not a string")
    return fields.ip(value, what)


def _time(value: Any, local_tz: Any, what: str) -> datetime | None:
    if value is not None and not isinstance(value, str):
        raise ParseError("bad_timestamp", f"{what} is not a string")
    return fields.iso_time(value, local_tz, what)


def _is_eve(value: dict[str, Any] | None) -> bool:
    # NetWarden's own JSON lines also have "timestamp", but never a top-level "event_type"
    return (value is not None and isinstance(value.get("event_type"), str) and "timestamp" in value
            and "source_kind" not in value)


def _tcp_flags(hex_flags: Any) -> str | None:
    """Suricata's cumulative TCP flags ("1b") as names ("SYN,ACK,PSH,FIN")."""
    if not isinstance(hex_flags, str) or not 0 < len(hex_flags) <= 2:
        return None
    try:
        bits = int(hex_flags, 16)
    except ValueError:
        return None
    return ",".join(name for bit, name in _TCP_FLAG_NAMES if bits & bit) or None


def _count(container: dict[str, Any], key: str) -> int | None:
    return fields.counter(scalar(container.get(key), "bad_number", key), key)


def _answer(rrtype: Any, rdata: Any) -> str:
    return f"{string(rrtype, 16) or '?'} {string(rdata, 512) or ''}".rstrip()


def _put(extra: dict[str, Any], key: str, value: Any) -> None:
    value = plain(value)
    if value is not None and value != "" and value != []:
        extra[key] = value


@register
class SuricataEve(Parser):
    """Suricata EVE JSON (eve.json): alerts, flows and protocol transactions."""

    name = "suricata_eve"
    description = "Suricata EVE JSON (eve.json): alert, flow, http, dns, tls, fileinfo, anomaly, ..."
    example = ('{"timestamp":"2021-06-06T15:59:46.457984+0200","flow_id":1374195536821504,'
               '"event_type":"alert","src_ip":"78.36.196.213","src_port":51698,"dest_ip":"192.168.1.129",'
               '"dest_port":445,"proto":"TCP","alert":{"action":"allowed","signature_id":2403388,'
               '"signature":"ET CINS Active Threat Intelligence Poor Reputation IP group 89",'
               '"category":"Misc Attack","severity":2}}')
    source_kind = SourceKind.SURICATA
    keep_raw = True  # nested detail (alert metadata, JA3 strings, files) is not all mapped

    @classmethod
    def sniff(cls, lines: Sequence[str]) -> float:
        decoded = objects(lines)
        if not decoded:
            return 0.0
        hits = sum(1 for o in decoded if _is_eve(o))
        if hits:
            return 0.97 * hits / len(decoded)
        # eve-log to syslog: "Jun  6 15:57:45 sensor suricata[812]: {"timestamp":...}"
        prefixed = [line[line.find(_SYSLOG_MARK):] for line in lines
                    if not line.lstrip().startswith("{") and line.find(_SYSLOG_MARK) > 0]
        hits = sum(1 for o in objects(prefixed) if _is_eve(o))
        return 0.96 * hits / len(decoded)

    def parse_line(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        if not line.strip():
            return None
        start = line.find(_SYSLOG_MARK) if not line.lstrip().startswith(("{", "[")) else -1
        d = load_object(line[start:] if start > 0 else line)
        event_type = d.get("event_type")
        if not isinstance(event_type, str) or not event_type:
            raise ParseError("missing_field", "no event_type")
        event_type = event_type[:32].lower()
        local_tz = self.context.local_tz
        logged_at = _time(d.get("timestamp"), local_tz, "timestamp")
        if logged_at is None:
            raise ParseError("missing_field", "no timestamp")
        proto = string(d.get("proto"), 16)
        app_proto = string(d.get("app_proto"), 32)
        extra: dict[str, Any] = {"event_type": event_type}
        if app_proto == "failed":
            extra["app_proto"] = app_proto
            app_proto = None
        for key in ("flow_id", "in_iface", "vlan", "community_id", "icmp_type", "icmp_code", "tx_id"):
            _put(extra, key, d.get(key))
        event = Event(
            timestamp=logged_at,
            source_kind=SourceKind.SURICATA,
            observer=self.context.observer or string(d.get("host"), 256),
            src_ip=_address(d.get("src_ip"), "src_ip"),
            src_port=fields.port(scalar(d.get("src_port"), "bad_port", "src_port"), "src_port"),
            dst_ip=_address(d.get("dest_ip"), "dest_ip"),
            dst_port=fields.port(scalar(d.get("dest_port"), "bad_port", "dest_port"), "dest_port"),
            transport=proto.lower() if proto else None,
            app_protocol=(app_proto.lower() if app_proto
                          else event_type if event_type in _APP_EVENT_TYPES else None),
            raw=line if self.keep_raw else None,
            extra=extra,
        )
        if event_type in ("flow", "netflow"):
            self._flow(event, obj(d, event_type), logged_at)
        if event_type == "alert" or "alert" in d:
            self._alert(event, obj(d, "alert"))
        elif event_type == "drop":
            event.action = "blocked"
        if "http" in d:
            self._http(event, obj(d, "http"), event_type)
        if "dns" in d:
            self._dns(event, obj(d, "dns"))
        if "tls" in d:
            self._tls(event, obj(d, "tls"))
        if event_type == "fileinfo":
            info = obj(d, "fileinfo")
            for key in ("filename", "size", "state", "stored", "magic", "md5", "sha256"):
                _put(extra, f"file_{key}", info.get(key))
        if event_type == "anomaly":
            anomaly = obj(d, "anomaly")
            for key in ("type", "event", "layer", "code"):
                _put(extra, f"anomaly_{key}", anomaly.get(key))
            event.message = string(anomaly.get("event"), 256)
            if event.app_protocol is None and isinstance(anomaly.get("app_proto"), str):
                event.app_protocol = anomaly["app_proto"][:32].lower()
        tcp = obj(d, "tcp")
        if tcp:
            event.tcp_flags = _tcp_flags(tcp.get("tcp_flags"))
            _put(extra, "tcp_state", tcp.get("state"))
        return event

    def _flow(self, event: Event, flow: dict[str, Any], logged_at: datetime) -> None:
        event.packets_out = _count(flow, "pkts_toserver")
        event.packets_in = _count(flow, "pkts_toclient")
        event.bytes_out = _count(flow, "bytes_toserver")
        event.bytes_in = _count(flow, "bytes_toclient")
        start = _time(flow.get("start"), self.context.local_tz, "flow.start")
        end = _time(flow.get("end"), self.context.local_tz, "flow.end")
        if start is not None:
            event.timestamp = start
            event.extra["logged_at"] = logged_at.isoformat().replace("+00:00", "Z")
            if end is not None:
                if end < start:
                    raise ParseError("bad_timestamp", "flow ends before it starts")
                event.duration = (end - start).total_seconds()
        for key in ("state", "reason", "alerted", "age"):
            _put(event.extra, f"flow_{key}", flow.get(key))

    @staticmethod
    def _alert(event: Event, alert: dict[str, Any]) -> None:
        action = string(alert.get("action"), 32)
        event.action = "blocked" if action in ("blocked", "drop", "dropped", "reject") else "alert"
        signature = string(alert.get("signature"), 1024)
        event.message = signature
        extra = event.extra
        for key in ("signature", "signature_id", "category", "severity", "gid", "rev"):
            _put(extra, key, alert.get(key))
        if action and action != "allowed":
            extra["alert_action"] = action

    @staticmethod
    def _http(event: Event, http: dict[str, Any], event_type: str) -> None:
        method = string(http.get("http_method"), 32)
        event.http_method = method.upper() if method else None
        event.url = fields.text(string(http.get("url")))
        status = http.get("status")
        if status is not None:
            status = fields.counter(scalar(status, "bad_status", "status"), "HTTP status")
            if not 100 <= status <= 999:
                raise ParseError("bad_status", f"HTTP status {status} out of range")
            event.http_status = status
        event.user_agent = fields.text(string(http.get("http_user_agent")))
        length = http.get("length")
        if event_type == "http" and length is not None:
            event.bytes_in = _count(http, "length")  # the response body, as in access logs
        extra = event.extra
        for key, name in (("hostname", "http_host"), ("http_port", "http_port"), ("protocol", "http_version"),
                          ("http_refer", "referrer"), ("http_content_type", "http_content_type"),
                          ("length", "http_length"), ("redirect", "http_redirect")):
            _put(extra, name, http.get(key))

    @staticmethod
    def _dns(event: Event, dns: dict[str, Any]) -> None:
        rrname, rrtype = dns.get("rrname"), dns.get("rrtype")
        queries = dns.get("queries")  # EVE DNS v3 (Suricata 7+) lists the questions
        if rrname is None and isinstance(queries, list) and queries and isinstance(queries[0], dict):
            rrname, rrtype = queries[0].get("rrname"), queries[0].get("rrtype")
        extra = event.extra
        for key, value in (("dns_type", dns.get("type")), ("dns_id", dns.get("id")), ("dns_rrname", rrname),
                           ("dns_rrtype", rrtype), ("dns_rcode", dns.get("rcode"))):
            _put(extra, key, value)
        answers: list[str] = []
        raw_answers = dns.get("answers")
        if isinstance(raw_answers, list):
            for answer in raw_answers[:_MAX_ANSWERS]:
                if isinstance(answer, dict):
                    answers.append(_answer(answer.get("rrtype"), answer.get("rdata")))
        elif "rdata" in dns:  # EVE DNS v1: one answer per event
            answers.append(_answer(rrtype, dns.get("rdata")))
        if answers:
            extra["dns_answers"] = answers
        parts = [string(dns.get("type"), 16) or "dns", string(rrname, 512) or "", string(rrtype, 16) or ""]
        if dns.get("rcode") is not None:
            parts.append(string(dns.get("rcode"), 16) or "")
        message = " ".join(p for p in parts if p)
        if answers:
            message += ": " + ", ".join(answers)
        event.message = message[:2048]

    @staticmethod
    def _tls(event: Event, tls: dict[str, Any]) -> None:
        extra = event.extra
        for key in ("sni", "version", "subject", "issuerdn", "serial", "fingerprint",
                    "notbefore", "notafter"):
            _put(extra, f"tls_{key}", tls.get(key))
        for key in ("ja3", "ja3s"):
            _put(extra, f"tls_{key}", obj(tls, key).get("hash"))
