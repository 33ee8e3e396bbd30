"""MikroTik RouterOS: entries in a firewall address list, through the RouterOS API (librouteros).

The router does the dropping with one rule that uses the list (see docs/respond.md), e.g.::

    /ip firewall raw add chain=prerouting src-address-list=netwarden action=drop comment="NetWarden"
    /ipv6 firewall raw add chain=prerouting src-address-list=netwarden action=drop comment="NetWarden"

Entries carry RouterOS's own ``timeout``, so the router forgets them on time even if NetWarden is down.
Entries are marked with the comment ``netwarden`` so that only NetWarden's own are ever listed or removed.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from netwarden.networks import Network, display
from netwarden.respond.firewall.base import Firewall, FirewallError, human_seconds, register

if TYPE_CHECKING:
    from netwarden.respond.settings import RespondSettings

COMMENT = "netwarden"
T = TypeVar("T")


@register
class RouterOSFirewall(Firewall):
    name = "routeros"

    def __init__(self, host: str, *, port: int = 8728, username: str = "netwarden", password: str = "",
                 list_name: str = "netwarden", tls: bool = False, ca_file: str = "", verify: bool = True,
                 timeout: float = 5.0) -> None:
        if not host:
            raise FirewallError("[respond.routeros] host is not set (the router's address)")
        self.host, self.port, self.username, self.password = host, port, username, password
        self.list_name = list_name
        self.tls, self.ca_file, self.verify = tls, ca_file, verify
        self.timeout = timeout
        self._api: Any = None  # librouteros has no type information: its Api and paths are Any here
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, respond: RespondSettings, *, netns: str | None = None) -> RouterOSFirewall:
        s = respond.routeros
        return cls(s.host, port=s.port, username=s.username, password=s.password, list_name=s.list_name,
                   tls=s.tls, ca_file=s.ca_file, verify=s.verify, timeout=s.timeout)

    def _connect(self) -> Any:
        import librouteros
        from librouteros.exceptions import LibRouterosError

        if self._api is not None:
            return self._api
        wrapper: Callable[[socket.socket], ssl.SSLSocket] | None = None
        if self.tls:
            context = ssl.create_default_context(cafile=self.ca_file or None)
            if not self.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE

            def wrap(sock: socket.socket) -> ssl.SSLSocket:
                return context.wrap_socket(sock, server_hostname=self.host)
            wrapper = wrap
        try:
            self._api = librouteros.connect(self.host, self.username, self.password, port=self.port,
                                            timeout=self.timeout, ssl_wrapper=wrapper)
        except (OSError, LibRouterosError) as exc:
            raise FirewallError(f"RouterOS {self.host}:{self.port}: cannot log in: {exc}") from None
        return self._api

    def _call(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(api)``; one reconnect when the connection was lost (routers restart)."""
        from librouteros.exceptions import LibRouterosError, TrapError

        with self._lock:
            for attempt in (1, 2):
                api = self._connect()
                try:
                    return fn(api)
                except TrapError as exc:
                    raise FirewallError(f"RouterOS {self.host}: {exc}") from None
                except (OSError, LibRouterosError) as exc:
                    self.close()
                    if attempt == 2:
                        raise FirewallError(f"RouterOS {self.host}:{self.port}: {exc}") from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _path(self, api: Any, net: Network) -> Any:
        return api.path("ip" if net.version == 4 else "ipv6", "firewall", "address-list")

    def _ids(self, path: Any, net: Network) -> list[str]:
        wanted = {str(net), display(net)}
        return [str(row[".id"]) for row in path("print", **{"?list": self.list_name})
                if str(row.get("address")) in wanted and row.get("comment") == COMMENT]

    def add(self, net: Network, seconds: float | None, reason: str = "") -> None:
        def do(api: Any) -> None:
            path = self._path(api, net)
            old = self._ids(path, net)
            if old:  # replace: a new timeout cannot be set on a dynamic entry
                path.remove(*old)
            fields = {"list": self.list_name, "address": str(net), "comment": COMMENT}
            if seconds is not None:
                fields["timeout"] = human_seconds(seconds)
            path.add(**fields)
        self._call(do)

    def remove(self, net: Network) -> None:
        def do(api: Any) -> None:
            path = self._path(api, net)
            old = self._ids(path, net)
            if old:
                path.remove(*old)
        self._call(do)

    def entries(self) -> set[str] | None:
        import ipaddress

        def do(api: Any) -> set[str]:
            found: set[str] = set()
            for family in ("ip", "ipv6"):
                for row in api.path(family, "firewall", "address-list")("print", **{"?list": self.list_name}):
                    if row.get("comment") == COMMENT:
                        found.add(display(ipaddress.ip_network(str(row["address"]), strict=False)))
            return found
        return self._call(do)

    def close(self) -> None:
        if self._api is not None:
            try:
                self._api.close()
            except OSError:
                pass
            self._api = None
