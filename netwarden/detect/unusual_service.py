"""Unusual services: dangerous services reachable from the internet, protocols on the wrong port, new services.

Subkinds:

- ``exposed_service``: a connection from an outside address to an inside one on a dangerous port (telnet,
  SMB/NetBIOS, RDP, VNC, databases, Redis, Elasticsearch, Docker API, MikroTik Winbox ...) that was
  *answered with data* (a flow that exchanged payload) or that a firewall logged as *allowed*. A scanner's
  unanswered or refused SYN is not an exposure. Severity high for services that are unauthenticated or
  wormable by default (telnet, SMB, Redis, MongoDB, Elasticsearch, Docker, memcached, Winbox), medium for
  ones that ask for a password (RDP, VNC, SQL servers). The first ``max_clients_per_service`` (5) outside
  clients of one exposed service are reported per day, so one open port is not a hundred alerts.
- ``probe`` (low): an outside address tried such a port and the firewall blocked it (a refused or unanswered
  SYN in flows is not reported: that is the internet's background noise against a closed port).
  Reported once per source a day, ``probe_delay`` (60 s of event time) after the first try, and only if the
  source has not turned out to be a scanner by then — scanners are port_scan's alerts (see below).
- ``protocol_mismatch``: the protocol the data shows does not fit the port, where that means tunnelling or a
  hidden service: SSH on a port that is not an SSH port, anything but DNS on port 53, SSH/FTP/SMTP/IRC/SOCKS/
  RDP/telnet on 80 or 443 (firewall-friendly ports). Read from pcap banners (``ssh_client``/``ssh_server``),
  Zeek ``service`` and Suricata ``app_proto``; only connections that exchanged data.
- ``new_service``: after a learning period per inside host (``learning``, 24 h of event time since the host
  was first seen), a port it has never served before answers outside clients, or the host starts using an
  outbound service from ``watched_outbound`` (telnet, SMTP — spam bots —, IRC — botnet C2 —, SMB, RDP,
  databases, common backdoor ports) it never used. Ports in the ephemeral range (≥ 32768) are never "new
  services". Per-host port sets are bounded (``max_ports``); a host that serves more is not judged.

Coordination with port_scan: a source with ``scanner_targets`` (8) or more distinct failed (host, port)
attempts in the last hour is a scanner; it gets no ``probe``, ``exposed_service`` or ``new_service``
finding here (port_scan reports it once, with all its ports). Since exposures and new services need data
exchanged, a SYN scan can never raise them anyway; only service-detection probes (``nmap -sV``) against
open ports could, and those sources are scanners.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from netwarden.detect._conn import FAILED, NEUTRAL, OK, classify, not_unicast
from netwarden.detect.base import Detector, DetectorSettings, register
from netwarden.detect.windows import KeyedState
from netwarden.records import Event, Factor, Finding, Severity

# port -> (service, wormable/unauthenticated by default)
DANGEROUS: dict[int, tuple[str, bool]] = {
    23: ("telnet", True), 2323: ("telnet", True), 445: ("SMB", True), 139: ("NetBIOS/SMB", True),
    135: ("MS RPC", True), 3389: ("RDP", False), 5900: ("VNC", False), 5901: ("VNC", False),
    1433: ("MS SQL", False), 3306: ("MySQL", False), 5432: ("PostgreSQL", False), 1521: ("Oracle", False),
    27017: ("MongoDB", True), 6379: ("Redis", True), 9200: ("Elasticsearch", True), 11211: ("memcached", True),
    5984: ("CouchDB", True), 8291: ("MikroTik Winbox", True), 2375: ("Docker API", True),
    2376: ("Docker API (TLS)", False), 10250: ("Kubelet API", True), 5985: ("WinRM", False),
    161: ("SNMP", True), 69: ("TFTP", True), 111: ("RPC portmapper", True), 2049: ("NFS", True),
}
SSH_PORTS = frozenset({22, 2222, 22222, 8022, 830})
_TUNNEL_ON_WEB = frozenset({"ssh", "ftp", "smtp", "irc", "socks", "rdp", "telnet", "openvpn", "smb"})
WATCHED_OUTBOUND = (23, 2323, 25, 465, 587, 6667, 6697, 445, 139, 3389, 5900, 1433, 3306, 5432, 27017, 6379,
                    4444, 1337, 31337, 9001, 8291)
EPHEMERAL = 32768
_BLOCKED = frozenset({"blocked", "dropped", "drop", "denied", "deny", "reject", "rejected"})


class _Host:
    __slots__ = ("first", "served", "used")

    def __init__(self) -> None:
        self.first = 0.0  # event time this host was first seen
        self.served: set[int] = set()  # ports it answered outside clients on
        self.used: set[int] = set()  # watched outbound ports it used


@register
class UnusualService(Detector):
    name = "unusual_service"
    description = "dangerous services reached from outside, protocols on unexpected ports, new services on a host"

    class Settings(DetectorSettings):
        dangerous_ports: tuple[int, ...] = tuple(DANGEROUS)
        learning: int = 86400  # seconds of event time per host before new_service judges it
        max_ports: int = 64
        max_hosts: int = 20_000
        watched_outbound: tuple[int, ...] = WATCHED_OUTBOUND
        scanner_targets: int = 8
        probe_delay: int = 60
        max_clients_per_service: int = 5
        max_sources: int = 50_000
        report_probes: bool = True  # low "probe" alerts for blocked attempts on dangerous ports

    def __init__(self, settings: Any = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        s = self.settings
        self.dangerous = {p: DANGEROUS.get(p, (f"port {p}", False)) for p in s.dangerous_ports}
        self.watched = frozenset(s.watched_outbound)
        self.hosts: KeyedState[_Host] = KeyedState(_Host, idle=timedelta(days=7), max_keys=s.max_hosts)
        # source -> distinct failed (dst, port) targets, capped at scanner_targets (an hour's memory)
        self.failures: KeyedState[set] = KeyedState(set, idle=timedelta(hours=1), max_keys=s.max_sources)
        # (kind, key) -> event time reported: each pattern once a day
        self.reported: KeyedState[float] = KeyedState(float, idle=timedelta(days=1), max_keys=s.max_sources)
        self.clients: KeyedState[set] = KeyedState(set, idle=timedelta(days=1), max_keys=s.max_sources)
        self.pending: dict[str, tuple[float, Event]] = {}  # probes waiting for probe_delay

    def _scanner(self, src: str) -> bool:
        seen = self.failures.peek(src)
        return seen is not None and len(seen) >= self.settings.scanner_targets

    def _once(self, key: str, when: datetime) -> bool:
        """True the first time ``key`` is seen in a day (of event time)."""
        if self.reported.peek(key) is not None:
            return False
        self.reported.get(key, when)
        return True

    def process(self, events: Sequence[Event]) -> list[Finding]:
        s = self.settings
        assets = self.assets
        dangerous = self.dangerous
        out: list[Finding] = []
        latest = 0.0
        exposed: list[Event] = []
        for e in events:
            src, dst, port = e.src_ip, e.dst_ip, e.dst_port
            if src is None or dst is None or port is None or e.timestamp is None:
                continue
            c = classify(e)
            if c is None or not_unicast(dst):
                continue
            status = c[0]
            ts = e.timestamp.timestamp()
            if ts > latest:
                latest = ts
            if status == FAILED:
                seen = self.failures.get(src, e.timestamp)
                if len(seen) < s.scanner_targets:
                    seen.add((dst, port))
            answered = status == OK or (status == NEUTRAL and e.action == "allowed")
            src_out = assets.is_outside(src)
            dst_in = assets.is_inside(dst)
            if port in dangerous and src_out and dst_in:
                if answered:
                    exposed.append(e)
                elif status == FAILED and s.report_probes and e.action in _BLOCKED and src not in self.pending \
                        and len(self.pending) < s.max_sources:
                    self.pending[src] = (ts, e)
            if status == OK and (e.app_protocol or e.extra.get("ssh_server") or e.extra.get("ssh_client")):
                mismatch = _mismatch(e, port)
                if mismatch:
                    out += self._mismatch(e, mismatch)
            if status == OK and port < EPHEMERAL:
                if src_out and dst_in:
                    out += self._learn(dst, port, e, ts, served=True)
                elif dst_in is False and assets.is_inside(src) and port in self.watched:
                    out += self._learn(src, port, e, ts, served=False)
        for e in exposed:
            if e.src_ip is None or not self._scanner(e.src_ip):
                out += self._exposed(e)
        out += self._flush_probes(latest)
        return out

    # -- subkinds ---------------------------------------------------------------------------------

    def _exposed(self, e: Event) -> list[Finding]:
        s = self.settings
        port = e.dst_port
        assert port is not None and e.src_ip and e.dst_ip and e.timestamp
        service, wormable = self.dangerous[port]
        clients = self.clients.get(f"{e.dst_ip}:{port}", e.timestamp)
        if e.src_ip in clients or len(clients) >= s.max_clients_per_service:
            return []
        clients.add(e.src_ip)
        how = ("the firewall allowed it" if e.action == "allowed"
               else f"data was exchanged ({e.bytes_out or 0} B sent, {e.bytes_in or 0} B received)")
        return [self.finding(
            kind="unusual_service", subkind="exposed_service",
            severity=Severity.HIGH if wormable else Severity.MEDIUM,
            factors=[Factor("dangerous_service", 0.6 if wormable else 0.45,
                            f"{service} (port {port}) on {e.dst_ip} was reached from the internet"),
                     Factor("answered", 0.5, how)],
            recommendation=(f"{service} on {e.dst_ip} port {port} is reachable from the internet: close it at the "
                            f"firewall (allow only a VPN or known addresses), check {e.dst_ip} for logins from "
                            f"{e.src_ip}, and disable {service} if it is not needed."),
            first_seen=e.timestamp, last_seen=e.timestamp, source=e.src_ip, target=e.dst_ip,
            signature=f"exposed:{e.dst_ip}:{port}",
            evidence={"service": service, "port": port, "transport": e.transport, "server": e.dst_ip,
                      "client": e.src_ip, "bytes_out": e.bytes_out, "bytes_in": e.bytes_in, "action": e.action,
                      "clients_reported": len(clients)},
            events=[e])]

    def _flush_probes(self, now: float) -> list[Finding]:
        out = []
        delay = self.settings.probe_delay
        for src, (ts, e) in list(self.pending.items()):
            if now - ts < delay:
                continue
            del self.pending[src]
            if self._scanner(src) or e.timestamp is None or not self._once(f"probe:{src}", e.timestamp):
                continue
            port = e.dst_port
            assert port is not None
            service = self.dangerous[port][0]
            blocked = True
            out.append(self.finding(
                kind="unusual_service", subkind="probe", severity=Severity.LOW,
                factors=[Factor("dangerous_service", 0.3, f"{src} tried {service} (port {port}) on {e.dst_ip}"),
                         Factor("blocked" if blocked else "unanswered", 0.2,
                                "the firewall blocked it" if blocked else "nothing answered")],
                recommendation=(f"Nothing to do if {service} is meant to be closed: the attempt "
                                f"{'was blocked' if blocked else 'got no answer'}. Keep port {port} closed to the "
                                f"internet; block {src} if it comes back."),
                first_seen=e.timestamp, last_seen=e.timestamp, source=src, target=e.dst_ip,
                signature=f"probe:{port}",
                evidence={"service": service, "port": port, "target": e.dst_ip, "action": e.action},
                events=[e]))
        return out

    def _mismatch(self, e: Event, protocol: str) -> list[Finding]:
        assert e.timestamp and e.src_ip
        port = e.dst_port
        if self._scanner(e.src_ip) or not self._once(f"mismatch:{e.src_ip}:{e.dst_ip}:{port}:{protocol}",
                                                     e.timestamp):
            return []
        inside_client = self.assets.is_inside(e.src_ip)
        banner = e.extra.get("ssh_server") or e.extra.get("ssh_client")
        detail = f"{protocol} on {e.transport or 'tcp'} port {port}" + (f" (banner {banner[:80]!r})" if banner else "")
        advice = (f"Find what on {e.src_ip} speaks {protocol} to {e.dst_ip}:{port}: {protocol} on a port meant for "
                  f"something else is how tunnels and backdoors get past a firewall."
                  if inside_client else
                  f"{e.dst_ip} serves {protocol} on port {port}: confirm that this service is intended and "
                  f"patched, or close the port.")
        return [self.finding(
            kind="unusual_service", subkind="protocol_mismatch", severity=Severity.MEDIUM,
            factors=[Factor("protocol_port", 0.6, detail)],
            recommendation=advice, first_seen=e.timestamp, last_seen=e.timestamp, source=e.src_ip,
            target=e.dst_ip, signature=f"mismatch:{protocol}:{port}",
            evidence={"protocol": protocol, "port": port, "transport": e.transport, "banner": banner},
            events=[e])]

    def _learn(self, host_ip: str, port: int, e: Event, ts: float, *, served: bool) -> list[Finding]:
        s = self.settings
        assert e.timestamp and e.src_ip
        host = self.hosts.get(host_ip, e.timestamp)
        if not host.first:
            host.first = ts
        ports = host.served if served else host.used
        if port in ports:
            return []
        learning = ts - host.first < s.learning
        if len(ports) >= s.max_ports:
            return []
        ports.add(port)
        if learning or self._scanner(e.src_ip):
            return []
        known = ", ".join(str(p) for p in sorted(ports - {port})[:15]) or "none"
        if served:
            what = f"{host_ip} answered outside clients on port {port} for the first time"
            advice = (f"Check what listens on {host_ip} port {port} (ss -ltnp / netstat -ano) and whether it should "
                      f"be reachable from the internet; a new listening port can be a backdoor or a forgotten test "
                      f"service.")
        else:
            what = f"{host_ip} used outbound port {port} for the first time (to {e.dst_ip})"
            advice = (f"Find the process on {host_ip} connecting to {e.dst_ip}:{port}; outbound "
                      f"{port} from a host that never used it is typical of spam bots, botnet C2 or lateral "
                      f"movement.")
        return [self.finding(
            kind="unusual_service", subkind="new_service", severity=Severity.MEDIUM,
            factors=[Factor("new_port", 0.5, what),
                     Factor("baseline", 0.2, f"after {(ts - host.first) / 3600:.0f} h of learning; "
                                             f"known ports: {known}")],
            recommendation=advice, first_seen=e.timestamp, last_seen=e.timestamp, source=e.src_ip,
            target=e.dst_ip, signature=f"new_{'listen' if served else 'outbound'}:{host_ip}:{port}",
            evidence={"host": host_ip, "port": port, "direction": "inbound" if served else "outbound",
                      "known_ports": sorted(ports - {port})[:20], "peer": e.dst_ip if not served else e.src_ip},
            events=[e])]

    # -- state ------------------------------------------------------------------------------------

    def prune(self, now: datetime) -> None:
        for table in (self.hosts, self.failures, self.reported, self.clients):
            table.prune(now)

    def state(self) -> dict[str, Any]:
        return {
            "hosts": [[k, seen.isoformat(), h.first, sorted(h.served), sorted(h.used)] for k, seen, h in self.hosts.items()],
            "failures": [[k, seen.isoformat(), [list(t) for t in v]] for k, seen, v in self.failures.items()],
            "reported": [[k, seen.isoformat()] for k, seen, _ in self.reported.items()],
            "clients": [[k, seen.isoformat(), sorted(v)] for k, seen, v in self.clients.items()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        s = self.settings
        for row in state.get("hosts", []) or []:
            try:
                key, seen, first, served, used = row
                h = _Host()
                h.first = float(first)
                h.served = {int(p) for p in served[: s.max_ports]}
                h.used = {int(p) for p in used[: s.max_ports]}
                self.hosts.put(str(key), datetime.fromisoformat(seen), h)
            except (TypeError, ValueError):
                continue
        for row in state.get("failures", []) or []:
            try:
                key, seen, targets = row
                self.failures.put(str(key), datetime.fromisoformat(seen),
                                  {(str(d), int(p)) for d, p in targets[: s.scanner_targets]})
            except (TypeError, ValueError):
                continue
        for row in state.get("reported", []) or []:
            try:
                key, seen = row
                self.reported.put(str(key), datetime.fromisoformat(seen), 0.0)
            except (TypeError, ValueError):
                continue
        for row in state.get("clients", []) or []:
            try:
                key, seen, clients = row
                self.clients.put(str(key), datetime.fromisoformat(seen), {str(c) for c in clients[:100]})
            except (TypeError, ValueError):
                continue


def _mismatch(e: Event, port: int) -> str | None:
    """The protocol if the data shows one that does not belong on ``port`` (see the module doc)."""
    extra = e.extra
    if extra.get("ssh_server") or extra.get("ssh_client"):
        protocols = {"ssh"}
    else:
        app = e.app_protocol
        if not app:
            return None
        protocols = set(app.lower().split(","))
    if "ssh" in protocols and port not in SSH_PORTS:
        return "ssh"
    if port == 53 and not protocols & {"dns", "dns_tcp"}:
        return sorted(protocols)[0]
    if port in (80, 443):
        odd = protocols & _TUNNEL_ON_WEB
        if odd:
            return sorted(odd)[0]
    return None
