"""The generator: benign office traffic second by second, and an attack every so often.

Each emission is what one device would send at that moment: a syslog line (sshd on the servers, nginx
access lines over syslog, the gateway's netfilter log) or a flow record for the gateway's IPFIX exporter.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from netwarden.simulate import office

ADMIN_LOGINS_PER_SECOND = 1 / 150
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
SESSION_FLAGS = SYN | ACK | PSH | FIN
TCP, UDP = 6, 17
ATTACKS = ("port_scan", "brute_force", "sqli", "traversal", "exfiltration", "intel", "flood")
# which alert kind the detection engine should raise for each attack
EXPECTED_ALERT = {"port_scan": "port_scan", "brute_force": "brute_force", "sqli": "web_attack",
                  "traversal": "web_attack", "exfiltration": "exfiltration", "intel": "intel", "flood": "dos"}


@dataclass(frozen=True, slots=True)
class Flow:
    """One direction of one connection, as a flow exporter reports it."""

    src: str
    dst: str
    sport: int
    dport: int
    proto: int
    flags: int
    octets: int
    packets: int
    start: float  # Unix seconds
    end: float


@dataclass(order=True, slots=True)
class Emission:
    """One thing a device sends: a syslog ``line`` from ``host`` or a ``flow``; ``attack`` names the attack
    it belongs to (None: benign), ``attacker`` its source."""

    ts: float
    seq: int
    line: str | None = field(default=None, compare=False)
    host: str | None = field(default=None, compare=False)
    flow: Flow | None = field(default=None, compare=False)
    attack: str | None = field(default=None, compare=False)
    attacker: str | None = field(default=None, compare=False)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds")


def _clf_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")


class Simulator:
    """Deterministic for a seed: the same seed, start and length give the same emissions.

    ``rate`` is benign activities a second (each is one to a few lines or flow records); an attack starts
    ``first_attack`` seconds in and then every ``attack_every`` seconds, cycling through ``attacks``.
    """

    def __init__(self, seed: int = 1, *, rate: float = 10.0, attack_every: float = 90.0,
                 first_attack: float = 15.0, attacks: Sequence[str] = ATTACKS) -> None:
        unknown = set(attacks) - set(ATTACKS)
        if unknown:
            raise ValueError(f"unknown attack(s) {', '.join(sorted(unknown))}; known: {', '.join(ATTACKS)}")
        if rate < 0 or attack_every <= 0:
            raise ValueError("rate must be >= 0 and attack_every > 0")
        self.rng = random.Random(seed)
        self.rate = rate
        self.attack_every = attack_every
        self.first_attack = first_attack
        order = list(attacks)
        self.rng.shuffle(order)
        self.attacks = order
        self._seq = 0
        self._pid = 20000
        self.launched: list[tuple[float, str, str]] = []  # (time, attack, attacker)

    # -- the timeline -----------------------------------------------------------------------------

    def generate(self, start: datetime | float, seconds: float) -> Iterator[Emission]:
        """Emissions in time order from ``start`` for ``seconds`` (attacks begun inside may run past it)."""
        t0 = start.timestamp() if isinstance(start, datetime) else float(start)
        pending: list[Emission] = []
        next_attack = t0 + self.first_attack
        n_attack = 0
        second = 0
        while second < seconds:
            now = t0 + second
            for emission in self._benign_second(now):
                heapq.heappush(pending, emission)
            while self.attacks and next_attack < now + 1:
                kind = self.attacks[n_attack % len(self.attacks)]
                n_attack += 1
                for emission in self.attack(kind, next_attack):
                    heapq.heappush(pending, emission)
                next_attack += self.attack_every
            while pending and pending[0].ts < now + 1:
                yield heapq.heappop(pending)
            second += 1
        while pending:
            yield heapq.heappop(pending)

    def _emit(self, ts: float, **kw: Any) -> Emission:
        self._seq += 1
        return Emission(ts=ts, seq=self._seq, **kw)

    def _port(self) -> int:
        return self.rng.randint(32768, 60999)

    def _pid_next(self) -> int:
        self._pid += self.rng.randint(1, 40)
        return self._pid

    # -- building blocks --------------------------------------------------------------------------

    def _syslog(self, ts: float, host: str, program: str, message: str, pri: int,
                attack: str | None = None, attacker: str | None = None) -> Emission:
        line = f"<{pri}>{_iso(ts)} {host} {program}: {message}"
        return self._emit(ts, line=line, host=host, attack=attack, attacker=attacker)

    def _session(self, ts: float, client: str, server: str, dport: int, up: int, down: int,
                 proto: int = TCP, attack: str | None = None, attacker: str | None = None) -> list[Emission]:
        """Both directions of one connection as two flow records."""
        sport = self._port()
        duration = round(self.rng.uniform(0.05, 8.0), 3) if proto == TCP else 0.02
        flags = SESSION_FLAGS if proto == TCP else 0
        mss = 1400
        out = Flow(client, server, sport, dport, proto, flags, up, max(1, up // mss + 2), ts, ts + duration)
        back = Flow(server, client, dport, sport, proto, flags, down, max(1, down // mss + 2), ts + 0.001,
                    ts + duration)
        return [self._emit(ts, flow=out, attack=attack, attacker=attacker),
                self._emit(ts + 0.001, flow=back, attack=attack, attacker=attacker)]

    def _access(self, ts: float, client: str, method: str, url: str, status: int, size: int, agent: str,
                referrer: str = "-", attack: str | None = None) -> Emission:
        message = (f'{client} - - [{_clf_time(ts)}] "{method} {url} HTTP/1.1" {status} {size} '
                   f'"{referrer}" "{agent}"')
        return self._syslog(ts, "www", "nginx", message, 190, attack, client if attack else None)

    # -- benign -----------------------------------------------------------------------------------

    def _benign_second(self, now: float) -> list[Emission]:
        rng = self.rng
        out: list[Emission] = []
        whole = int(self.rate)
        count = whole + (1 if rng.random() < self.rate - whole else 0)
        for _ in range(count):
            ts = now + rng.random()
            pick = rng.random()
            if pick < 0.38:
                out += self._browse(ts)
            elif pick < 0.48:
                out += self._session(ts, office.RESOLVER, rng.choice(office.UPSTREAM_DNS), 53,
                                     rng.randint(60, 90), rng.randint(90, 300), UDP)
            elif pick < 0.56:
                out += self._session(ts, rng.choice(office.WORKSTATIONS), office.MAIL, 993,
                                     rng.randint(800, 6000), rng.randint(2000, 90_000))
            elif pick < 0.92:
                out += self._visit(ts)
            else:
                out += self._session(ts, rng.choice(office.WORKSTATIONS), office.WEB, 443,
                                     rng.randint(500, 3000), rng.randint(3000, 60_000))
        if rng.random() < ADMIN_LOGINS_PER_SECOND:  # people log in now and then, whatever the traffic
            out += self._admin_login(now + rng.random())
        return out

    def _browse(self, ts: float) -> list[Emission]:
        rng = self.rng
        ws = rng.choice(office.WORKSTATIONS)
        site, scale = rng.choice(office.SITES)
        out = self._session(ts, ws, office.RESOLVER, 53, rng.randint(60, 80), rng.randint(90, 200), UDP)
        out += self._session(ts + 0.01, ws, site, 443, rng.randint(900, 25_000),
                             int(rng.lognormvariate(11, 1.2) * scale) + 2000)
        return out

    def _visit(self, ts: float) -> list[Emission]:
        rng = self.rng
        client = rng.choice(office.VISITORS) if rng.random() < 0.8 else rng.choice(office.WORKSTATIONS)
        agent = rng.choice(office.USER_AGENTS)
        page = rng.choice(office.PAGES)
        roll = rng.random()
        status, size = (200, rng.randint(4000, 60_000)) if roll < 0.85 else \
            (304, 0) if roll < 0.97 else (404, 153)
        out = [self._access(ts, client, "GET", page, status, size, agent)]
        if status == 200:
            for i, asset in enumerate(rng.sample(office.ASSETS, rng.randint(0, 3))):
                out.append(self._access(ts + 0.05 * (i + 1), client, "GET", asset, 200, rng.randint(500, 200_000),
                                        agent, f"https://www.example.com{page}"))
        return out

    def _admin_login(self, ts: float) -> list[Emission]:
        rng = self.rng
        ws, user = rng.choice(sorted(office.ADMINS.items()))
        server = rng.choice(office.SSH_SERVERS)
        host = f"srv{office.SSH_SERVERS.index(server) + 1}"
        pid, port = self._pid_next(), self._port()
        out = []
        if rng.random() < 0.1:  # a typo first, then the right password
            out.append(self._syslog(ts, host, f"sshd[{pid}]", f"Failed password for {user} from {ws} port {port} ssh2", 38))
            method = "password"
        else:
            method = "publickey"
        out.append(self._syslog(ts + 1.2, host, f"sshd[{pid}]", f"Accepted {method} for {user} from {ws} port {port} ssh2", 38))
        out.append(self._syslog(ts + 1.3, host, f"sshd[{pid}]",
                                f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)", 38))
        out += self._session(ts, ws, server, 22, rng.randint(3000, 40_000), rng.randint(5000, 400_000))
        return out

    # -- attacks ----------------------------------------------------------------------------------

    def attack(self, kind: str, ts: float) -> list[Emission]:
        """The emissions of one attack of ``kind`` starting at ``ts``."""
        make = getattr(self, f"_attack_{kind}", None)
        if kind not in ATTACKS or make is None:
            raise ValueError(f"unknown attack {kind!r}; known: {', '.join(ATTACKS)}")
        emissions, attacker = make(ts)
        self.launched.append((ts, kind, attacker))
        return emissions

    def _attack_port_scan(self, ts: float) -> tuple[list[Emission], str]:
        rng = self.rng
        src = rng.choice(office.SCANNERS)
        ports = rng.sample(range(1, 10_000), 90) + [22, 23, 80, 443, 445, 3389, 8080]
        out = []
        sport = self._port()
        for i, port in enumerate(ports):
            t = ts + i * 0.25
            msg = (f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:1b:21:aa:bb:cc:08:00 SRC={src} "
                   f"DST={office.PUBLIC} LEN=44 TOS=0x00 PREC=0x00 TTL={rng.randint(37, 58)} ID={rng.randint(1, 65535)} "
                   f"PROTO=TCP SPT={sport} DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0")
            out.append(self._syslog(t, "gw", "kernel", msg, 4, "port_scan", src))
        return out, src

    def _attack_brute_force(self, ts: float) -> tuple[list[Emission], str]:
        rng = self.rng
        src = rng.choice(office.GUESSERS)
        server = rng.choice(office.SSH_SERVERS)
        host = f"srv{office.SSH_SERVERS.index(server) + 1}"
        users = ("root", "admin", "oracle", "ubuntu", "test", "postgres", "user", "git")
        out = []
        for i in range(36):
            t = ts + i * 2.5
            user, pid, port = rng.choice(users), self._pid_next(), self._port()
            if user == "root":
                msg = f"Failed password for root from {src} port {port} ssh2"
            else:
                out.append(self._syslog(t, host, f"sshd[{pid}]", f"Invalid user {user} from {src} port {port}",
                                        38, "brute_force", src))
                msg = f"Failed password for invalid user {user} from {src} port {port} ssh2"
            out.append(self._syslog(t + 0.8, host, f"sshd[{pid}]", msg, 38, "brute_force", src))
            out += self._session(t, src, server, 22, rng.randint(1500, 3000), rng.randint(2000, 4000),
                                 attack="brute_force", attacker=src)
        return out, src

    def _attack_sqli(self, ts: float) -> tuple[list[Emission], str]:
        rng = self.rng
        src = rng.choice(office.WEB_ATTACKERS)
        agent = "sqlmap/1.8.11#stable (https://sqlmap.org)"
        payloads = ("1' OR '1'='1", "1 UNION SELECT username,password FROM users--", "1' AND SLEEP(5)-- -",
                    "1) UNION ALL SELECT NULL,NULL,CONCAT(0x71,user(),0x71)-- -", "1' AND extractvalue(1,concat(0x7e,version()))--",
                    "-1 OR 1=1", "1'; DROP TABLE orders--", "1' ORDER BY 5--")
        out = []
        for i in range(24):
            url = f"/products?id={quote(rng.choice(payloads), safe='')}"
            out.append(self._access(ts + i * 0.7, src, "GET", url, rng.choice((200, 500, 500)),
                                    rng.randint(200, 9000), agent, attack="sqli"))
        return out, src

    def _attack_traversal(self, ts: float) -> tuple[list[Emission], str]:
        rng = self.rng
        src = rng.choice(office.WEB_ATTACKERS)
        paths = ("/static/../../../../etc/passwd", "/download?file=../../../../etc/passwd",
                 "/download?file=..%2f..%2f..%2f..%2fetc%2fshadow", "/img/..%252f..%252f..%252fetc/passwd",
                 "/page?f=....//....//....//etc/hosts", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh",
                 "/download?file=..\\..\\..\\windows\\win.ini")
        out = []
        for i in range(14):
            out.append(self._access(ts + i * 1.1, src, "GET", rng.choice(paths), rng.choice((400, 404, 403)),
                                    rng.randint(150, 600), "curl/8.5.0", attack="traversal"))
        return out, src

    def _attack_exfiltration(self, ts: float) -> tuple[list[Emission], str]:
        rng = self.rng
        ws = rng.choice(office.WORKSTATIONS)
        dst = rng.choice(office.EXFIL_DESTINATIONS)
        out = []
        for i in range(12):  # 12 uploads of ~130 MB in six minutes: ~1.5 GB to one address
            t = ts + i * 30
            up = rng.randint(120, 140) * 1024 * 1024
            out += self._session(t, ws, dst, 443, up, rng.randint(40_000, 90_000), attack="exfiltration",
                                 attacker=ws)
        return out, ws

    def _attack_intel(self, ts: float) -> tuple[list[Emission], str]:
        rng = self.rng
        listed = rng.choice(office.INTEL_LISTED)
        ws = rng.choice(office.WORKSTATIONS)
        out = []
        if rng.random() < 0.5:  # an inside host calls a listed address (malware beacon) ...
            for i in range(5):
                out += self._session(ts + i * 20, ws, listed, 443, rng.randint(400, 900), rng.randint(300, 700),
                                     attack="intel", attacker=listed)
        else:  # ... or a listed address visits the web server
            for i, url in enumerate(("/", "/wp-login.php", "/xmlrpc.php", "/.env", "/admin")):
                out.append(self._access(ts + i * 3, listed, "GET", url, 404 if i else 200, 512,
                                        office.USER_AGENTS[0], attack="intel"))
        return out, listed

    def _attack_flood(self, ts: float) -> tuple[list[Emission], str]:
        rng = self.rng
        out = []
        for i in range(120):  # spoofed sources, SYN only: ~3,600 half-open connections within 40 s
            src = rng.choice(office.FLOOD_SOURCES_PREFIX) + f"{rng.randint(1, 254)}.{rng.randint(1, 254)}"
            t = ts + i / 3
            packets = rng.randint(25, 35)
            flow = Flow(src, office.PUBLIC, self._port(), 443, TCP, SYN, packets * 60, packets, t, t + 0.3)
            out.append(self._emit(t, flow=flow, attack="flood", attacker=office.PUBLIC))
        return out, office.PUBLIC


def attacks_in(emissions: Iterable[Emission]) -> dict[str, set[str]]:
    """Attack kind -> attackers, as launched in these emissions (for tests and summaries)."""
    out: dict[str, set[str]] = {}
    for e in emissions:
        if e.attack:
            out.setdefault(e.attack, set()).add(e.attacker or "")
    return out
