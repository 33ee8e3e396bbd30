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
from collections import deque
from datetime import datetime, timezone
from typing import Any

from netwarden.collect.flow_apps import DNS_PORTS, HEADS, FlowApplications
from netwarden.collect.flow_fields import (
    ADDRS,
    APP,
    ARP,
    BY_IN,
    BY_OUT,
    CLOSED,
    DEAD,
    FINS,
    FL_IN,
    FL_OUT,
    FLAG_NAMES,
    KEY,
    LAST,
    PART,
    PK_IN,
    PK_OUT,
    PROTO_NAMES,
    START,
    addr_text,
)
from netwarden.records import EVENT_FIELDS, Event, SourceKind

# _emit passes Event's first fields by position (keywords cost twice as much, and a scan makes one event per
# two packets): make sure they are still these, in this order
_POSITIONAL = ("timestamp", "source_kind", "observer", "src_ip", "src_port", "dst_ip", "dst_port", "transport",
               "app_protocol", "bytes_out", "bytes_in", "packets_out", "packets_in", "duration", "tcp_flags")
if EVENT_FIELDS[:len(_POSITIONAL)] != _POSITIONAL:  # pragma: no cover
    raise ImportError("netwarden.records.Event changed its field order; update FlowTable._emit")
_UTC = timezone.utc
_fromtimestamp = datetime.fromtimestamp


class FlowTable(FlowApplications):
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
            if pend > poff and buf[poff:poff + 4] in HEADS:
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
            elif f[START] is not None and f[CLOSED] is None and now - f[START] >= active:
                # a closing connection is not split: its FINs would go out in an "active" part and its
                # end would never be reported (the grace is short, and no longer than the idle timeout)
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
                elif f[START] is not None and f[START] + active < due:
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
        src_ip = ADDRS.get(src) or addr_text(src)
        dst_ip = ADDRS.get(dst) or addr_text(dst)
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



