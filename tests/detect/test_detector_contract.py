"""The detector contract, checked for EVERY registered detector (parametrised over ``DETECTORS``).

A detector added later is covered without touching this file. Each detector's own tests prove that it
catches its attacks and stays silent on ordinary traffic; this one proves what all of them promise:

1. hostile values (absurd sizes, NUL and invalid text, negative and huge counters, missing and naive
   timestamps, time jumps, nonsense addresses) never raise, and ``state()`` stays JSON;
2. empty input gives no finding;
3. bounded state: with its ``max_*`` limits set low, a flood of spoofed sources twice as long does not
   make the saved state grow with it, and ``prune`` far in the future forgets it;
4. deterministic: two fresh instances given the same events report the same findings;
5. explained alerts: every finding on a simulated office day with attacks (and the parsers' golden
   files) has a severity, a recommendation, factors that say why, and evidence; through the engine its
   alert gets a confidence in (0, 1].
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest

from netwarden.detect.base import DETECTORS, Detector
from netwarden.detect.engine import DetectionEngine
from netwarden.parse import ParseContext, ParseError, get_parser
from netwarden.records import Event, Finding, Severity
from netwarden.simulate import Simulator
from netwarden.simulate.outputs import to_events

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=timezone.utc)
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
NAMES = sorted(DETECTORS.all())
HOST = "10.0.0.5"
MB = 1 << 20

# gathered from the copies that each detector's test file used to carry; each group is one copy's input
HOSTILE = {
    "flows": [  # missing and impossible ports, garbage flags and states, huge text
    Event(timestamp=T0, source_kind="pcap", src_ip="10.0.0.1", dst_ip="10.0.0.2", dst_port=None, transport="tcp",
          extra={"flags_out": None}),
    Event(timestamp=T0, source_kind="zeek", src_ip="10.0.0.1", dst_ip="10.0.0.2", dst_port=70000, transport="tcp",
          extra={"conn_state": 5, "history": "\x00\xff" * 1000}),
    Event(timestamp=None, source_kind="firewall", src_ip="10.0.0.1", dst_ip="10.0.0.2", transport="tcp"),
    Event(timestamp=T0, source_kind="argus", src_ip="x" * 10_000, dst_ip="::", transport="icmp",
          extra={"state": "ECO"}),
    Event(timestamp=T0, source_kind="firewall", src_ip="10.0.0.1", dst_ip="10.0.0.3", transport="tcp",
          tcp_flags="FIN,PSH,URG" * 100, message="PROTO=TCP URGP=0"),
    Event(timestamp=T0, source_kind="access_log", src_ip="10.0.0.1", url="/" + "A" * 100_000)],
    "floods": [  # negative and huge counters, far-future and naive times, missing addresses
    Event(timestamp=T0, source_kind="pcap", src_ip="203.0.113.1", dst_ip="192.0.2.1", transport="tcp",
          packets_out=-5, extra={"flags_out": "SYN"}),
    Event(timestamp=datetime(2199, 12, 31), source_kind="access_log", src_ip="::1", http_method="GET",
          url="/" + "\xff" * 100_000, user_agent="\x00" * 5000),
    Event(timestamp=datetime(1971, 1, 1, tzinfo=timezone.utc), source_kind="netflow", dst_ip="192.0.2.1",
          transport="udp", packets_out=10**12),
    Event(timestamp=T0, source_kind="zeek", dst_ip=None, transport="tcp", extra={"conn_state": "S0"}),
    Event(timestamp=None, source_kind="pcap", transport="icmp"),
    Event(timestamp=T0, source_kind="firewall", src_ip="203.0.113.2", dst_ip="192.0.2.1", transport="tcp",
          tcp_flags="SYN", dst_port=22)],
    "logins": [  # absurd user names and repeat counts, no source
    Event(timestamp=T0, source_kind="auth", src_ip="203.0.113.1", user="x" * 100_000,
          extra={"ssh_event": "failed_password", "repeat_count": "many"}),
    Event(timestamp=T0, source_kind="auth", src_ip=None, extra={"ssh_event": "accepted_password"}),
    Event(timestamp=T0, source_kind="auth", src_ip="203.0.113.1", outcome="success",
          extra={"ssh_event": "accepted_password", "repeat_count": -5}),
    Event(timestamp=None, source_kind="auth", extra={"ssh_event": "failed_password"}),
    Event(timestamp=T0, source_kind="access_log", src_ip="203.0.113.2", http_method="POST",
          url="/login" + "\x00\xff" * 50_000, http_status=401, user_agent="\x00" * 10_000),
    Event(timestamp=T0, source_kind="pcap", src_ip="203.0.113.3", dst_port=22, transport="tcp",
          bytes_out=-1, bytes_in=None, duration=float("nan"), extra={"ssh_client": "\xff" * 9000}),
    Event(timestamp=datetime(2199, 1, 1), source_kind="access_log", src_ip="::1", http_status=401)],
    "transfers": [  # 1 PB, a non-address, junk DNS query lists
    Event(timestamp=None, source_kind="x", src_ip=HOST, dst_ip="203.0.113.9", bytes_out=10**15),
    Event(timestamp=T0, source_kind="x", src_ip=HOST, dst_ip="not an ip", bytes_out=10**12),
    Event(timestamp=T0, source_kind="x", src_ip=HOST, dst_ip="203.0.113.9", bytes_out=-5),
    Event(timestamp=T0, source_kind="x", src_ip=HOST, app_protocol="dns",
          extra={"dns_query": "\x00\xff" * 5000 + ".a.b", "dns_qtype": 16}),
    Event(timestamp=T0, source_kind="x", src_ip=HOST, app_protocol="dns",
          extra={"dns_queries": [[None], "x", ["..." * 50, "TXT"], []], "dns_query": 42}),
    Event(timestamp=T0.replace(tzinfo=None), source_kind="x", src_ip=HOST, dst_ip="203.0.113.9",
          bytes_out=2000 * MB)],
    "addresses": [  # addresses no parser would produce
    Event(timestamp=T0, source_kind="x", src_ip="\x00\xff" * 500, dst_ip="::::"),
    Event(timestamp=T0, source_kind="x", src_ip="fe80::1%eth0", dst_ip="1.10.16.1", bytes_in=-5)],
}
# parsers give aware times only; a naive one is hostile input within its own group, not mixed with aware
# ones (several detectors compare the two and raise TypeError: noted in docs/architecture.md)
AWARE = [e for group in HOSTILE.values() for e in group if e.timestamp is None or e.timestamp.tzinfo]


def _low_limits(cls: type[Detector], limit: int) -> dict[str, int]:
    """Every capacity setting (``max_*`` with a large default) set to ``limit``."""
    return {key: limit for key, field in cls.Settings.model_fields.items()
            if key.startswith("max_") and type(field.default) is int and field.default >= 100}


def _flood(count: int, start: int = 0) -> list[Event]:
    """Spoofed sources, every one new, across the shapes detectors keep state for."""
    out = []
    for i in range(start, start + count):
        src, when = f"198.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", T0 + timedelta(seconds=i / 50)
        shape = i % 5
        if shape == 0:
            out.append(Event(timestamp=when, source_kind="auth", src_ip=src, dst_ip=HOST, user=f"u{i}",
                             outcome="failure", extra={"ssh_event": "failed_password"}))
        elif shape == 1:
            out.append(Event(timestamp=when, source_kind="access_log", src_ip=src, dst_ip="10.0.0.6",
                             http_method="POST", url=f"/login?{i}", http_status=401, observer="www"))
        elif shape == 2:
            out.append(Event(timestamp=when, source_kind="firewall", src_ip=src, dst_ip=f"10.0.{i % 7}.{i % 200}",
                             dst_port=1 + i % 60000, transport="tcp", tcp_flags="SYN", action="blocked"))
        elif shape == 3:
            out.append(Event(timestamp=when, source_kind="zeek", src_ip=f"10.0.0.{i % 250}", dst_ip=src,
                             dst_port=53, transport="udp", app_protocol="dns",
                             extra={"dns_query": f"x{i}.t{i % 97}.example.org"}))
        else:
            out.append(Event(timestamp=when, source_kind="netflow", src_ip=f"10.0.1.{i % 250}", dst_ip=src,
                             dst_port=443, transport="tcp", bytes_out=10 * MB, bytes_in=1000))
    return out


def _feed(detector: Detector, events: list[Event], batch: int = 500) -> list[Finding]:
    found: list[Finding] = []
    for i in range(0, len(events), batch):
        found += detector.process(events[i:i + batch])
    return found


@cache
def _attacks() -> tuple[Event, ...]:
    """A simulated office with every simulated attack, then every parser's golden file (IDS alerts ...)."""
    sim = Simulator(seed=3, rate=2.0, attack_every=20, first_attack=5)
    events = to_events(sim.generate(datetime(2026, 3, 2, 9, tzinfo=timezone.utc), 160))
    for path in sorted(GOLDEN.glob("*.log")):
        parser = get_parser(path.name.split(".")[0])(ParseContext(source=path.name, reference_time=T0))
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                event = parser.parse_line(line)
            except ParseError:
                continue
            if event is not None:
                events.append(event)
    return tuple(events)


def _signature(f: Finding) -> tuple:
    return (f.kind, f.subkind, f.source, f.target, f.count, f.signature, f.severity, f.first_seen, f.last_seen, f.recommendation,
            [(x.name, x.weight, x.detail) for x in f.factors], json.dumps(f.evidence, sort_keys=True, default=str))


@pytest.mark.parametrize("group", [*HOSTILE, "all aware"])
@pytest.mark.parametrize("name", NAMES)
def test_hostile_values_never_raise(name: str, group: str) -> None:
    events = HOSTILE.get(group, AWARE)
    detector = DETECTORS.get(name)()
    for _ in range(30):
        detector.process(events)
    json.dumps(detector.state())
    if events is AWARE:  # the engine prunes with event time, which parsers give aware
        detector.prune(T0 + timedelta(days=3650))
        json.dumps(detector.state())


@pytest.mark.parametrize("name", NAMES)
def test_empty_input_finds_nothing(name: str) -> None:
    detector = DETECTORS.get(name)()
    assert detector.process([]) == []
    assert detector.process(()) == []


@pytest.mark.parametrize("name", NAMES)
def test_state_is_bounded_and_pruned(name: str) -> None:
    cls = DETECTORS.get(name)
    detector = cls(_low_limits(cls, 16))
    fresh = len(json.dumps(detector.state()))
    _feed(detector, _flood(6000))
    once = len(json.dumps(detector.state()))
    _feed(detector, _flood(6000, 6000))
    twice = len(json.dumps(detector.state()))
    # twice the sources must not mean (nearly) twice the state: unbounded state would grow ~2x
    assert twice <= 1.4 * once + 8192, (fresh, once, twice)
    detector.prune(T0 + timedelta(days=400))
    assert len(json.dumps(detector.state())) <= max(fresh, 4096), "prune forgets idle state"


@pytest.mark.parametrize("name", NAMES)
def test_same_events_same_findings(name: str) -> None:
    events = list(_attacks())
    first, second = DETECTORS.get(name)(), DETECTORS.get(name)()
    assert [_signature(f) for f in _feed(first, events)] == [_signature(f) for f in _feed(second, events)]
    assert json.dumps(first.state(), sort_keys=True, default=str) == \
        json.dumps(second.state(), sort_keys=True, default=str)


@pytest.mark.parametrize("name", NAMES)
def test_alerts_are_explained(name: str) -> None:
    detector = DETECTORS.get(name)()
    engine = DetectionEngine([detector])
    findings = []
    original = detector.process

    def keep(events):  # type: ignore[no-untyped-def]
        out = original(events)
        findings.extend(out)
        return out

    detector.process = keep  # type: ignore[method-assign]
    for i in range(0, len(_attacks()), 500):
        engine.process(list(_attacks()[i:i + 500]))
    if not findings:
        pytest.skip(f"{name}: silent on the simulated attacks with its default settings (it needs rules, feeds "
                    "or models); its own tests prove its alerts")
    for f in findings:
        assert isinstance(f.severity, Severity) and f.detector == name and f.kind
        assert f.recommendation.strip(), f"{name}: a finding without a recommendation"
        assert f.factors and all(x.name and x.detail for x in f.factors), f"{name}: a finding that says not why"
        assert f.evidence, f"{name}: a finding without evidence"
        assert f.first_seen <= f.last_seen
    assert engine.alerts
    for alert in engine.alerts:
        assert 0 < alert.confidence <= 1 and alert.recommendation and alert.evidence


@pytest.mark.parametrize("name", NAMES)
def test_stage_is_a_known_one(name: str) -> None:
    assert DETECTORS.get(name).stage in (None, 1, 2, 3)


def test_a_new_detector_names_its_own_stage() -> None:
    """A detector module says how far its attack has gone; the incident escalation reads it by kind."""
    from netwarden.detect.engine import incident_severity

    class Telnet(Detector):
        name, description, stage = "telnet_contract_example", "telnet from outside", 2

        def process(self, events):  # type: ignore[no-untyped-def]
            return []

    before = incident_severity(["port_scan/vertical", f"{Telnet.name}/login"], Severity.MEDIUM, Severity.LOW)
    DETECTORS.register(Telnet)
    try:
        after = incident_severity(["port_scan/vertical", f"{Telnet.name}/login"], Severity.MEDIUM, Severity.LOW)
    finally:
        del DETECTORS.entries[Telnet.name]
    assert (before, after) == (Severity.MEDIUM, Severity.HIGH)
