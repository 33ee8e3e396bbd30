"""Helpers for the real firewall tests: an "attacker" reaches a TCP server in a "server"
namespace over a veth pair (IPv4 and IPv6); NetWarden's backends run inside the server namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

SERVER4, ATTACKER4 = "198.51.100.1", "198.51.100.2"
SERVER6, ATTACKER6 = "2001:db8:77::1", "2001:db8:77::2"
PORT = 8080

LISTENER = """
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", PORT)); s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()
""".replace("PORT", str(PORT))

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
except OSError:
    sys.exit(1)
"""


def sh(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=30, input=input)


def _netns_usable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "nft", "iptables", "ipset"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/system-packages)"
    name = f"nwprobe{uuid.uuid4().hex[:6]}"
    try:
        if sh("ip", "netns", "add", name, check=False).returncode != 0:
            return "cannot create a network namespace"
        if sh("ip", "netns", "exec", name, "nft", "list", "ruleset", check=False).returncode != 0:
            return "nftables does not work inside a network namespace (kernel)"
    finally:
        sh("ip", "netns", "del", name, check=False)
    return None


@dataclass
class NetPair:
    server: str  # namespace names
    attacker: str

    def reaches(self, host: str = SERVER4, timeout: float = 0.5) -> bool:
        """Can the attacker open a TCP connection to the server?"""
        proc = subprocess.run(["ip", "netns", "exec", self.attacker, sys.executable, "-c", CONNECT, host, str(PORT),
                               str(timeout)], capture_output=True, timeout=timeout + 10, check=False)
        return proc.returncode == 0

    def wait_until(self, want: bool, host: str = SERVER4, limit: float = 10.0) -> float:
        """Seconds until ``reaches(host) == want`` (raises AssertionError after ``limit``)."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            if self.reaches(host, timeout=0.3) == want:
                return time.monotonic() - started
            time.sleep(0.1)
        raise AssertionError(f"attacker {'still cannot' if want else 'still can'} reach {host} after {limit} s")


