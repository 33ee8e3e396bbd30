"""A syslog server: receives messages from devices over UDP, TCP and TLS and feeds a line sink
(:class:`~netwarden.collect.sink.LineSink`: the pipeline's ``LiveStream``).

    stream = LiveStream(pipeline, fmt="syslog", source="syslog")
    server = SyslogServer(stream, SyslogServerConfig(udp=[("127.0.0.1", 0)], tcp=[("127.0.0.1", 0)]))
    server.start()                  # its own event loop on a thread; or ``await server.open()`` in yours
    print(server.addresses)         # the ports actually bound
    ...
    server.stop()
    stream.close()

- The device is the peer that sent the message (its IP address, IPv4-mapped IPv6 shown as IPv4): that is
  the event's ``observer``; the host name the device wrote stays in the event's ``extra``.
- TCP and TLS framing (RFC 6587, RFC 5425) is recognised per connection from its first frame:
  octet-counting (``57 <34>1 2026-...``) when it starts with digits and a space, otherwise one message
  per line (LF; NUL and CR LF too).
- Limits: the largest message (longer ones are dropped and counted with the reason ``too_large``;
  octet-counted ones are skipped exactly so the connection stays in step), the number of connections (in
  all, and from one address, so that one host holding many idle connections cannot lock the others out),
  the idle time of a connection, and a shorter time for a connection to deliver its first whole message.
  An unreadable octet count closes that connection cleanly (there is no way to find the next frame); it is
  counted against the device.
- Back-pressure: when the stream has no room, TCP connections stop being read (the sender's TCP window
  fills and it waits) and resume when the stream has stored its batch, so TCP loses nothing. UDP cannot
  push back: what the stream cannot take is counted as dropped per device, and what the kernel dropped
  because the socket buffer was full (read from /proc/net/udp) is counted as ``udp_kernel_drops``; the
  receive buffer is enlarged to make that rare.

Every message that arrives is stored, quarantined (the parser could not read it) or counted as dropped
with a reason.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from netwarden.collect.service import Service
from netwarden.collect.sink import LineSink
from netwarden.collect.sockets import bind_sockets, device_of, udp_kernel_drops
from netwarden.collect.syslog_connection import SyslogConnection

log = logging.getLogger(__name__)

DEFAULT_PORT = 5514
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


@dataclass
class SyslogServerConfig:
    """Where to listen and the limits. Addresses are (host, port); host "" means every address (v4 and v6)."""

    udp: list[tuple[str, int]] = field(default_factory=list)
    tcp: list[tuple[str, int]] = field(default_factory=list)
    tls: list[tuple[str, int]] = field(default_factory=list)
    certfile: str | None = None
    keyfile: str | None = None
    max_message_bytes: int = 65536
    max_connections: int = 1000
    max_connections_per_address: int = 50  # one device needs a few; more are refused (too_many_from_address)
    idle_timeout: float = 600.0
    first_message_timeout: float = 30.0  # a connection that sent no whole message by then is closed
    tls_handshake_timeout: float = 10.0
    # kernel memory, used only while a burst waits; SO_RCVBUFFORCE when allowed, else up to net.core.rmem_max
    udp_receive_buffer: int = 64 << 20
    resume_interval: float = 0.02  # how often paused TCP connections look for room in the stream
    # at close, how long frames already read wait for room in the stream (which stores a batch every 0.25 s)
    drain_timeout: float = 5.0

    @classmethod
    def default(cls) -> SyslogServerConfig:
        return cls(udp=[("", DEFAULT_PORT)], tcp=[("", DEFAULT_PORT)])


@dataclass
class ServerStats:
    """What the server saw before the stream: connections, frames, and what it had to drop and why."""

    datagrams: int = 0
    frames: int = 0  # TCP/TLS messages cut from the byte streams
    bytes: int = 0
    connections_open: int = 0
    connections_total: int = 0
    pauses: int = 0  # times a TCP connection stopped being read because the stream was full
    udp_kernel_drops: int = 0
    dropped_by_reason: Counter = field(default_factory=Counter)  # too_large, bad_octet_count, truncated ...
    device_reasons: dict[str, Counter] = field(default_factory=dict)  # device -> reason -> count

    def note(self, device: str, reason: str, n: int = 1) -> None:
        self.dropped_by_reason[reason] += n
        self.device_reasons.setdefault(device, Counter())[reason] += n


def _decode(data: bytes) -> str:
    return data.rstrip(b"\r\n\x00").decode("utf-8", "backslashreplace")


class SyslogServer(Service):
    """UDP, TCP and TLS syslog listeners feeding one line sink (``stream``)."""

    def __init__(self, stream: LineSink, config: SyslogServerConfig | None = None) -> None:
        self.stream = stream
        self.config = config or SyslogServerConfig.default()
        if self.config.tls and not (self.config.certfile and self.config.keyfile):
            raise ValueError("TLS needs a certificate and a key file")
        self.stats = ServerStats()
        self.addresses: list[tuple[str, str, int]] = []  # (udp|tcp|tls, host, port) as bound
        self._servers: list[asyncio.AbstractServer] = []
        self._udp: list[tuple[asyncio.DatagramTransport, socket.socket]] = []
        self.connections: set[SyslogConnection] = set()
        self.paused_connections: set[SyslogConnection] = set()
        self.per_address: Counter[str] = Counter()  # open TCP/TLS connections per device
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: list[asyncio.Task] = []
        self._udp_drop_base: dict[int, int] = {}
        self._lock = threading.Lock()

    # -- running on its own thread ---------------------------------------------------------------

    def start(self) -> None:
        """Bind every listener and serve on a thread; raises OSError (port in use ...) here."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.open())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.run_until_complete(self.close())
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.close())
                loop.close()

        self._thread = threading.Thread(target=main, name="syslog-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    def stop(self) -> None:
        """Stop listening, close connections (a last unterminated line is kept), wait for the thread."""
        if self._thread is None or self._loop is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._thread = None

    # -- running in a caller's event loop --------------------------------------------------------

    async def open(self) -> None:
        """Bind every listener in the running loop."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        cfg = self.config
        tls_context = self._tls_context() if cfg.tls else None
        for host, port in cfg.udp:
            for sock in bind_sockets(socket.SOCK_DGRAM, host, port):
                self._enlarge_receive_buffer(sock)
                transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), sock=sock)
                self._udp.append((transport, sock))
                self._remember("udp", sock)
        for kind, addresses, context in (("tcp", cfg.tcp, None), ("tls", cfg.tls, tls_context)):
            for host, port in addresses:
                for sock in bind_sockets(socket.SOCK_STREAM, host, port):
                    server = await loop.create_server(
                        lambda k=kind: SyslogConnection(self, k), sock=sock, ssl=context, backlog=512,
                        ssl_handshake_timeout=cfg.tls_handshake_timeout if context else None)
                    self._servers.append(server)
                    self._remember(kind, sock)
        self._udp_drop_base = {sock.fileno(): udp_kernel_drops(sock) for _, sock in self._udp}
        self._tasks.append(loop.create_task(self._housekeeping()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.finish()
        # frames already read wait for room in the stream (its timer stores a batch every max_delay)
        deadline = time.monotonic() + self.config.drain_timeout
        while any(conn.backlog for conn in self.paused_connections) and time.monotonic() < deadline:
            for conn in list(self.paused_connections):
                if conn.drain():
                    self.paused_connections.discard(conn)
            await asyncio.sleep(self.config.resume_interval)
        for conn in list(self.paused_connections):  # the stream never made room: counted as dropped by it
            for frame in conn.backlog:
                self.feed(frame, conn.device)
            conn.backlog.clear()
        self.paused_connections.clear()
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 2)
            except (asyncio.TimeoutError, Exception):  # a stuck TLS peer must not hold up shutdown
                pass
        self._servers.clear()
        self._count_udp_kernel_drops()
        for transport, _ in self._udp:
            transport.close()
        self._udp.clear()
        await asyncio.sleep(0)

    async def run(self) -> None:
        """Serve in the running loop until cancelled."""
        await self.open()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    # -- internals -------------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.config.certfile is None:
            raise ValueError("syslog over TLS needs a certificate file")
        context.load_cert_chain(self.config.certfile, self.config.keyfile)
        return context

    def _enlarge_receive_buffer(self, sock: socket.socket) -> None:
        size = self.config.udp_receive_buffer
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)  # root or CAP_NET_ADMIN
        except OSError:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)  # capped at net.core.rmem_max
            except OSError:
                pass

    def _remember(self, kind: str, sock: socket.socket) -> None:
        name = sock.getsockname()
        self.addresses.append((kind, name[0], name[1]))

    def address(self, kind: str, family: int = socket.AF_INET) -> tuple[str, int]:
        """The first bound (host, port) of a kind (udp, tcp, tls) and family."""
        for k, host, port in self.addresses:
            if k == kind and (":" in host) == (family == socket.AF_INET6):
                return host, port
        raise LookupError(f"no {kind} listener for that address family")

    def feed(self, data: bytes, device: str) -> bool:
        """One message to the stream; empty ones are ignored."""
        text = _decode(data)
        if not text.strip("\x00 \t\r\n"):
            return True
        return self.stream.feed_line(text, observer=device)

    def reject(self, device: str, reason: str, n: int = 1) -> None:
        self.stats.note(device, reason, n)
        self.stream.count_dropped(device, n)

    def room(self) -> int:
        return self.stream.room

    def pause(self, conn: SyslogConnection) -> None:
        if conn not in self.paused_connections:
            self.paused_connections.add(conn)
            self.stats.pauses += 1
            conn.pause()

    async def _housekeeping(self) -> None:
        interval = self.config.resume_interval
        last_idle_check = last_drop_check = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            if self.paused_connections:
                for conn in list(self.paused_connections):
                    if conn.drain():
                        self.paused_connections.discard(conn)
                        conn.resume()
                    elif self.room() <= 0:
                        break
            now = time.monotonic()
            cfg = self.config
            if now - last_idle_check >= min(1.0, cfg.idle_timeout / 4, cfg.first_message_timeout / 4):
                last_idle_check = now
                for conn in list(self.connections):
                    if conn in self.paused_connections:
                        continue
                    if now - conn.last_activity > cfg.idle_timeout:
                        self.stats.note(conn.device, "idle_timeout_closed")
                        conn.finish()
                    elif not conn.framed and now - conn.opened > cfg.first_message_timeout:
                        self.stats.note(conn.device, "no_message_closed")
                        conn.finish()
            if now - last_drop_check >= 1.0:
                last_drop_check = now
                self._count_udp_kernel_drops()

    def _count_udp_kernel_drops(self) -> None:
        for _, sock in self._udp:
            if sock.fileno() < 0:
                continue
            drops = udp_kernel_drops(sock)
            base = self._udp_drop_base.get(sock.fileno(), 0)
            if drops > base:
                with self._lock:
                    self.stats.udp_kernel_drops += drops - base
                self._udp_drop_base[sock.fileno()] = drops


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: SyslogServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        server = self.server
        stats = server.stats
        stats.datagrams += 1
        stats.bytes += len(data)
        device = device_of(addr)
        if len(data) > server.config.max_message_bytes:
            server.reject(device, "too_large")
            return
        server.feed(data, device)  # when the stream is full it counts the drop against the device

    def error_received(self, exc: Exception) -> None:
        log.debug("syslog udp: %s", exc)
