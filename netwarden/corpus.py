"""The trust corpus: ordinary traffic that must stay quiet, and the real attacks inside it that must not.

Each :class:`Part` is one input turned into events, with its ground truth by address:

- ``attackers``: address -> the alert kind that must be raised about it (checked for recall);
- ``hostile``: addresses that attack but too little to demand an alert (a source with two failed SSH
  passwords on an internet-facing server). Alerts about them are not false alarms, and missing them is not
  a miss;
- everyone else is ordinary: any alert about them is a false alarm.

Parts (from ``../shared/datasets`` and the scripted users of :mod:`netwarden.simulate.ordinary`):

- ``csic``: CSIC 2010 normal requests written as access-log lines (the dataset has neither clients nor
  answers: each run of 5-25 requests is one client, a few seconds apart; a login submission is answered
  with the redirect of a successful login, everything else 200);
- ``apache-access``: the real site's access log (web-access-logs), benign;
- ``loghub-openssh`` and ``loghub-linux``: real servers' auth logs. Every remote address with a failed or
  invalid login on these internet-facing servers is hostile; those with ten or more failures must be caught.
  (The loghub Apache log is an error log without client requests, so it is not part of the corpus.)
- ``captures``: the benign captures and the benign hosts of the attack captures (the attacker named in each
  PROVENANCE.md must be caught);
- ``office``: the simulator's office network with its attacks (each launched attacker must be caught);
- ``ordinary``: a scripted ordinary day (shoppers searching for "O'Neill jacket", typos then a login, a
  carrier NAT, a basic-auth admin area, SSH reconnects, a nightly backup) and real-tool-like attacks on
  the same site (hydra on the form, basic auth and SSH; hping3 SYN floods; a firewall's flood rule).

``limit`` bounds the big inputs (the test suite uses a subset; the benchmark everything).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from netwarden.detect.engine import DetectionEngine
from netwarden.parse import ParseContext, ParseError, get_parser
from netwarden.records import Alert, Event, Severity, time_order

BLOCK_THRESHOLD = 0.80  # the respond stage's default: at or above it, a source is blocked

# (capture, attacker, kind): the attackers named in each PROVENANCE.md
CAPTURE_ATTACKS = (
    ("pcaps/chrissanders-packets/synscan.pcapng", "172.16.0.8", "port_scan"),
    ("pcaps/esnet-curated-pcaps/tcp_0_1000_20190821.pcap", "172.31.15.102", "port_scan"),
    ("pcaps/esnet-curated-pcaps/udp_0_1000_20190821.pcap", "172.31.15.102", "port_scan"),
    ("pcaps/esnet-curated-pcaps/nmap_80_all.pcap", "10.87.1.10", "port_scan"),
    ("pcaps/chrissanders-packets/activeosfingerprinting.pcapng", "172.16.16.128", "port_scan"),
    ("pcaps/stratosphere-slips/test7-malicious.pcap", "192.168.2.16", "port_scan"),
    ("pcaps/stratosphere-slips/test8-malicious.pcap", "192.168.1.247", "port_scan"),
    ("pcaps/stratosphere-slips/test12-icmp-portscan.pcap", "192.168.1.109", "port_scan"),
    ("pcaps/stratosphere-slips/malicious-ssh-bruteforce.pcap", "147.32.80.40", "brute_force"),
    ("pcaps/chrissanders-packets/http_dvwa_sqlinjection.pcapng", "10.2.2.101", "web_attack"),
    ("pcaps/chrissanders-packets/http_dvwa_sqlinjection_passwords.pcapng", "10.2.2.101", "web_attack"),
    ("pcaps/chrissanders-packets/http_dvwa_directorytraversal.pcapng", "10.2.2.101", "web_attack"),
    ("zeek-conn-logs/port-scans_vertical_conn.log", "192.168.1.9", "port_scan"),
    ("zeek-conn-logs/port-scans_horizontal_conn.log", "10.0.2.112", "port_scan"),
    ("argus-flows/test11-portscan.binetflow", "10.8.0.69", "port_scan"),
)
BENIGN_CAPTURES = (
    "pcaps/chrissanders-packets/http_espn.pcapng", "pcaps/chrissanders-packets/http_google.pcapng",
    "pcaps/chrissanders-packets/tcp_ports.pcapng", "pcaps/chrissanders-packets/dns_query_response.pcapng",
    "pcaps/chrissanders-packets/http_dvwa_clearlogin.pcapng", "pcaps/esnet-curated-pcaps/whois.pcap",
    "zeek-conn-logs/test9-mixed_conn.log",
)
_LOGIN = re.compile(r"autenticar|login", re.IGNORECASE)


@dataclass
class Part:
    name: str
    events: list[Event]
    attackers: dict[str, str] = field(default_factory=dict)
    hostile: set[str] = field(default_factory=set)

    def ordinary_sources(self) -> set[str]:
        return {e.src_ip for e in self.events if e.src_ip} - set(self.attackers) - self.hostile


@dataclass
class Verdict:
    """What the detectors said about one part."""

    part: Part
    alerts: list[Alert]

    def is_attack(self, alert: Alert) -> bool:
        known = set(self.part.attackers) | self.part.hostile
        return (alert.source in known) if alert.source else (alert.target in known)

    @property
    def false_alarms(self) -> list[Alert]:
        return [a for a in self.alerts if not self.is_attack(a)]

    @property
    def serious_false_alarms(self) -> list[Alert]:
        """False alarms of medium severity or above, or confident enough to block."""
        return [a for a in self.false_alarms
                if a.severity.rank >= Severity.MEDIUM.rank or a.confidence >= BLOCK_THRESHOLD]

    def caught(self, address: str, kind: str) -> bool:
        return any(a.kind == kind and (a.source == address or (a.source is None and a.target == address))
                   for a in self.alerts)

    @property
    def missed(self) -> list[tuple[str, str]]:
        return [(a, k) for a, k in sorted(self.part.attackers.items()) if not self.caught(a, k)]


def detect(part: Part, batch: int = 2000, config: dict | None = None) -> Verdict:
    """Every detector with its default settings over the part's events, in time order, no database."""
    engine = DetectionEngine.from_config(config)
    events = sorted((e for e in part.events if e.timestamp is not None), key=time_order)
    for i in range(0, len(events), batch):
        engine.process(events[i:i + batch])
    return Verdict(part, list(engine.alerts))


# -- reading --------------------------------------------------------------------------------------------


def read_lines(lines: Iterable[str], fmt: str, reference: datetime | None = None) -> list[Event]:
    context = ParseContext(source="corpus", reference_time=reference or datetime.now(timezone.utc))
    parser = get_parser(fmt)(context)
    out = []
    for line in lines:
        try:
            event = parser.parse_line(line.rstrip("\r\n"))
        except ParseError:
            continue
        if event is not None:
            out.append(event)
    return out


def _open(path: Path) -> TextIO:
    return gzip.open(path, "rt", encoding="utf-8", errors="backslashreplace") if path.suffix == ".gz" \
        else open(path, encoding="utf-8", errors="backslashreplace")


def read_path(path: Path, reference: datetime | None = None) -> list[Event]:
    """A capture, or a log whose format is recognised from its first lines."""
    from netwarden.collect.pcap import read_events
    from netwarden.parse import guess_format

    if path.suffix in (".pcap", ".pcapng"):
        return read_events(path)[0]
    with _open(path) as f:
        lines = f.read().splitlines()
    return read_lines(lines, guess_format(lines[:50]).name, reference)


# -- the parts ------------------------------------------------------------------------------------------


def csic(datasets: Path, limit: int | None = None, start: datetime | None = None) -> Part:
    """CSIC 2010 normal requests as combined access-log lines (see the module's notes)."""
    import random

    rng = random.Random(2010)
    t = (start or datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)).timestamp()
    lines: list[str] = []
    client, left = "", 0
    for method, url, agent in _csic_requests(datasets / "csic-2010/normalTrafficTraining.txt.gz", limit):
        if left == 0:
            client = f"{rng.choice((81, 88, 92, 151, 176, 188))}.{rng.randrange(1, 255)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            left = rng.randint(5, 25)
            t += rng.uniform(1, 40)
        left -= 1
        t += rng.uniform(1, 12)
        status = 302 if method == "POST" and _LOGIN.search(url.split("?", 1)[0]) else 200
        when = datetime.fromtimestamp(t, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
        lines.append(f'{client} - - [{when}] "{method} {url} HTTP/1.1" {status} {rng.randint(300, 9000)} "-" "{agent}"')
    return Part("csic", read_lines(lines, "access_log"))


def _csic_requests(path: Path, limit: int | None) -> Iterable[tuple[str, str, str]]:
    """(method, path?query-and-body, user agent) of each request; a POST's body joins its query."""
    count = 0
    block: list[str] = []
    with gzip.open(path, "rt", encoding="latin-1") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith(("GET ", "POST ", "PUT ")) and block:
                yield _csic_request(block)
                count += 1
                if limit is not None and count >= limit:
                    return
                block = []
            block.append(line)
    if block:
        yield _csic_request(block)


def _csic_request(block: list[str]) -> tuple[str, str, str]:
    method, target, *_ = block[0].split(" ") + ["", ""]
    target = re.sub(r"^https?://[^/]+", "", target) or "/"
    agent = next((b.split(":", 1)[1].strip() for b in block if b.lower().startswith("user-agent:")), "-")
    body = next((b for b in reversed(block) if b and ":" not in b and not b.startswith(("GET ", "POST ", "PUT "))), "")
    if method == "POST" and body:
        target += ("&" if "?" in target else "?") + body
    return method, target.replace('"', "%22").replace(" ", "%20"), agent.replace('"', "'")


def apache_access(datasets: Path, limit: int | None = None) -> Part:
    with _open(datasets / "web-access-logs/apache_logs.gz") as f:
        lines = [line for i, line in enumerate(f) if limit is None or i < limit]
    return Part("apache-access", read_lines(lines, "access_log"))


def auth_log(name: str, path: Path, reference: datetime, must_catch: int = 10) -> Part:
    """An internet-facing server's auth log: every remote address that failed a login is hostile; those
    that made ``must_catch`` or more attempts within ten minutes (fail2ban's default, doubled) must be
    caught as brute force. Attempts are counted as the detector documents: one guess writes several lines,
    so per source the largest of its sshd ``Failed``, ``Invalid user`` and PAM failure lines."""
    with _open(path) as f:
        lines = f.read().splitlines()
    events = read_lines(lines, "syslog", reference)
    times: dict[str, dict[str, list[float]]] = {}
    for e in events:
        code = e.extra.get("ssh_event") if e.extra else None
        tally = _TALLY.get(code or "")
        address = e.src_ip or (e.extra.get("rhost") if e.extra else None)
        if tally is None or not address or e.timestamp is None or e.extra.get("count") is not None:
            continue
        times.setdefault(address, {}).setdefault(tally, []).append(e.timestamp.timestamp())
    attackers = {a: "brute_force" for a, tallies in times.items()
                 if max(_most_within(t, 600.0) for t in tallies.values()) >= must_catch}
    return Part(name, events, attackers, set(times) - set(attackers))


_TALLY = {"failed_password": "f", "failed_keyboard_interactive": "f", "pam_auth_failure": "p",
          "invalid_user": "i", "pam_user_unknown": "i"}


def _most_within(times: list[float], span: float) -> int:
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] > span:
            start += 1
        best = max(best, end - start + 1)
    return best


def captures(datasets: Path) -> list[Part]:
    parts = []
    for relative, attacker, kind in CAPTURE_ATTACKS:
        parts.append(Part(relative, read_path(datasets / relative), {attacker: kind}))
    for relative in BENIGN_CAPTURES:
        parts.append(Part(relative, read_path(datasets / relative)))
    return parts


def office(minutes: int = 20, seed: int = 12, name: str = "office") -> Part:
    from netwarden.simulate import Simulator
    from netwarden.simulate.outputs import to_events
    from netwarden.simulate.traffic import EXPECTED_ALERT

    sim = Simulator(seed, rate=10.0, attack_every=120.0)
    start = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    events = to_events(sim.generate(start, minutes * 60))
    attackers = {attacker: EXPECTED_ALERT[kind] for _, kind, attacker in sim.launched}
    return Part(name, events, attackers)


def ordinary(hours: float = 24.0, seed: int = 4) -> Part:
    from netwarden.simulate.ordinary import OrdinaryDay, ToolAttacks
    from netwarden.simulate.outputs import to_events

    start = datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc)
    emissions = OrdinaryDay(seed).day(start, hours)
    tools = ToolAttacks(seed)
    t = start.timestamp() + hours * 3600 * 0.4
    attackers: dict[str, str] = {}
    attacks: Sequence[Callable] = (tools.hydra_form, tools.hydra_basic, tools.hydra_ssh_root)
    for i, make in enumerate(attacks):
        more, attacker = make(t + i * 900)
        emissions += more
        attackers[attacker] = "brute_force"
    for i, (more, attacker) in enumerate((tools.syn_flood(t + 3600, 1), tools.syn_flood(t + 5400, 50),
                                          tools.rate_limit_drops(t + 7200, target="81.2.69.143"))):
        emissions += more
        attackers[attacker] = "dos"
    return Part("ordinary", to_events(sorted(emissions)), attackers)


def parts(datasets: Path, *, csic_limit: int | None = None, full: bool = True, offices: int = 1) -> list[Part]:
    """The whole corpus. ``full=False`` leaves out the largest real log (loghub Linux, 25k lines);
    ``offices`` simulated offices (other seeds: more attacks to measure precision on)."""
    out = [csic(datasets, csic_limit), apache_access(datasets),
           auth_log("loghub-openssh", datasets / "loghub/OpenSSH_2k.log", datetime(2016, 1, 15, tzinfo=timezone.utc))]
    if full:
        out.append(auth_log("loghub-linux", datasets / "loghub/Linux.log.gz", datetime(2006, 3, 31, tzinfo=timezone.utc)))
    out += captures(datasets)
    out += [office(seed=12 + i, name="office" if i == 0 else f"office-{i + 1}") for i in range(offices)]
    out.append(ordinary())
    return out

