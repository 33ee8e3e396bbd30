"""What one flow/firewall event says about a connection attempt: shared by port_scan and unusual_service.

Every source reports a connection differently (a pcap flow's per-direction flags, Zeek's ``conn_state`` and
``history``, Argus ``State``, Suricata's cumulative flags, a firewall's verdict on one packet, a NetFlow
record of one direction). :func:`classify` reads them all into one answer:

- ``None``: not a connection attempt by ``src_ip`` (an HTTP request record, mid-stream or return traffic,
  an ICMP error, multicast/broadcast, a traceroute probe, ...);
- otherwise ``(status, special)``: ``status`` is ``FAILED`` (unanswered, refused, reset before any data,
  dropped by a firewall), ``OK`` (data was exchanged), or ``NEUTRAL`` (cannot tell: a firewall logging an
  allowed packet, a completed handshake without data); ``special`` is ``"halfopen"`` (SYN answered by
  SYN-ACK, then a bare RST from the originator: a raw-socket SYN scanner such as ``nmap -sS``/masscan), a
  crafted flag combination (``"NULL"``, ``"FIN"``, ``"XMAS"``, ``"SYN+FIN"``, ``"FIN+PSH"`` ... — flags no
  operating system's TCP stack sends without ACK: ``nmap -sN/-sF/-sX``, ``-O`` fingerprinting, hping3), or
  ``""``.

The test for crafted flags is safe on aggregated flows: a real client puts ACK on every segment after its
SYN, so a flow whose originator never sent ACK yet sent FIN, PSH or URG (or no flag at all) was crafted.
"""

from __future__ import annotations

from netwarden.records import Event

FAILED, NEUTRAL, OK = 0, 1, 2
STATUS_NAMES = ("failed", "neutral", "ok")

ICMP_PROBES = frozenset({8, 13, 15, 17, 128})  # echo, timestamp, information, address mask; ICMPv6 echo
TRACEROUTE = range(33434, 33535)  # UDP traceroute's destination ports: a failure there is the design
UDP_SERVICES = frozenset({1900, 3702, 5353, 5355, 1812, 1813, 3478, 4500, 5060, 5683})  # SSDP, WS-Discovery, mDNS, LLMNR, RADIUS, STUN, IPsec NAT-T, SIP, CoAP
QUICK_RESET = 0.25  # s: a half-open faster than the happy-eyeballs delay (RFC 8305) is a scanner, not a browser

# Zeek conn_state values with no answer or a refusal (no data either way)
_ZEEK_FAILED = frozenset({"S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR"})
_ZEEK_ABORT = frozenset({"RSTO", "RSTR"})  # failed when no payload was exchanged
_ARGUS_FAILED = frozenset({"S0", "REJ", "REQ", "INT", "RSTOS0", "TIM"})
_ARGUS_OK = frozenset({"CON", "ACC", "CLO", "FIN", "EST", "SF"})
_FW_BLOCKED = frozenset({"blocked", "dropped", "drop", "denied", "deny", "reject", "rejected"})
_FLOW_KINDS = frozenset({"pcap", "zeek", "argus", "suricata", "netflow", "firewall", "flow_csv"})
_SURICATA_FLOWS = frozenset({"flow", "netflow", "drop"})


def not_unicast(ip: str) -> bool:
    """Multicast, broadcast or unspecified (cheap string tests; addresses are canonical text)."""
    if ":" in ip:
        return ip.startswith(("ff", "FF")) or ip == "::"
    if ip.endswith(".255") or ip == "0.0.0.0":
        return True
    first = ip[:3]
    return first.isdigit() and 224 <= int(first) <= 239


def crafted(flags: str) -> str:
    """The crafted pattern of an originator's TCP flags that lack ACK, or "" (see the module doc)."""
    if "ACK" in flags:
        return ""
    if not flags:
        return "NULL"
    fin, psh, urg, syn = "FIN" in flags, "PSH" in flags, "URG" in flags, "SYN" in flags
    if not (fin or psh or urg):
        return ""
    if syn and fin:
        return "SYN+FIN"
    if fin and psh and urg:
        return "XMAS"
    if fin and not (psh or urg):
        return "FIN"
    return "+".join(n for n, on in (("SYN", syn), ("FIN", fin), ("PSH", psh), ("URG", urg)) if on)


def classify(e: Event) -> tuple[int, str] | None:
    """``(status, special)`` for a connection attempt from ``e.src_ip`` to ``e.dst_ip``, else None."""
    kind = e.source_kind
    if kind not in _FLOW_KINDS:
        return None
    t = e.transport
    if t == "tcp":
        if kind == "pcap":
            return _pcap_tcp(e)
        if kind == "zeek":
            return _zeek_tcp(e)
        if kind == "argus":
            return _argus_tcp(e)
        if kind == "firewall":
            return _firewall_tcp(e)
        if kind == "suricata" and e.extra.get("event_type") not in _SURICATA_FLOWS:
            return None
        return _generic_tcp(e, kind == "netflow")
    if t == "udp":
        port = e.dst_port
        if port is None or port in TRACEROUTE:
            return None
        if kind == "suricata" and e.extra.get("event_type") not in _SURICATA_FLOWS:
            return None
        sport = e.src_port
        if sport is not None and port >= 1024 and (sport < 1024 or sport in UDP_SERVICES) and sport < port:
            return None  # a service answering (a reply to multicast discovery, or one-direction records)
        return _answered(e, kind)
    if t in ("icmp", "icmpv6", "ipv6-icmp"):
        if kind == "argus":
            state = e.extra.get("state")
            if state != "ECO":
                return None
        elif kind == "zeek":
            if e.src_port not in ICMP_PROBES:
                return None
        else:
            itype = e.extra.get("icmp_type")
            if itype is not None and itype not in ICMP_PROBES:
                return None
            if kind == "suricata" and e.extra.get("event_type") not in _SURICATA_FLOWS:
                return None
        return _answered(e, kind)
    if t == "arp" and kind == "pcap":
        if not e.extra.get("arp_requests_out"):
            return None
        return (FAILED if not e.extra.get("arp_replies_in") else OK), ""
    return None


def _answered(e: Event, kind: str) -> tuple[int, str]:
    """UDP/ICMP: answered or not (a firewall: its verdict)."""
    if kind == "firewall":
        return (FAILED if (e.action or "") in _FW_BLOCKED else NEUTRAL), ""
    if kind == "zeek":
        state = e.extra.get("conn_state")
        if state == "S0":
            return FAILED, ""
    elif kind == "argus":
        state = e.extra.get("state")
        if state in _ARGUS_FAILED or state == "ECO":
            return (FAILED if not e.packets_in else OK), ""
        if state in _ARGUS_OK:
            return OK, ""
    if e.packets_in is None:
        return NEUTRAL, ""
    return (OK if e.packets_in > 0 else FAILED), ""


def _pcap_tcp(e: Event) -> tuple[int, str] | None:
    extra = e.extra
    fo = extra.get("flags_out")
    fi = extra.get("flags_in") or ""
    if fo is None:
        return _generic_tcp(e, False)
    if "SYN" not in fo or "ACK" not in fo:
        special = crafted(fo)
        if special:
            return FAILED, special
        if "SYN" not in fo:
            return None  # mid-stream (the capture began after the handshake) or a bare ACK/RST
    if "SYN" in fi and "ACK" in fi:  # answered
        if "ACK" not in fo:  # SYN ... RST without ever acknowledging the SYN-ACK
            quick = e.duration is not None and e.duration < QUICK_RESET and (e.packets_out or 0) <= 2
            return FAILED, ("halfopen" if quick else "")
        if "PSH" in fo or "PSH" in fi:
            return OK, ""
        return (FAILED if "RST" in fo else NEUTRAL), ""  # connect() then reset without data: -sT
    return FAILED, ""  # unanswered or refused (RST)


def _zeek_tcp(e: Event) -> tuple[int, str] | None:
    extra = e.extra
    state = extra.get("conn_state") or ""
    history = extra.get("history") or ""
    if "S" not in history:
        if history in ("F", "Fr"):
            return FAILED, "FIN"
        if state in _ZEEK_FAILED and history:
            return FAILED, ""
        return None  # mid-stream, or the responder's half of something we never saw start
    if state in _ZEEK_FAILED:
        return FAILED, ""
    if history.startswith("Sh") and "A" not in history and "D" not in history and "R" in history:
        quick = e.duration is not None and e.duration < QUICK_RESET
        return FAILED, ("halfopen" if quick else "")
    no_data = not e.bytes_out and not e.bytes_in
    if state in _ZEEK_ABORT:
        return (FAILED if no_data else OK), ""
    if no_data:
        return NEUTRAL, ""
    return OK, ""


def _argus_tcp(e: Event) -> tuple[int, str] | None:
    state = e.extra.get("state") or e.tcp_flags or ""
    if "_" in state:
        src, _, dst = state.partition("_")
        if "S" not in src:
            special = crafted(_argus_flags(src))
            return (FAILED, special) if special else None
        if "S" in dst and "A" in dst:
            if "A" not in src:
                return FAILED, "halfopen" if e.duration is not None and e.duration < QUICK_RESET else ""
            if "P" in src or "P" in dst:
                return OK, ""
            return (FAILED if "R" in src else NEUTRAL), ""
        if not dst and "A" in src:
            return NEUTRAL, ""  # only one direction was seen (asymmetric routing): cannot tell
        return FAILED, crafted(_argus_flags(src))
    if state in _ARGUS_FAILED:
        return FAILED, ""
    if state == "RST":
        return (FAILED if not e.bytes_in else NEUTRAL), ""
    if state in _ARGUS_OK:
        return (OK if e.bytes_in else NEUTRAL), ""
    return NEUTRAL, ""


def _argus_flags(letters: str) -> str:
    names = {"S": "SYN", "A": "ACK", "F": "FIN", "R": "RST", "P": "PSH", "U": "URG"}
    return ",".join(names[c] for c in letters if c in names)


def _firewall_tcp(e: Event) -> tuple[int, str] | None:
    flags = e.tcp_flags
    if flags is None:
        # netfilter prints every flag word; a TCP line with none is a NULL packet
        msg = e.message or ""
        if "PROTO=TCP" in msg and " URGP=" in msg:
            return FAILED if (e.action or "") in _FW_BLOCKED else NEUTRAL, "NULL"
        flags = "SYN"  # a firewall that does not print flags logs new connections
    special = crafted(flags)
    if special:
        return FAILED, special
    if "SYN" not in flags or "ACK" in flags:
        return None  # a late packet of a connection the firewall forgot, or an answer
    return (FAILED if (e.action or "") in _FW_BLOCKED else NEUTRAL), ""


def _generic_tcp(e: Event, one_way: bool) -> tuple[int, str] | None:
    """Cumulative flags (Suricata: both directions; NetFlow: the originator's direction only) and counts."""
    flags = e.tcp_flags
    if flags:
        special = crafted(flags)
        if special:
            return FAILED, special
        if "SYN" not in flags:
            return None  # a record of the middle of a long flow
        if one_way and e.src_port is not None and e.dst_port is not None and e.src_port < 1024 <= e.dst_port:
            return None  # a server's half of a connection
        if "ACK" not in flags:
            return FAILED, ""  # SYN (and RST) only: never connected
        if "PSH" in flags:
            return OK, ""
        if not one_way and "RST" in flags:
            return FAILED, ""  # both directions' flags: reset before any data (refused, or a probe's abort)
        return NEUTRAL, ""  # a handshake without data (or data without PSH): cannot tell
    if e.action and e.action in _FW_BLOCKED:
        return FAILED, ""
    if e.packets_in is not None and not one_way:
        if e.packets_in == 0:
            return FAILED, ""
        if e.bytes_in is not None and e.packets_in <= 2 and not e.bytes_out:
            return FAILED, ""
        if e.bytes_in is not None and e.bytes_in <= 80 * e.packets_in and (e.bytes_out or 0) <= 80 * (
                e.packets_out or 1):
            return NEUTRAL, ""  # headers only (≤ 80 B a packet): a handshake, no data
        return OK, ""
    return NEUTRAL, ""
