"""One syslog TCP or TLS connection (RFC 6587, RFC 5425): the framing, recognised from the first frame
(octet-counting when it starts with digits and a space, otherwise one message per line), the limits on a
frame, and the flow control that stops reading while the line sink has no room. The listeners, the limits
on connections and the housekeeping are :class:`~netwarden.collect.syslog_server.SyslogServer`'s."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from netwarden.collect.sockets import device_of

if TYPE_CHECKING:
    from netwarden.collect.syslog_server import SyslogServer

MAX_COUNT_DIGITS = 10  # an octet count longer than this is garbage, not a size
OCTET = "octet"
LINES = "lines"


@runtime_checkable
class StreamTransport(Protocol):
    """What a connection uses of its transport: asyncio's TCP and TLS transports, and uvloop's (which are not
    subclasses of ``asyncio.Transport``)."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def is_closing(self) -> bool: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class SyslogConnection(asyncio.Protocol):
    """One TCP or TLS connection: cuts frames, feeds them while the stream has room, pauses otherwise."""

    def __init__(self, server: SyslogServer, kind: str) -> None:
        self.server = server
        self.kind = kind
        self.device = "-"
        self.transport: StreamTransport | None = None
        self.buffer = bytearray()
        self.mode: str | None = None
        self.skip = 0  # bytes of an oversized octet-counted frame still to discard
        self.discarding = False  # inside an oversized line, up to its end
        self.backlog: list[bytes] = []  # frames cut but not yet taken by a full stream
        self.closing = False
        self.paused = False
        self.last_activity = self.opened = time.monotonic()
        self.framed = False  # a whole message has arrived
        self.counted = False  # in the server's per-address count

    # -- asyncio callbacks -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, StreamTransport)  # a stream server's (TCP, TLS): reading pauses
        self.transport = transport
        self.device = device_of(transport.get_extra_info("peername"))
        server = self.server
        if len(server.connections) >= server.config.max_connections:
            server.stats.note(self.device, "too_many_connections")
            self.closing = True
            transport.abort()
            return
        if server.per_address[self.device] >= server.config.max_connections_per_address:
            server.stats.note(self.device, "too_many_from_address")
            self.closing = True
            transport.abort()
            return
        server.per_address[self.device] += 1
        self.counted = True
        server.connections.add(self)
        server.stats.connections_open = len(server.connections)
        server.stats.connections_total += 1
        if self.kind == "tcp":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                except OSError:
                    pass

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_activity = time.monotonic()
        self.server.stats.bytes += len(data)
        self.buffer += data
        self._cut()
        self._feed_backlog()

    def eof_received(self) -> bool:
        self._end_of_input()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self._end_of_input()
        self.closing = True
        server = self.server
        server.connections.discard(self)
        server.paused_connections.discard(self)
        if self.counted:
            self.counted = False
            server.per_address[self.device] -= 1
            if server.per_address[self.device] <= 0:
                del server.per_address[self.device]
        server.stats.connections_open = len(server.connections)
        if self.backlog:  # frames cut but waiting for room: drained later by the housekeeping
            server.paused_connections.add(self)

    # -- flow control ----------------------------------------------------------------------------

    def pause(self) -> None:
        if self.transport is not None and not self.paused and not self.transport.is_closing():
            self.transport.pause_reading()
            self.paused = True

    def resume(self) -> None:
        if self.transport is not None and self.paused and not self.transport.is_closing():
            self.transport.resume_reading()
        self.paused = False
        if self.buffer and not self.closing:
            self._cut()
            self._feed_backlog()

    def drain(self) -> bool:
        """Feed what is waiting while the stream has room; True when nothing is left."""
        server = self.server
        while self.backlog and server.room() > 0:
            server.feed(self.backlog.pop(0), self.device)
        return not self.backlog

    def finish(self) -> None:
        """Close from our side (idle, server stopping): an unterminated last line is still a message."""
        if self.closing:
            return
        self._end_of_input()
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    # -- framing ---------------------------------------------------------------------------------

    def _feed_backlog(self) -> None:
        if not self.backlog:
            return
        if not self.drain():
            self.server.pause(self)

    def _frame(self, data: bytes) -> None:
        self.framed = True
        self.server.stats.frames += 1
        self.backlog.append(bytes(data))

    def _cut(self) -> None:
        buf = self.buffer
        limit = self.server.config.max_message_bytes
        pos = 0
        try:
            while pos < len(buf) and not self.closing:
                if self.skip:
                    n = min(self.skip, len(buf) - pos)
                    self.skip -= n
                    pos += n
                    continue
                if self.mode is None:
                    self.mode = self._detect(buf, pos)
                    if self.mode is None:
                        return  # not enough bytes to tell yet
                if self.mode == OCTET:
                    header_end = buf.find(b" ", pos, pos + MAX_COUNT_DIGITS + 1)
                    if header_end < 0:
                        if len(buf) - pos > MAX_COUNT_DIGITS or not buf[pos:].isdigit():
                            self._bad_count(bytes(buf[pos:pos + MAX_COUNT_DIGITS + 1]))
                        return
                    digits = bytes(buf[pos:header_end])
                    if not digits.isdigit() or not digits.isascii() or int(digits) == 0:
                        self._bad_count(digits)
                        return
                    size = int(digits)
                    if size > limit:
                        self.server.reject(self.device, "too_large")
                        pos = header_end + 1
                        self.skip = size
                        continue
                    start = header_end + 1
                    if len(buf) - start < size:
                        return  # wait for the rest
                    self._frame(buf[start:start + size])
                    pos = start + size
                else:
                    end = _line_end(buf, pos)
                    if end < 0:
                        if self.discarding:
                            pos = len(buf)
                        elif len(buf) - pos > limit:
                            if not self.discarding:
                                self.server.reject(self.device, "too_large")
                            self.discarding = True
                            pos = len(buf)
                        return
                    if self.discarding:
                        self.discarding = False
                    elif end - pos > limit:
                        self.server.reject(self.device, "too_large")
                    else:
                        self._frame(buf[pos:end])
                    pos = end + 1
        finally:
            del buf[:pos]

    def _detect(self, buf: bytearray, pos: int) -> str | None:
        i = pos
        while i < len(buf) and i - pos <= MAX_COUNT_DIGITS and 0x30 <= buf[i] <= 0x39:
            i += 1
        if i == len(buf) and i - pos <= MAX_COUNT_DIGITS:
            return None  # only digits so far
        return OCTET if pos < i < len(buf) and buf[i] == 0x20 else LINES

    def _bad_count(self, head: bytes) -> None:
        """An octet count that is no number: the frames cannot be found any more; close cleanly."""
        self.server.reject(self.device, "bad_octet_count")
        self.buffer.clear()
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def _end_of_input(self) -> None:
        if self.closing:
            return
        self._cut()
        if self.skip:
            self.skip = 0
        elif self.buffer:
            if self.mode == OCTET:
                self.server.reject(self.device, "truncated_frame")  # the count promised more than came
            elif self.discarding:
                pass  # already counted as too large
            else:
                self._frame(self.buffer)
            self.buffer.clear()
        self.discarding = False
        self.drain()  # what is left waits in the backlog for room (see connection_lost)


def _line_end(buf: bytearray, pos: int) -> int:
    """Index of the LF or NUL that ends the line starting at pos, or -1."""
    lf = buf.find(b"\n", pos)
    nul = buf.find(b"\x00", pos, lf if lf >= 0 else len(buf))
    return nul if nul >= 0 else lf
