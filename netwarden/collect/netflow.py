"""NetFlow v5/v9 and IPFIX collector: a strict decoder and a UDP listener that feeds a LiveStream.

    decoder = NetflowDecoder()
    events = decoder.decode(datagram, "192.0.2.1")   # never raises; problems are counted per exporter

    with NetflowListener(stream, [("127.0.0.1", 0)]) as listener:
        host, port = listener.addresses[0]
        ...
        listener.stats["192.0.2.1"].records

Templates are kept per exporter address, NetFlow version and source id / observation domain. Each flow
record becomes one unidirectional Event (``source_kind="netflow"``, observer = exporter address): its counts
are ``bytes_out``/``packets_out``. Every length is checked against the datagram; bad datagrams, templates
and records are counted by reason and skipped, and all state is bounded.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from netwarden.collect.service import Service
from netwarden.collect.sink import EventSink
from netwarden.collect.sockets import bind_sockets, udp_kernel_drops
from netwarden.collect.netflow_common import DecodeError, ExporterStats, ExporterTable, now
from netwarden.collect.netflow_ipfix import decode_ipfix
from netwarden.collect.netflow_v5 import decode_v5
from netwarden.collect.netflow_v9 import decode_v9
from netwarden.records import Event

__all__ = ["DEFAULT_PORT", "IPFIX_PORT", "NetflowDecoder", "NetflowListener", "ExporterStats"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 2055
IPFIX_PORT = 4739
RECEIVE_BUFFER = 16 << 20
MAX_DATAGRAM = 65535


class NetflowDecoder:
    """Datagrams in, Events out; per-exporter templates and counters. Not thread-safe (the listener locks)."""

    def __init__(self, max_exporters: int | None = None) -> None:
        self.exporters = ExporterTable(**({"max_exporters": max_exporters} if max_exporters else {}))

    @property
    def stats(self) -> dict[str, ExporterStats]:
        return self.exporters.stats

    def decode(self, data: bytes, exporter: str) -> list[Event]:
        stats = self.exporters.stats_for(exporter)
        stats.packets += 1
        stats.last_seen = time.time()
        if len(data) < 2:
            stats.errors["truncated_header"] += 1
            return []
        version = (data[0] << 8) | data[1]
        stats.versions[version if version in (5, 9, 10) else "other"] += 1
        try:
            if version == 5:
                return decode_v5(data, exporter, stats)
            if version in (9, 10):
                state = self.exporters.state(exporter)
                state.expire_pending(now(), stats)
                if version == 9:
                    return decode_v9(data, exporter, state, stats)
                return decode_ipfix(data, exporter, state, stats)
            stats.errors["unknown_version"] += 1
            return []
        except DecodeError as exc:
            stats.errors[exc.reason] += 1
            return []
        except Exception:  # a bug must not stop the collector: counted, logged once in a while
            stats.errors["internal_error"] += 1
            log.exception("NetFlow decoder error on a datagram from %s", exporter)
            return []

    def totals(self) -> ExporterStats:
        total = ExporterStats()
        for s in self.stats.values():
            for name in ("packets", "records", "options_records", "templates", "template_withdrawals", "buffered",
                         "stored", "dropped"):
                setattr(total, name, getattr(total, name) + getattr(s, name))
            total.errors.update(s.errors)
            total.versions.update(s.versions)
        return total


class NetflowListener(Service):
    """Receives NetFlow/IPFIX datagrams on UDP sockets (one thread) and feeds each record to an event sink.

    ``stream`` is a :class:`~netwarden.collect.sink.EventSink` (the pipeline's ``LiveStream``); ``on_events``
    may replace it (tests, benchmarks).
    """

    def __init__(self, stream: EventSink | None = None, addresses: Iterable[tuple[str, int]] = (("", DEFAULT_PORT),), *,
                 receive_buffer: int = RECEIVE_BUFFER,
                 on_events: Callable[[str, list[Event]], None] | None = None) -> None:
        self.stream = stream
        self.requested = list(addresses)
        self.receive_buffer = receive_buffer
        self.on_events = on_events
        self.decoder = NetflowDecoder()
        self.addresses: list[tuple[str, int]] = []
        self.kernel_drops = 0
        self.datagrams = 0
        self._sockets: list[socket.socket] = []
        self._drop_base: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1

    @property
    def stats(self) -> dict[str, ExporterStats]:
        return self.decoder.stats

    def address(self, family: int = socket.AF_INET) -> tuple[str, int]:
        for host, port in self.addresses:
            if (":" in host) == (family == socket.AF_INET6):
                return host, port
        raise LookupError("no listener for that address family")

    def start(self) -> None:
        if self._thread is not None:
            return
        try:
            for host, port in self.requested:
                for sock in bind_sockets(socket.SOCK_DGRAM, host, port, receive_buffer=self.receive_buffer):
                    self._sockets.append(sock)
                    self._drop_base[sock.fileno()] = udp_kernel_drops(sock)
                    name = sock.getsockname()
                    self.addresses.append((name[0], name[1]))
        except BaseException:
            self._close_sockets()
            raise
        self._wake_r, self._wake_w = os.pipe()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="netflow-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop receiving; what was decoded has been handed to the stream (close the stream to store it)."""
        if self._thread is None:
            return
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self._thread.join(timeout=10)
        self._thread = None
        self.update_kernel_drops()
        self._close_sockets()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def update_kernel_drops(self) -> int:
        total = 0
        for sock in self._sockets:
            try:
                total += max(0, udp_kernel_drops(sock) - self._drop_base.get(sock.fileno(), 0))
            except OSError:
                pass
        self.kernel_drops = max(self.kernel_drops, total)
        return self.kernel_drops

    def feed(self, data: bytes, exporter: str) -> int:
        """Decode one datagram from an exporter and hand its records on; returns the records decoded."""
        with self._lock:
            events = self.decoder.decode(data, exporter)
            stats = self.decoder.exporters.stats_for(exporter)
        if not events:
            return 0
        if self.on_events is not None:
            self.on_events(exporter, events)
            stored, dropped = len(events), 0
        else:
            stored = dropped = 0
            assert self.stream is not None, "a NetflowListener needs a stream or on_events"
            feed = self.stream.feed_event
            for event in events:
                if feed(event, exporter):
                    stored += 1
                else:
                    dropped += 1
        with self._lock:
            stats.stored += stored
            stats.dropped += dropped
        return len(events)

    def _run(self) -> None:
        sockets = list(self._sockets)
        readable_fds = [s.fileno() for s in sockets] + [self._wake_r]
        by_fd = {s.fileno(): s for s in sockets}
        poller = select.poll()
        for fd in readable_fds:
            poller.register(fd, select.POLLIN)
        while not self._stop.is_set():
            try:
                ready = poller.poll(500)
            except InterruptedError:
                continue
            for fd, _ in ready:
                sock = by_fd.get(fd)
                if sock is None:
                    continue
                for _ in range(256):  # drain a burst, then look at the other sockets and the stop flag
                    try:
                        data, peer = sock.recvfrom(MAX_DATAGRAM)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:  # e.g. ICMP errors surfaced on the socket; keep receiving
                        log.debug("netflow socket error: %s", exc)
                        break
                    self.datagrams += 1
                    try:
                        self.feed(data, _exporter(peer))
                    except Exception as exc:  # the stream's error is kept there; the listener goes on
                        log.warning("netflow: cannot hand records on: %s", exc)

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets = []


def _exporter(peer: tuple) -> str:
    host = peer[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return host.split("%", 1)[0]


def summary_lines(stats: dict[str, ExporterStats], limit: int | None = None) -> list[str]:
    """One line per exporter, busiest first."""
    lines = []
    ranked = sorted(stats.items(), key=lambda kv: -kv[1].packets)
    for exporter, s in ranked[:limit]:
        versions = "/".join(f"v{v}" if v != 10 else "ipfix" for v in sorted(s.versions, key=str))
        text = (f"{exporter} [{versions}]: packets {s.packets:,}, records {s.records:,}, stored {s.stored:,}, "
                f"templates {s.templates:,}")
        if s.dropped:
            text += f", dropped {s.dropped:,}"
        if s.errors:
            text += ", errors " + ", ".join(f"{r} {n:,}" for r, n in Counter(s.errors).most_common())
        lines.append(text)
    return lines
