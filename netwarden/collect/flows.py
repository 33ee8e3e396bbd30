"""A bidirectional flow table, as a flow exporter keeps it: packets in, flow records (Events) out.

A flow is the 5-tuple (addresses, ports, protocol) in both directions; the sender of its first packet is
the originator (``src_ip``), so ``packets_out``/``bytes_out`` are what the originator sent and
``packets_in``/``bytes_in`` what it received. Bytes are IP bytes (header included), as NetFlow counts them.

A flow ends, and becomes an :class:`~netwarden.records.Event`, when

- it has been idle for ``idle_timeout`` seconds (``extra.end = "idle"``),
- a TCP connection ended: RST, or FIN both ways, then ``tcp_end_grace`` seconds without packets
  (``"tcp_end"``); a new SYN on the same 5-tuple after that starts a new flow at once,
- it has lasted ``active_timeout`` seconds (``"active"``): the record is emitted and the flow goes on
  counting from zero (``extra.part`` numbers the records of one long flow),
- the table is full (``max_flows``): the oldest flow is evicted (``"evicted"``, counted),
- the capture ends (``flush``: ``"end"``).

Time is the packets' own time (so importing an old capture works as if live); a live collector also calls
:meth:`FlowTable.sweep` with the clock when no packets come.

Application data is read where the first bytes of a segment show it, without reassembly: every HTTP
request line with its Host and User-Agent (the first request fills the flow's ``http_method``, ``url``,
``user_agent``, ``extra.host``; each further request of the flow becomes an Event of its own, so a
detector sees every request once), the status line of responses, SSH banners, DNS questions and answers
(``app_protocol = "dns"``, ``extra.dns_query``), ICMP types and ARP operations.
"""

from __future__ import annotations

import heapq
import re
import socket
import struct
from collections import deque
from datetime import datetime, timezone
from typing import Any

from netwarden.records import EVENT_FIELDS, Event, SourceKind

ARP = 0x10806  # pseudo protocol number for ARP "flows" (sender address → target address)

PROTO_NAMES = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "icmpv6",
               89: "ospf", 103: "pim", 112: "vrrp", 132: "sctp", ARP: "arp"}
_FLAG_BITS = ((1, "FIN"), (2, "SYN"), (4, "RST"), (8, "PSH"), (16, "ACK"), (32, "URG"), (64, "ECE"), (128, "CWR"))
FLAG_NAMES = tuple(",".join(name for bit, name in _FLAG_BITS if mask & bit) for mask in range(256))

_METHODS = frozenset({b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
                      b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK"})
_HEADS = frozenset({m[:4].ljust(4, b" ") for m in _METHODS} | {b"HTTP", b"SSH-"})
_HOST = re.compile(rb"\nhost:[ \t]*([^\r\n]*)", re.I)
_AGENT = re.compile(rb"\nuser-agent:[ \t]*([^\r\n]*)", re.I)
_STATUS = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})")
MAX_HEAD = 16384  # bytes of a segment searched for request headers
MAX_URL = 8192
MAX_REQUESTS = 1000  # per flow record; more are counted in extra.http_requests_dropped
DNS_PORTS = frozenset({53, 5353, 5355})
DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
             35: "NAPTR", 43: "DS", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 252: "AXFR", 255: "ANY"}
DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
MAX_DNS_QUERIES = 20
_U16 = struct.Struct("!H")
_DNS = struct.Struct("!HHHH")

# a flow is a list (fast to update in place); the fields:
START, LAST, PK_OUT, PK_IN, BY_OUT, BY_IN, FL_OUT, FL_IN, KEY, CLOSED, FINS, APP, PART, DEAD = range(14)

# _emit passes Event's first fields by position (keywords cost twice as much, and a scan makes one event per
# two packets): make sure they are still these, in this order
_POSITIONAL = ("timestamp", "source_kind", "observer", "src_ip", "src_port", "dst_ip", "dst_port", "transport",
               "app_protocol", "bytes_out", "bytes_in", "packets_out", "packets_in", "duration", "tcp_flags")
if EVENT_FIELDS[:len(_POSITIONAL)] != _POSITIONAL:  # pragma: no cover
    raise ImportError("netwarden.records.Event changed its field order; update FlowTable._emit")
_UTC = timezone.utc
_fromtimestamp = datetime.fromtimestamp


_ADDRS: dict[bytes, str] = {}


def _addr(raw: bytes) -> str:
    text = _ADDRS.get(raw)
    if text is None:
        text = socket.inet_ntoa(raw) if len(raw) == 4 else socket.inet_ntop(socket.AF_INET6, raw)
        if len(_ADDRS) >= 65536:
            _ADDRS.clear()
        _ADDRS[raw] = text
    return text


def _text(raw: bytes, limit: int = 1024) -> str:
    return raw[:limit].decode("utf-8", "backslashreplace")


def _when(ts: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(ts, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None  # an absurd stamp in a corrupt capture: stored with the time of arrival


def _mac(raw: bytes) -> str:
    return raw.hex(":")


class FlowTable:
    def __init__(self, *, active_timeout: float = 1800.0, idle_timeout: float = 60.0, tcp_end_grace: float = 2.0,
                 max_flows: int = 200_000, source_kind: str = SourceKind.PCAP, observer: str | None = None) -> None:
        if active_timeout <= 0 or idle_timeout <= 0 or max_flows < 1:
            raise ValueError("timeouts must be positive and max_flows at least 1")
        self.active_timeout = active_timeout
        self.idle_timeout = idle_timeout
        self.tcp_end_grace = min(tcp_end_grace, idle_timeout)
        self.max_flows = max_flows
        self.source_kind = str(source_kind)
        self.observer = observer
        self.sweep_interval = max(0.05, min(1.0, idle_timeout / 4, active_timeout / 4, self.tcp_end_grace / 2))
        self.ready: list[Event] = []
        self.flows_started = 0
        self.records = 0  # flow records emitted
        self.http_requests = 0
        self.evicted = 0
        # both directions' keys → (flow, direction); a flow's two keys go in (and out) together, so the first
        # key is always the originator key of the oldest live flow (what eviction wants)
        self._index: dict[tuple, tuple[list, int]] = {}
        self._live = 0  # flows in the table
        self._next_sweep = float("-inf")
        # expiry: (earliest time the flow can be due, n, flow), checked lazily: a packet only ever makes a flow
        # due later, except a TCP end and a new start after an active-timeout record, which push again.
        # A new flow's entry goes to _fresh, a queue already in order while packet time goes forward (most
        # flows of a scan never need more: cheaper than the heap); every other entry goes to _heap.
        # sweep takes them from both in the order of one heap.
        self._heap: list[tuple[float, int, list]] = []
        self._fresh: deque[tuple[float, int, list]] = deque()
        self._pushes = 0
        self._first_due = min(idle_timeout, active_timeout)  # a new flow is due no earlier than this
        self._heap_limit = 4 * max_flows + 1024

    def __len__(self) -> int:
        return self._live

    # -- packets in -------------------------------------------------------------------------------

    def add(self, ts: float, proto: int, src: bytes, dst: bytes, sport: int, dport: int, flags: int, size: int,
            buf: bytes, poff: int, pend: int) -> None:
        """One packet: ``buf[poff:pend]`` is its transport payload (for ICMP/ARP: the header)."""
        key = (src, dst, sport, dport, proto)
        entry = self._index.get(key)
        if entry is not None:
            f, d = entry
            if f[START] is None:  # first packet after an active-timeout record
                f[START] = ts
                self._push(ts + self.active_timeout, f)
            elif (flags & 18) == 2 and f[CLOSED] is not None and proto == 6:  # SYN on a finished connection
                self._end(f, "tcp_end")
                entry = None
        if entry is None:
            f = self._new(ts, key, flags, size)  # already counts this packet
            d = 0
        else:
            if d:
                f[PK_IN] += 1
                f[BY_IN] += size
                f[FL_IN] |= flags
            else:
                f[PK_OUT] += 1
                f[BY_OUT] += size
                f[FL_OUT] |= flags
            if ts > f[LAST]:
                f[LAST] = ts
        if proto == 6:
            if flags & 5:
                if flags & 4:
                    if f[CLOSED] is None:
                        f[CLOSED] = ts
                        self._push(ts + self.tcp_end_grace, f)
                else:
                    f[FINS] |= 1 << d
                    if f[FINS] == 3 and f[CLOSED] is None:
                        f[CLOSED] = ts
                        self._push(ts + self.tcp_end_grace, f)
            if pend > poff and buf[poff:poff + 4] in _HEADS:
                self._tcp_app(f, d, ts, buf, poff, pend)
        elif proto == 17:
            if pend > poff and (sport in DNS_PORTS or dport in DNS_PORTS):
                self._dns(f, d, buf, poff, pend)
        else:
            self._other(f, d, proto, buf, poff, pend)
        if ts >= self._next_sweep or ts < self._next_sweep - 86400:
            self.sweep(ts)

    def _new(self, ts: float, key: tuple, flags: int, size: int) -> list:
        """A flow whose first packet (sent by its originator) is this one."""
        index = self._index
        if self._live >= self.max_flows:
            self.evicted += 1
            self._end(next(iter(index.values()))[0], "evicted")
        f = [ts, ts, 1, 0, size, 0, flags, 0, key, None, 0, None, 0, False]
        self._pushes += 1
        due = ts + self._first_due
        fresh = self._fresh
        if not fresh or due >= fresh[-1][0]:
            fresh.append((due, self._pushes, f))
        else:  # packet time went back: the queue would be out of order
            heapq.heappush(self._heap, (due, self._pushes, f))
        if len(fresh) + len(self._heap) > self._heap_limit:
            self._compact()
        index[key] = (f, 0)
        src, dst, sport, dport, proto = key
        reverse = (dst, src, dport, sport, proto)
        if reverse != key:
            index[reverse] = (f, 1)
        self._live += 1
        self.flows_started += 1
        return f

    def _push(self, due: float, f: list) -> None:
        self._pushes += 1
        heapq.heappush(self._heap, (due, self._pushes, f))
        if len(self._fresh) + len(self._heap) > self._heap_limit:
            self._compact()

    def _compact(self) -> None:
        """Drop the entries of flows that ended early (in place: sweep may be holding both)."""
        self._heap[:] = [entry for entry in self._heap if not entry[2][DEAD]]
        heapq.heapify(self._heap)
        kept = [entry for entry in self._fresh if not entry[2][DEAD]]
        self._fresh.clear()
        self._fresh.extend(kept)

    def _end(self, f: list, reason: str) -> None:
        f[DEAD] = True
        src, dst, sport, dport, proto = key = f[KEY]
        index = self._index
        index.pop(key, None)
        index.pop((dst, src, dport, sport, proto), None)
        self._live -= 1
        if f[PK_OUT] or f[PK_IN]:
            self._emit(f, reason)

    # -- expiry ---------------------------------------------------------------------------------

    def sweep(self, now: float) -> None:
        """End the flows whose time is up at ``now`` (packet time, or the clock in a live capture)."""
        self._next_sweep = now + self.sweep_interval
        heap, fresh = self._heap, self._fresh
        heappop, popleft, end = heapq.heappop, fresh.popleft, self._end
        idle, active, grace = self.idle_timeout, self.active_timeout, self.tcp_end_grace
        while True:
            if fresh and fresh[0][0] <= now and (not heap or fresh[0] < heap[0]):
                f = popleft()[2]
            elif heap and heap[0][0] <= now:
                f = heappop(heap)[2]
            else:
                break
            if f[DEAD]:
                continue
            last = f[LAST]
            if f[CLOSED] is not None and now - last >= grace:
                end(f, "tcp_end")
            elif now - last >= idle:
                end(f, "idle")
            elif f[START] is not None and now - f[START] >= active:
                self._emit(f, "active")
                f[START] = None
                f[PK_OUT] = f[PK_IN] = f[BY_OUT] = f[BY_IN] = f[FL_OUT] = f[FL_IN] = 0
                f[PART] += 1
                app = f[APP]
                if app:
                    f[APP] = {"proto": app["proto"]} if "proto" in app else None
                self._push(last + idle, f)
            else:  # not yet: when it can be due next, from what it has seen since
                due = last + idle
                if f[CLOSED] is not None:
                    due = last + grace
                if f[START] is not None and f[START] + active < due:
                    due = f[START] + active
                self._push(due, f)

    def flush(self, reason: str = "end") -> None:
        """End every flow (end of the capture, or the collector stops)."""
        for f in [f for f, d in self._index.values() if not d]:  # each flow once, oldest first
            self._end(f, reason)

    def drain(self) -> list[Event]:
        """The events ready so far; the table forgets them."""
        ready, self.ready = self.ready, []
        return ready

    # -- application data -----------------------------------------------------------------------

    def _tcp_app(self, f: list, d: int, ts: float, buf: bytes, poff: int, pend: int) -> None:
        seg = buf[poff:min(pend, poff + MAX_HEAD)]
        app = f[APP]
        if app is None:
            app = f[APP] = {}
        head = seg[:4]
        if head == b"SSH-":
            app.setdefault("proto", "ssh")
            banner = seg.split(b"\n", 1)[0].rstrip(b"\r")
            app.setdefault("ssh_client" if d == 0 else "ssh_server", _text(banner, 255))
            return
        if head == b"HTTP":
            m = _STATUS.match(seg)
            if m is None:
                return
            app.setdefault("proto", "http")
            status = int(m.group(1))
            for req in app.get("reqs", ()):
                if req[6] is None and req[1] != d:
                    req[6] = status
                    return
            app.setdefault("status", status)
            return
        end = seg.find(b"\n")
        line = (seg if end < 0 else seg[:end]).rstrip(b"\r")
        parts = line.split(b" ")
        if len(parts) < 2 or parts[0] not in _METHODS:
            return
        target = b" ".join(parts[1:-1] if len(parts) > 2 and parts[-1].startswith(b"HTTP/") else parts[1:])
        host = _HOST.search(seg, len(line))
        agent = _AGENT.search(seg, len(line))
        app["proto"] = "http"
        reqs = app.setdefault("reqs", [])
        if len(reqs) >= MAX_REQUESTS:
            app["dropped"] = app.get("dropped", 0) + 1
            return
        reqs.append([ts, d, parts[0].decode("ascii"), _text(target, MAX_URL),
                     _text(host.group(1), 255) if host else None,
                     _text(agent.group(1)) if agent else None, None])

    def _dns(self, f: list, d: int, buf: bytes, poff: int, pend: int) -> None:
        if pend - poff < 12:
            return
        _id, flags, qdcount, ancount = _DNS.unpack_from(buf, poff)
        app = f[APP]
        if app is None:
            app = f[APP] = {}
        app["proto"] = "dns"
        if qdcount < 1:
            return
        name, off = _dns_name(buf, poff + 12, pend, poff)
        if name is None:
            app["dns_malformed"] = app.get("dns_malformed", 0) + 1
            return
        qtype = _U16.unpack_from(buf, off)[0] if off + 2 <= pend else None
        question = (name, DNS_TYPES.get(qtype, str(qtype)) if qtype is not None else None)
        queries = app.setdefault("queries", [])
        if question not in queries and len(queries) < MAX_DNS_QUERIES:
            queries.append(question)
        if flags & 0x8000:
            app["rcode"] = DNS_RCODES.get(flags & 15, str(flags & 15))
            app["answers"] = app.get("answers", 0) + ancount

    def _other(self, f: list, d: int, proto: int, buf: bytes, poff: int, pend: int) -> None:
        if proto == 1 or proto == 58:
            if pend - poff < 2:
                return
            app = f[APP]
            if app is None:
                app = f[APP] = {"icmp_type": buf[poff], "icmp_code": buf[poff + 1], "icmp": {}}
            types = app["icmp"]
            name = f"{buf[poff]}/{buf[poff + 1]}"
            if name in types or len(types) < 16:
                types[name] = types.get(name, 0) + 1
        elif proto == ARP:
            app = f[APP]
            if app is None:
                app = f[APP] = {"ops": [0, 0, 0, 0]}  # requests out, in; replies out, in
            op = _U16.unpack_from(buf, poff + 6)[0]
            if op == 1 or op == 2:
                app["ops"][(op - 1) * 2 + d] += 1
            mac_key = "src_mac" if d == 0 else "dst_mac"
            if mac_key not in app:
                app[mac_key] = _mac(buf[poff + 8:poff + 14])

    # -- records out ----------------------------------------------------------------------------

    def _emit(self, f: list, reason: str) -> None:
        # one call per flow: on a scan (two packets a flow) this is most of the import's time, so
        # the helpers (_when, _addr) are inlined and Event takes its first fields by position
        src, dst, sport, dport, proto = f[KEY]
        start = f[START]
        last = f[LAST]
        if start is None:
            start = last
        try:
            when = _fromtimestamp(start, _UTC)
        except (OverflowError, OSError, ValueError):
            when = None  # an absurd stamp in a corrupt capture: stored with the time of arrival
        src_ip = _ADDRS.get(src) or _addr(src)
        dst_ip = _ADDRS.get(dst) or _addr(dst)
        duration = last - start
        duration = round(duration, 6) if duration > 0 else 0.0
        part = f[PART]
        if proto == 6:
            out, back = f[FL_OUT], f[FL_IN]
            # one dict display, keys in the order they always had: end, part, flags_out, flags_in
            if part:
                extra: dict[str, Any] = {"end": reason, "part": part + 1, "flags_out": FLAG_NAMES[out],
                                         "flags_in": FLAG_NAMES[back]}
            else:
                extra = {"end": reason, "flags_out": FLAG_NAMES[out], "flags_in": FLAG_NAMES[back]}
            event = Event(when, self.source_kind, self.observer, src_ip, sport, dst_ip, dport, "tcp", None,
                          f[BY_OUT], f[BY_IN], f[PK_OUT], f[PK_IN], duration, FLAG_NAMES[out | back] or None,
                          extra=extra)
        else:
            extra = {"end": reason, "part": part + 1} if part else {"end": reason}
            if proto == 17:
                event = Event(when, self.source_kind, self.observer, src_ip, sport, dst_ip, dport, "udp", None,
                              f[BY_OUT], f[BY_IN], f[PK_OUT], f[PK_IN], duration, None, extra=extra)
            else:  # no ports
                event = Event(when, self.source_kind, self.observer, src_ip, None, dst_ip, None,
                              PROTO_NAMES.get(proto) or str(proto), None,
                              f[BY_OUT], f[BY_IN], f[PK_OUT], f[PK_IN], duration, None, extra=extra)
        self.records += 1
        self.ready.append(event)
        app = f[APP]
        if app:
            self._app_fields(event, app, extra, proto)

    def _app_fields(self, event: Event, app: dict, extra: dict, proto: int) -> None:
        event.app_protocol = app.get("proto")
        if proto == 1 or proto == 58:
            extra["icmp_type"] = app["icmp_type"]
            extra["icmp_code"] = app["icmp_code"]
            extra["icmp_types"] = app["icmp"]
            return
        if proto == ARP:
            ops = app["ops"]
            extra["arp_requests_out"], extra["arp_requests_in"] = ops[0], ops[1]
            extra["arp_replies_out"], extra["arp_replies_in"] = ops[2], ops[3]
            for k in ("src_mac", "dst_mac"):
                if k in app:
                    extra[k] = app[k]
            return
        if event.app_protocol == "dns":
            queries = app.get("queries")
            if queries:
                extra["dns_query"], extra["dns_qtype"] = queries[0]
                if len(queries) > 1:
                    extra["dns_queries"] = [list(q) for q in queries]
                event.message = f"DNS {queries[0][1]} {queries[0][0]}"
            for k in ("rcode", "answers", "dns_malformed"):
                if k in app:
                    extra["dns_" + k if not k.startswith("dns") else k] = app[k]
            return
        for k in ("ssh_client", "ssh_server"):
            if k in app:
                extra[k] = app[k]
        reqs = app.get("reqs")
        if reqs:
            ts, _d, method, url, host, agent, status = reqs[0]
            event.http_method, event.url, event.user_agent = method, url, agent
            event.http_status = status if status is not None else app.get("status")
            if host is not None:
                extra["host"] = host
            extra["http_requests"] = len(reqs) + app.get("dropped", 0)
            if app.get("dropped"):
                extra["http_requests_dropped"] = app["dropped"]
            self.http_requests += len(reqs)
            for ts, d, method, url, host, agent, status in reqs[1:]:
                req_extra: dict[str, Any] = {"record": "http_request"}
                if host is not None:
                    req_extra["host"] = host
                a, b = (event.src_ip, event.dst_ip), (event.src_port, event.dst_port)
                self.ready.append(Event(
                    timestamp=_when(ts), source_kind=self.source_kind, observer=self.observer,
                    src_ip=a[d], src_port=b[d], dst_ip=a[1 - d], dst_port=b[1 - d], transport="tcp",
                    app_protocol="http", http_method=method, url=url, http_status=status, user_agent=agent,
                    extra=req_extra))
        elif "status" in app:
            event.http_status = app["status"]


def _dns_name(buf: bytes, off: int, end: int, msg: int) -> tuple[str | None, int]:
    """A (possibly compressed) name at ``off``; returns it and the offset after it in the question."""
    labels: list[str] = []
    after = -1
    size = 0
    for _ in range(128):
        if off >= end:
            return None, off
        n = buf[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if off + 2 > end:
                return None, off
            target = msg + (_U16.unpack_from(buf, off)[0] & 0x3FFF)
            if after < 0:
                after = off + 2
            if target >= off or target < msg:  # only backwards: no loops
                return None, off
            off = target
            continue
        if n & 0xC0 or off + 1 + n > end:
            return None, off
        size += n + 1
        if size > 255:
            return None, off
        labels.append(buf[off + 1:off + 1 + n].decode("ascii", "backslashreplace"))
        off += 1 + n
    else:
        return None, off
    return ".".join(labels) or ".", (after if after >= 0 else off)
