"""A small RouterOS API server for the tests: the real wire protocol (length-prefixed words, sentences
ended by an empty word, !re/!done/!trap replies), /login (RouterOS >= 6.43 plain login) and the firewall
address lists of /ip and /ipv6 with add, print (with ?key=value queries) and remove.

No MikroTik router runs here; this speaks what librouteros speaks to a real one.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field

TIMEOUT = re.compile(r"^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$")


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n < 0x4000:
        return (n | 0x8000).to_bytes(2, "big")
    if n < 0x200000:
        return (n | 0xC00000).to_bytes(3, "big")
    return (n | 0xE0000000).to_bytes(4, "big")


def read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client closed")
        data += chunk
    return data


def read_word(sock: socket.socket) -> str:
    first = read_exact(sock, 1)[0]
    if first < 0x80:
        n = first
    elif first < 0xC0:
        n = ((first << 8) | read_exact(sock, 1)[0]) ^ 0x8000
    elif first < 0xE0:
        n = int.from_bytes(bytes([first]) + read_exact(sock, 2), "big") ^ 0xC00000
    elif first < 0xF0:
        n = int.from_bytes(bytes([first]) + read_exact(sock, 3), "big") ^ 0xE0000000
    else:
        raise ConnectionError("bad length byte")
    return read_exact(sock, n).decode()


def read_sentence(sock: socket.socket) -> list[str]:
    words = []
    while True:
        word = read_word(sock)
        if word == "":
            return words
        words.append(word)


def sentence(*words: str) -> bytes:
    return b"".join(encode_length(len(w.encode())) + w.encode() for w in words) + b"\x00"


@dataclass
class Router:
    username: str = "netwarden"
    password: str = "s3cret"
    lists: dict[str, dict[str, dict[str, str]]] = field(default_factory=lambda: {"ip": {}, "ipv6": {}})
    commands: list[list[str]] = field(default_factory=list)
    logins: int = 0
    next_id: int = 1
    drop_next: bool = False  # close the connection instead of answering the next command
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, words: list[str], logged_in: bool) -> tuple[list[bytes], bool]:
        cmd, attrs, query = words[0], {}, {}
        for w in words[1:]:
            if w.startswith("="):
                key, _, value = w[1:].partition("=")
                attrs[key] = value
            elif w.startswith("?"):
                key, _, value = w[1:].partition("=")
                query[key] = value
        with self.lock:
            self.commands.append(words)
            if cmd == "/login":
                if attrs.get("name") == self.username and attrs.get("password") == self.password:
                    self.logins += 1
                    return [sentence("!done")], True
                return [sentence("!trap", "=message=invalid user name or password (6)"), sentence("!done")], False
            if not logged_in:
                return [sentence("!fatal", "not logged in")], False
            m = re.fullmatch(r"/(ip|ipv6)/firewall/address-list/(add|print|remove)", cmd)
            if not m:
                return [sentence("!trap", "=message=no such command prefix"), sentence("!done")], True
            family, action = m.groups()
            table = self.lists[family]
            if action == "add":
                return self._add(family, table, attrs), True
            if action == "print":
                rows = [sentence("!re", *(f"={k}={v}" for k, v in row.items())) for row in table.values()
                        if all(row.get(k) == v for k, v in query.items())]
                return rows + [sentence("!done")], True
            ids = attrs.get(".id", "").split(",")
            if not all(i in table for i in ids):
                return [sentence("!trap", "=message=no such item"), sentence("!done")], True
            for i in ids:
                del table[i]
            return [sentence("!done")], True

    def _add(self, family: str, table: dict, attrs: dict[str, str]) -> list[bytes]:
        try:
            net = ipaddress.ip_network(attrs.get("address", ""), strict=False)
        except ValueError:
            return [sentence("!trap", "=message=invalid value for argument address"), sentence("!done")]
        if (net.version == 4) != (family == "ip"):
            return [sentence("!trap", "=message=invalid value for argument address"), sentence("!done")]
        if "timeout" in attrs and not (attrs["timeout"] and TIMEOUT.fullmatch(attrs["timeout"])):
            return [sentence("!trap", "=message=invalid value for argument timeout"), sentence("!done")]
        address = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        for row in table.values():
            if row["list"] == attrs.get("list") and row["address"] == address:
                return [sentence("!trap", "=message=failure: already have such entry"), sentence("!done")]
        rid = f"*{self.next_id:X}"
        self.next_id += 1
        table[rid] = {".id": rid, "list": attrs.get("list", ""), "address": address,
                      "comment": attrs.get("comment", ""), "dynamic": "true" if "timeout" in attrs else "false",
                      "disabled": "false", **({"timeout": attrs["timeout"]} if "timeout" in attrs else {})}
        return [sentence("!done", f"=ret={rid}")]


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        router: Router = self.server.router  # type: ignore[attr-defined]
        logged_in = False
        self.request.settimeout(10)
        tls = self.server.tls  # type: ignore[attr-defined]
        if tls is not None:  # api-ssl (8729): TLS from the first byte
            try:
                self.request = tls.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        try:
            while True:
                words = read_sentence(self.request)
                if not words:
                    continue
                if router.drop_next and words[0] != "/login":
                    router.drop_next = False
                    return
                replies, logged_in = router.handle(words, logged_in)
                self.request.sendall(b"".join(replies))
        except (ConnectionError, OSError):
            return


class FakeRouterOS(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.router = Router()
        self.tls = tls
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self):  # type: ignore[no-untyped-def]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
