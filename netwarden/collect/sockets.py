"""Listening sockets for the collectors, and the kernel's count of UDP datagrams it had to drop."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from pathlib import Path

log = logging.getLogger(__name__)


def bind_sockets(kind: int, host: str, port: int, *, receive_buffer: int | None = None) -> list[socket.socket]:
    """Non-blocking sockets bound to host:port (listening, for TCP). Host "" binds 0.0.0.0 and :: (IPv6 only,
    so both can share the port; a host without IPv6 gets IPv4 alone). Port 0 picks one free port for both."""
    if host:
        infos = socket.getaddrinfo(host, port, type=kind, flags=socket.AI_PASSIVE)
        targets = [(infos[0][0], infos[0][4])]
    else:
        targets = [(socket.AF_INET, ("0.0.0.0", port))]
        if socket.has_ipv6:
            targets.append((socket.AF_INET6, ("::", port, 0, 0)))
    sockets: list[socket.socket] = []
    try:
        for family, address in targets:
            sock = socket.socket(family, kind)
            try:
                if kind == socket.SOCK_STREAM:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if receive_buffer:
                    # FORCE (as root) may exceed net.core.rmem_max: bursts from many exporters need it
                    for option in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
                        try:
                            sock.setsockopt(socket.SOL_SOCKET, option, receive_buffer)
                            break
                        except OSError:
                            continue
                if port == 0 and sockets:
                    address = (address[0], sockets[0].getsockname()[1], *address[2:])
                sock.bind(address)
                if kind == socket.SOCK_STREAM:
                    sock.listen(512)
                sock.setblocking(False)
            except OSError as exc:
                sock.close()
                if not host and family == socket.AF_INET6 and sockets:
                    log.warning("not listening on IPv6: %s", exc)
                    continue
                raise
            sockets.append(sock)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def udp_kernel_drops(sock: socket.socket) -> int:
    """Datagrams the kernel dropped on this socket (receive buffer full), from /proc; 0 when unknown."""
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
        text = Path("/proc/net/udp6" if sock.family == socket.AF_INET6 else "/proc/net/udp").read_text()
    except OSError:
        return 0
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 13 and parts[9] == inode:
            try:
                return int(parts[-1])
            except ValueError:
                return 0
    return 0


def device_of(peer: object) -> str:
    """The device address from a socket peer name: IPv4-mapped IPv6 becomes IPv4, the scope goes."""
    if not isinstance(peer, tuple) or not peer:
        return "-"
    host = str(peer[0]).split("%", 1)[0]
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host or "-"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)
