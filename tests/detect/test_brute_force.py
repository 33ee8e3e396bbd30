"""Brute force detector: real SSH brute force (loghub, examples, a capture of nmap ssh-brute), HTTP login
floods, a success after failures; people who mistype, monitoring that logs in, benign web traffic."""

from __future__ import annotations

import gzip
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.collect.pcap import read_events
from netwarden.detect.brute_force import BruteForce
from netwarden.detect.engine import DetectionEngine
from netwarden.parse import get_parser
from netwarden.parse.base import ParseContext, ParseError
from netwarden.parse.syslog import Syslog
from netwarden.records import Event, Severity

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _syslog(path: Path, reference: datetime) -> list[Event]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    parser = Syslog(ParseContext(source="test", reference_time=reference))
    events = []
    for line in lines:
        try:
            event = parser.parse_line(line)
        except ParseError:
            continue
        if event is not None:
            events.append(event)
    return events


def _run(events: list[Event], batch: int = 500, **settings) -> DetectionEngine:  # type: ignore[no-untyped-def]
    engine = DetectionEngine([BruteForce(settings or None)])
    for i in range(0, len(events), batch):
        engine.process(events[i:i + batch])
    return engine


def _line(second: float, text: str, host: str = "srv") -> Event:
    when = T0 + timedelta(seconds=second)
    parser = Syslog(ParseContext(source="t", reference_time=T0 + timedelta(days=1)))
    event = parser.parse_line(f"{when:%b %d %H:%M:%S} {host} sshd[{1000 + int(second)}]: {text}")
    assert event is not None
    return event


def _http(second: float, src: str, method: str, url: str, status: int, user: str | None = None) -> Event:
    return Event(timestamp=T0 + timedelta(seconds=second), source_kind="access_log", src_ip=src, http_method=method,
                 url=url, http_status=status, user=user, user_agent="python-requests/2.31", observer="www")


# -- real SSH brute force ---------------------------------------------------------------------------


def test_openssh_loghub_flags_the_real_guessers_and_not_the_login(datasets) -> None:  # type: ignore[no-untyped-def]
    events = _syslog(datasets / "loghub/OpenSSH_2k.log", datetime(2016, 1, 15, tzinfo=timezone.utc))
    engine = _run(events)
    alerts = {a.source: a for a in engine.alerts}
    # the sources with many guesses (counted from the "Failed password" lines: 286, 80, 46, 26, 18, 17) ...
    for source in ("183.62.140.253", "187.141.143.180", "103.99.0.122", "112.95.230.3", "5.188.10.180",
                   "185.190.58.151"):
        assert alerts[source].subkind == "ssh" and alerts[source].severity == Severity.HIGH, source
    # ... and those guessing root/admin passwords a few times (6-7 guesses, MaxAuthTries reached)
    assert {"123.235.32.19", "5.36.59.76", "106.5.5.195", "119.4.203.64"} <= set(alerts)
    assert len(alerts) == 10
    # the one accepted login (fztu from 119.137.62.142) had no failures before it: nothing
    assert "119.137.62.142" not in alerts
    assert not any(a.subkind == "success_after_failures" for a in engine.alerts)
    top = alerts["183.62.140.253"]
    assert top.count == 286  # attempts, not log lines (each guess writes 2-4 lines)
    assert "root" in top.evidence["users_tried"] and top.evidence["targets"] == ["LabSZ"]
    assert top.confidence > 0.95 and "Block 183.62.140.253" in top.recommendation
    assert top.signature == "ssh:failures"
    # no second alert keyed by the DNS names PAM writes for the same clients
    assert not any(any(c.isalpha() for c in (a.source or "")) for a in engine.alerts)


def test_old_pam_only_logs_are_counted(datasets) -> None:  # type: ignore[no-untyped-def]
    events = _syslog(datasets / "loghub/Linux_2k.log", datetime(2006, 3, 31, tzinfo=timezone.utc))
    engine = _run(events)
    sources = {a.source: a for a in engine.alerts}
    assert {"150.183.249.110", "207.243.167.114", "n219076184117.netvigator.com"} <= set(sources)
    assert sources["150.183.249.110"].count == 80
    # every flagged source made at least 6 attempts within the hour, or 5 faster than anyone types;
    # nothing but brute_force/ssh
    assert all(a.kind == "brute_force" and a.subkind == "ssh" for a in engine.alerts)
    assert all(a.evidence["attempts"] >= 6 or any(f.name == "machine_rate" for f in a.factors)
               for a in engine.alerts)
    # the 36 "session opened for user test" lines (local logins without an address) alert nothing
    assert 25 <= len(sources) <= 40


def test_full_linux_log(datasets) -> None:  # type: ignore[no-untyped-def]
    events = _syslog(datasets / "loghub/Linux.log.gz", datetime(2006, 3, 31, tzinfo=timezone.utc))
    detector = BruteForce()  # its cost per event: benchmarks/bench_detect.py
    findings = [f for i in range(0, len(events), 2000) for f in detector.process(events[i:i + 2000])]
    assert len({f.source for f in findings}) > 150


def test_example_auth_log_attack_and_the_admin_login(datasets) -> None:  # type: ignore[no-untyped-def]
    events = _syslog(EXAMPLES / "auth.log", datetime(2026, 12, 31, tzinfo=timezone.utc))
    engine = _run(events)
    [alert] = engine.alerts
    assert alert.source == "45.155.205.99" and alert.count == 40 and alert.severity == Severity.HIGH
    assert set(alert.evidence["invalid_users"]) == {"admin", "oracle", "test", "ubuntu"}
    names = {f.name for f in alert.factors}
    assert {"failures", "distinct_users", "invalid_users", "rate"} <= names
    # maria's publickey login from the office is not part of it
    assert all(a.source != "192.168.10.15" for a in engine.alerts)


def test_nmap_ssh_brute_capture_is_found_from_flows(datasets) -> None:  # type: ignore[no-untyped-def]
    events, _ = read_events(datasets / "pcaps/stratosphere-slips/malicious-ssh-bruteforce.pcap")
    engine = _run(events)
    [alert] = engine.alerts
    assert (alert.subkind, alert.source, alert.target) == ("ssh_flow", "147.32.80.40", "147.32.80.37:902")
    assert alert.count >= 60 and alert.severity == Severity.HIGH  # 66 of 67 connections (one is nmap's probe)
    assert alert.evidence["ssh_clients"] == ["SSH-2.0-libssh2_1.11.0"]


@pytest.mark.parametrize("name", ["chrissanders-packets/http_espn.pcapng", "chrissanders-packets/http_google.pcapng",
                                  "chrissanders-packets/tcp_ports.pcapng", "esnet-curated-pcaps/whois.pcap",
                                  "chrissanders-packets/dns_query_response.pcapng",
                                  "stratosphere-slips/test7-malicious.pcap", "chrissanders-packets/synscan.pcapng"])
def test_benign_and_scan_captures_are_quiet(datasets, name) -> None:  # type: ignore[no-untyped-def]
    events, _ = read_events(datasets / "pcaps" / name)
    assert _run(events).alerts == []


def test_benign_access_log_and_csic_normal_traffic_are_quiet(datasets) -> None:  # type: ignore[no-untyped-def]
    parser = get_parser("access_log")(ParseContext(source="t"))
    events = []
    with gzip.open(datasets / "web-access-logs/apache_logs.gz", "rt", errors="replace") as f:
        for line in f:
            try:
                event = parser.parse_line(line.rstrip("\n"))
            except ParseError:
                continue
            if event is not None:
                events.append(event)
    assert len(events) > 9000
    assert _run(events, batch=5000).alerts == []
    # CSIC 2010 normal traffic: many POSTs (to the shop's forms), all from one test client at one "time";
    # the shop has a login form (/tienda1/publico/autenticar.jsp) that the normal traffic submits too
    csic = _csic_normal(datasets, limit=3000)
    posts_to_login = sum(1 for e in csic if e.http_method == "POST" and "autenticar" in (e.url or ""))
    assert posts_to_login > 50
    # spread the requests over a day of distinct clients, as the dataset is (its addresses are not real)
    for i, e in enumerate(csic):
        e.src_ip = f"198.51.100.{i % 200}"
        e.timestamp = T0 + timedelta(seconds=i * 30)
    assert _run(csic).alerts == []


def _csic_normal(datasets, limit: int) -> list[Event]:  # type: ignore[no-untyped-def]
    events: list[Event] = []
    with gzip.open(datasets / "csic-2010/normalTrafficTraining.txt.gz", "rt", errors="replace") as f:
        block: list[str] = []
        for line in f:
            if line.startswith(("GET ", "POST ", "PUT ")) and block:
                events.append(_csic_event(block))
                block = []
                if len(events) >= limit:
                    break
            block.append(line.rstrip("\r\n"))
        if block and len(events) < limit:
            events.append(_csic_event(block))
    return events


def _csic_event(block: list[str]) -> Event:
    method, url, *_ = block[0].split(" ") + ["", ""]
    agent = next((b.split(":", 1)[1].strip() for b in block if b.lower().startswith("user-agent:")), None)
    body = block[-1] if method == "POST" and block[-1] and ":" not in block[-1] else ""
    return Event(timestamp=T0, source_kind="http", src_ip="192.0.2.1", http_method=method,
                 url=url + ("?" + body if body else ""), http_status=200, user_agent=agent)


# -- people, not attacks ----------------------------------------------------------------------------


def test_a_person_mistyping_and_monitoring_logins_do_not_alert() -> None:
    events = []
    for i in range(3):  # mistyped three times, then in
        events.append(_line(i * 5, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                                   "ruser= rhost=203.0.113.20  user=alice"))
        events.append(_line(i * 5 + 1, "Failed password for alice from 203.0.113.20 port 5000 ssh2"))
    events.append(_line(20, "Accepted password for alice from 203.0.113.20 port 5001 ssh2"))
    for minute in range(120):  # the monitoring system, every minute, with its key
        events.append(_line(60 * minute + 30, "Accepted publickey for nagios from 10.0.0.5 port 40000 ssh2: "
                                               "ED25519 SHA256:abc"))
    # a user whose agent offers too many keys (Failed publickey is not a guess)
    for i in range(12):
        events.append(_line(3600 + i, "Failed publickey for bob from 10.0.0.9 port 6000 ssh2: RSA SHA256:x"))
    events.sort(key=lambda e: e.timestamp)
    assert _run(events).alerts == []


def test_success_after_failures_is_critical() -> None:
    events = []
    for i, user in enumerate(["root", "admin", "deploy", "root", "admin", "deploy", "root", "git", "deploy", "root",
                              "deploy", "deploy"]):
        events.append(_line(i * 2, f"Failed password for {user} from 198.51.100.77 port {4000 + i} ssh2"))
    events.append(_line(40, "Accepted password for deploy from 198.51.100.77 port 4100 ssh2"))
    engine = _run(events, batch=5)
    kinds = {a.subkind: a for a in engine.alerts}
    assert set(kinds) == {"ssh", "success_after_failures"}
    breach = kinds["success_after_failures"]
    assert breach.severity == Severity.CRITICAL and breach.source == "198.51.100.77"
    assert breach.evidence["user"] == "deploy" and breach.evidence["failures"] == 12
    assert "compromised" in breach.recommendation and "deploy" in breach.recommendation
    assert any(f.name == "user_guessed" for f in breach.factors)


def test_message_repeated_counts_and_pam_summaries_do_not_double() -> None:
    events = [
        _line(0, "Failed password for root from 203.0.113.9 port 1 ssh2"),
        _line(10, "message repeated 5 times: [ Failed password for root from 203.0.113.9 port 1 ssh2]"),
        _line(10, "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  "
                  "user=root"),
    ]
    [finding] = BruteForce().process(events)
    assert finding.count == 6 and finding.evidence["attempts"] == 6


# -- HTTP logins ------------------------------------------------------------------------------------


def test_http_login_brute_force_then_success() -> None:
    events = [_http(i * 0.5, "203.0.113.66", "POST", "/wp-login.php", 200, None) for i in range(60)]
    events.append(_http(31, "203.0.113.66", "POST", "/wp-login.php", 302))
    # ordinary visitors: a reader logging in once, a 401 on a protected page then credentials
    events += [_http(5, "198.51.100.3", "GET", "/wp-login.php", 200), _http(8, "198.51.100.3", "POST",
                                                                             "/wp-login.php", 302)]
    events += [_http(9, "198.51.100.4", "GET", "/private/", 401), _http(12, "198.51.100.4", "GET", "/private/", 200)]
    events.sort(key=lambda e: e.timestamp)
    engine = _run(events, batch=10)
    by = {(a.subkind, a.source): a for a in engine.alerts}
    assert set(by) == {("http_login", "203.0.113.66"), ("success_after_failures", "203.0.113.66")}
    login = by[("http_login", "203.0.113.66")]
    assert login.count == 60 and login.signature == "http:/wp-login.php"
    assert by[("success_after_failures", "203.0.113.66")].severity == Severity.CRITICAL


def test_http_basic_auth_guessing_with_user_names() -> None:
    users = [f"user{i}" for i in range(30)]
    events = [_http(i, "203.0.113.70", "GET", "/admin/", 401, users[i]) for i in range(30)]
    [alert] = _run(events).alerts
    assert alert.subkind == "http_login" and alert.evidence["distinct_users"] == 30
    assert any(f.name == "credential_stuffing" for f in alert.factors)
    assert alert.severity == Severity.HIGH


def test_a_few_403_on_pages_are_not_logins() -> None:
    events = [_http(i, "203.0.113.71", "GET", f"/files/{i}.txt", 403) for i in range(100)]
    assert _run(events).alerts == []


# -- state, memory, hostile input -------------------------------------------------------------------


def test_state_survives_a_restart() -> None:
    first = BruteForce()
    events = [_line(i * 4, f"Failed password for root from 203.0.113.5 port {i} ssh2") for i in range(12)]
    assert first.process(events[:5]) == []
    saved = json.loads(json.dumps(first.state()))
    second = BruteForce()
    second.restore(saved)
    findings = second.process(events[5:])
    assert len(findings) == 1 and findings[0].evidence["attempts"] == 12
    # garbage state is ignored, not fatal
    BruteForce().restore({"ssh": [["x", "not a date", {}], [1, 2]], "http": "junk"})


def test_spoofed_sources_keep_memory_bounded() -> None:
    detector = BruteForce({"max_sources": 1000})
    rng = random.Random(1)
    events = [_http(i * 0.001, f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}", "POST",
                    "/login", 401) for i in range(20_000)]
    detector.process(events)
    assert len(detector.http) <= 1000
    # distinct addresses, each once: every source let go is counted, when the table was full, then when idle
    detector = BruteForce({"max_sources": 1000})
    distinct = 20_000
    detector.process([_http(i * 0.001, f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "POST", "/login", 401)
                      for i in range(distinct)])
    assert detector.state_counts() == {"sources": 1000, "evicted": distinct - 1000, "expired": 0}
    detector.prune(T0 + timedelta(days=1))
    assert len(detector.http) == 0
    assert detector.state_counts() == {"sources": 0, "evicted": distinct - 1000, "expired": 1000}


# -- ordinary behaviour modelled (issue 12): what a log proves, not what it might mean ---------------


def _sim(emissions) -> list[Event]:  # type: ignore[no-untyped-def]
    from netwarden.simulate.outputs import to_events

    return to_events(emissions)


def test_login_page_views_redirects_and_typos_then_success_are_not_failures() -> None:
    from netwarden.simulate.ordinary import OrdinaryDay

    day = OrdinaryDay(5)
    t0 = T0.timestamp()
    emissions = []
    for i in range(120):  # a carrier NAT: a login every 30 s for an hour, a third of them mistyped twice first
        emissions += day.login(t0 + i * 30, "81.145.30.18", typos=2 if i % 3 == 0 else 0)
    events = _sim(sorted(emissions))
    assert sum(1 for e in events if e.http_method == "POST" and e.http_status == 200) == 80
    assert _run(events, batch=200).alerts == []


def test_basic_auth_challenges_and_a_few_wrong_passwords_are_never_critical() -> None:
    from netwarden.simulate.ordinary import OrdinaryDay

    day = OrdinaryDay(5)
    t0 = T0.timestamp()
    emissions = []
    for i in range(8):  # the admin opens the area eight times in an hour, half of them with a wrong password first
        emissions += day.admin_area(t0 + i * 450, "10.20.0.21", wrong_password=i % 2 == 0)
    events = _sim(sorted(emissions))
    assert sum(1 for e in events if e.http_status == 401) == 8 * 6 + 4
    assert _run(events, batch=50).alerts == []
    # a browser with a stale saved password: 12 refusals with the user name, then the right one
    refused = [_http(i * 3, "10.20.0.22", "GET", "/admin/", 401, "shopadmin") for i in range(12)]
    engine = _run(refused + [_http(40, "10.20.0.22", "GET", "/admin/", 200, "shopadmin")])
    assert all(a.severity != Severity.CRITICAL for a in engine.alerts)


def test_hydra_against_the_form_and_basic_auth_is_caught() -> None:
    from netwarden.simulate.ordinary import ToolAttacks

    tools = ToolAttacks(5)
    form, form_src = tools.hydra_form(T0.timestamp())
    basic, basic_src = tools.hydra_basic(T0.timestamp() + 60)
    engine = _run(_sim(sorted(form + basic)), batch=100)
    by = {(a.source, a.subkind): a for a in engine.alerts}
    assert (form_src, "http_login") in by and (basic_src, "http_login") in by
    assert by[(form_src, "success_after_failures")].severity == Severity.CRITICAL
    assert by[(basic_src, "http_login")].severity == Severity.HIGH  # many user names


def test_hydra_form_against_a_site_that_redirects_wrong_passwords_is_caught() -> None:
    # some applications answer a wrong password with 302 back to the form: the log cannot tell, so it
    # takes more submissions, but a tool's hundreds still show
    events = [_http(i * 0.1, "203.0.113.80", "POST", "/login", 302) for i in range(400)]
    [alert] = _run(events, batch=100).alerts
    assert alert.subkind == "http_login" and alert.source == "203.0.113.80"


def test_ssh_typos_from_people_behind_one_address_are_not_a_breach() -> None:
    events = []
    # two admins behind the office NAT, each mistyping at a person's pace within the hour, then in
    for start, user, typos in ((0, "alice", 3), (600, "bob", 2), (1500, "alice", 2)):
        for i in range(typos):
            events.append(_line(start + i * 7, f"Failed password for {user} from 81.2.69.142 port {5000 + i} ssh2"))
        events.append(_line(start + typos * 7 + 5, f"Accepted password for {user} from 81.2.69.142 port 5100 ssh2"))
    assert _run(events, batch=3).alerts == []


def test_a_few_root_failures_at_machine_pace_then_accepted_is_critical() -> None:
    from netwarden.simulate.ordinary import ToolAttacks

    emissions, src = ToolAttacks(5).hydra_ssh_root(T0.timestamp())
    engine = _run(_sim(emissions), batch=2)
    [breach] = [a for a in engine.alerts if a.subkind == "success_after_failures"]
    assert breach.source == src and breach.severity == Severity.CRITICAL
    assert any(f.name == "machine_rate" for f in breach.factors)
    # the same six failures at a person's pace (10 s apart) are typos
    slow = [_line(i * 10, "Failed password for root from 198.51.100.9 port 4000 ssh2") for i in range(6)]
    slow.append(_line(70, "Accepted password for root from 198.51.100.9 port 4001 ssh2"))
    assert not any(a.subkind == "success_after_failures" for a in _run(slow, batch=2).alerts)


def test_many_short_ssh_connections_that_log_in_are_not_guessing() -> None:
    # an Ansible run without ControlPersist: 60 short, small SSH connections in five minutes, each logging in
    def conn(i: int) -> Event:
        return Event(timestamp=T0 + timedelta(seconds=i * 5), source_kind="pcap", src_ip="10.0.0.40",
                     src_port=40000 + i, dst_ip="10.0.0.10", dst_port=22, transport="tcp", app_protocol="ssh",
                     bytes_out=4200, bytes_in=5100, packets_out=25, packets_in=22, duration=3.0,
                     extra={"ssh_client": "SSH-2.0-OpenSSH_9.6p1"})

    flows = [conn(i) for i in range(60)]
    logins = [_line(i * 5 + 1, f"Accepted publickey for deploy from 10.0.0.40 port {40000 + i} ssh2: ED25519 SHA256:x")
              for i in range(60)]
    assert _run(sorted(flows + logins, key=lambda e: e.timestamp), batch=20).alerts == []
    # the same connections without a single login are a tool guessing
    [alert] = _run(flows, batch=20).alerts
    assert alert.subkind == "ssh_flow"


def test_a_tool_on_one_account_at_machine_pace_needs_only_five_failures() -> None:
    fast = [_line(i * 0.5, f"Failed password for alice from 198.51.100.30 port {4000 + i} ssh2") for i in range(6)]
    [alert] = _run(fast, batch=2).alerts
    assert alert.subkind == "ssh" and any(f.name == "machine_rate" for f in alert.factors)
    # six typos of one's own password, a few seconds apart each, are not
    person = [_line(i * 6, f"Failed password for alice from 198.51.100.31 port {4000 + i} ssh2") for i in range(6)]
    assert _run(person, batch=2).alerts == []
