"""Where simulated traffic goes: NetWarden's own parsers in process, or a running server's listeners.

Flow records are encoded as IPFIX (RFC 7011) messages either way and decoded by the real collector's
decoder in process, so the in-process path and the network path give the same events.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timezone, tzinfo

from netwarden.collect.netflow import NetflowDecoder
from netwarden.parse import ParseContext, ParseError, get_parser
from netwarden.records import Event, time_order
from netwarden.simulate import office
from netwarden.simulate.traffic import Emission, Flow

# (IE, length): addresses, ports, protocol, flags, octetDeltaCount, packetDeltaCount, flowStart/EndMilliseconds
_V4_FIELDS = ((8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (1, 8), (2, 8), (152, 8), (153, 8))
_V6_FIELDS = ((27, 16), (28, 16)) + _V4_FIELDS[2:]
_V4_TEMPLATE, _V6_TEMPLATE = 256, 257
_V4_RECORD = struct.Struct(">4s4sHHBBQQQQ")
_V6_RECORD = struct.Struct(">16s16sHHBBQQQQ")
MAX_RECORDS = 24  # per message: 24 × 44 bytes stays far below any path MTU


def _template_set() -> bytes:
    body = b""
    for template_id, fields in ((_V4_TEMPLATE, _V4_FIELDS), (_V6_TEMPLATE, _V6_FIELDS)):
        body += struct.pack(">HH", template_id, len(fields)) + b"".join(struct.pack(">HH", *f) for f in fields)
    return struct.pack(">HH", 2, 4 + len(body)) + body


class IpfixEncoder:
    """Flow records → IPFIX messages, each carrying its templates (a collector that starts late, or lost a
    datagram, decodes the next one at once; exporters resend templates periodically for the same reason)."""

    def __init__(self, domain: int = 1) -> None:
        self.domain = domain
        self.sequence = 0
        self._templates = _template_set()

    def encode(self, flows: Sequence[Flow], export_time: float | None = None) -> list[bytes]:
        messages = []
        for i in range(0, len(flows), MAX_RECORDS):
            chunk = flows[i:i + MAX_RECORDS]
            sets = [self._templates]
            v4 = [f for f in chunk if ":" not in f.src and ":" not in f.dst]
            v6 = [f for f in chunk if f not in v4]
            for template_id, record, group, pack in ((_V4_TEMPLATE, _V4_RECORD, v4, _v4),
                                                      (_V6_TEMPLATE, _V6_RECORD, v6, _v6)):
                if group:
                    body = b"".join(record.pack(*pack(f)) for f in group)
                    sets.append(struct.pack(">HH", template_id, 4 + len(body)) + body)
            payload = b"".join(sets)
            when = int(export_time if export_time is not None else max(f.end for f in chunk))
            messages.append(struct.pack(">HHIII", 10, 16 + len(payload), when, self.sequence, self.domain) + payload)
            self.sequence = (self.sequence + len(chunk)) & 0xFFFFFFFF
        return messages


def _common(f: Flow) -> tuple:
    return (f.sport, f.dport, f.proto, f.flags, f.octets, f.packets, int(f.start * 1000), int(f.end * 1000))


def _v4(f: Flow) -> tuple:
    return (ipaddress.IPv4Address(f.src).packed, ipaddress.IPv4Address(f.dst).packed, *_common(f))


def _v6(f: Flow) -> tuple:
    return (ipaddress.ip_address(f.src).packed.rjust(16, b"\0"), ipaddress.ip_address(f.dst).packed.rjust(16, b"\0"),
            *_common(f))


class InProcess:
    """Emissions → Events through the real syslog parser and NetFlow decoder; parse errors are counted
    (there should be none: a simulator line the parser refuses is a bug in one of the two)."""

    def __init__(self, local_tz: tzinfo = timezone.utc) -> None:
        self.syslog = get_parser("syslog")(ParseContext(source="simulator", local_tz=local_tz))
        self.decoder = NetflowDecoder()
        self.encoder = IpfixEncoder()
        self.errors: list[str] = []

    def events(self, emissions: Iterable[Emission]) -> list[Event]:
        out: list[Event] = []
        flows: list[Flow] = []
        for e in emissions:
            if e.flow is not None:
                flows.append(e.flow)
                continue
            try:
                event = self.syslog.parse_line(e.line or "")
            except ParseError as exc:
                self.errors.append(f"{exc}: {e.line}")
                continue
            if event is not None:
                out.append(event)
        for message in self.encoder.encode(flows):
            out.extend(self.decoder.decode(message, office.GATEWAY))
        out.sort(key=time_order)
        return out


def to_events(emissions: Iterable[Emission], local_tz: tzinfo = timezone.utc) -> list[Event]:
    return InProcess(local_tz).events(emissions)


class NetworkSender:
    """Sends syslog lines over UDP and flows as IPFIX over UDP, like the office's devices would."""

    def __init__(self, syslog: tuple[str, int] | None = None, netflow: tuple[str, int] | None = None) -> None:
        if syslog is None and netflow is None:
            raise ValueError("give a syslog or a NetFlow destination (HOST:PORT)")
        self.syslog, self.netflow = syslog, netflow
        self.encoder = IpfixEncoder()
        self._sockets: dict[int, socket.socket] = {}
        self.sent = {"syslog": 0, "flows": 0, "datagrams": 0}

    def _socket(self, address: tuple[str, int]) -> socket.socket:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        if family not in self._sockets:
            self._sockets[family] = socket.socket(family, socket.SOCK_DGRAM)
        return self._sockets[family]

    def send(self, emissions: Iterable[Emission]) -> None:
        flows: list[Flow] = []
        for e in emissions:
            if e.flow is not None:
                if self.netflow is not None:
                    flows.append(e.flow)
            elif self.syslog is not None and e.line:
                self._socket(self.syslog).sendto(e.line.encode("utf-8"), self.syslog)
                self.sent["syslog"] += 1
                self.sent["datagrams"] += 1
        if flows and self.netflow is not None:
            for message in self.encoder.encode(flows):
                self._socket(self.netflow).sendto(message, self.netflow)
                self.sent["datagrams"] += 1
            self.sent["flows"] += len(flows)

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST``, ``[v6]:PORT`` → (host, port); ValueError with a message otherwise."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError(f"{text!r}: the port must be a number (HOST:PORT)") from None
    if not host or not 0 < port < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host, port


def paced(emissions: Iterable[Emission], *, speed: float = 1.0, stop: Callable[[], bool] = lambda: False,
          tick: float = 0.2, clock: Callable[[], float] = time.monotonic) -> Iterator[list[Emission]]:
    """Batches of emissions released at the pace of their timestamps (``speed`` times real time), every
    ``tick`` seconds; ends when the emissions do or ``stop()`` says so."""
    started = clock()
    first: float | None = None
    batch: list[Emission] = []
    for e in emissions:
        if first is None:
            first = e.ts
        due = started + (e.ts - first) / speed
        while clock() < due:
            if batch:
                yield batch
                batch = []
            if stop():
                return
            time.sleep(min(tick, max(0.0, due - clock())))
        batch.append(e)
    if batch and not stop():
        yield batch
