"""The traffic simulator: deterministic, parsed without a single error by the real parsers and decoder,
every attack kind raises the right alert through the detection engine, and benign traffic raises none."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from netwarden.config import Settings
from netwarden.detect.engine import DetectionEngine
from netwarden.enrich.assets import Assets
from netwarden.records import Alert
from netwarden.simulate import ATTACKS, Simulator, office
from netwarden.simulate.outputs import InProcess, IpfixEncoder, parse_address
from netwarden.simulate.traffic import EXPECTED_ALERT, Flow

START = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


def detect(events) -> list[Alert]:  # type: ignore[no-untyped-def]
    settings = Settings()
    engine = DetectionEngine.from_config({"intel": {"feeds": settings.intel.feeds}},
                                         assets=Assets(settings.network.home))
    for i in range(0, len(events), 500):  # the batches a live stream cuts
        engine.process(events[i:i + 500])
    return engine.alerts


@pytest.fixture(scope="module")
def attacked():  # type: ignore[no-untyped-def]
    """40 minutes of office traffic with every attack kind once, 5 minutes apart."""
    sim = Simulator(seed=11, rate=3, attack_every=300, first_attack=60)
    emissions = list(sim.generate(START, 7 * 300 + 60))
    converter = InProcess()
    events = converter.events(emissions)
    return sim, emissions, converter, events, detect(events)


def test_same_seed_same_traffic() -> None:
    a = [(e.ts, e.line, e.flow) for e in Simulator(seed=5).generate(START, 120)]
    b = [(e.ts, e.line, e.flow) for e in Simulator(seed=5).generate(START, 120)]
    c = [(e.ts, e.line, e.flow) for e in Simulator(seed=6).generate(START, 120)]
    assert a == b and a != c
    assert [e[0] for e in a] == sorted(e[0] for e in a)  # in time order


def test_every_line_and_flow_becomes_an_event(attacked) -> None:  # type: ignore[no-untyped-def]
    _sim, emissions, converter, events, _alerts = attacked
    assert converter.errors == []
    assert len(events) == len(emissions)
    kinds = Counter(str(e.source_kind) for e in events)
    assert set(kinds) == {"netflow", "access_log", "auth", "firewall"}
    web = [e for e in events if e.source_kind == "access_log"]
    assert all(e.http_method and e.http_status and e.src_ip for e in web)
    flows = [e for e in events if e.source_kind == "netflow"]
    assert all(e.observer == office.GATEWAY and e.bytes_out and e.packets_out for e in flows)


@pytest.mark.parametrize("attack", ATTACKS)
def test_each_attack_is_detected(attacked, attack) -> None:  # type: ignore[no-untyped-def]
    sim, _emissions, _converter, _events, alerts = attacked
    launched = [(ts, who) for ts, kind, who in sim.launched if kind == attack]
    assert launched, f"{attack} was not launched"
    expected = EXPECTED_ALERT[attack]
    _ts, who = launched[0]
    matching = [a for a in alerts if a.kind == expected and who in (a.source, a.target)]
    assert matching, f"{attack} from {who}: no {expected} alert; got {[(a.kind, a.source) for a in alerts]}"
    if attack == "sqli":
        assert any(a.subkind == "sqli" for a in matching)
    if attack == "traversal":
        assert any(a.subkind == "traversal" for a in matching)


def test_alerts_only_name_attackers(attacked) -> None:  # type: ignore[no-untyped-def]
    sim, _emissions, _converter, _events, alerts = attacked
    attackers = {who for _ts, _kind, who in sim.launched}
    strays = [(a.kind, a.source, a.target) for a in alerts if not ({a.source, a.target} & attackers)]
    assert not strays, f"alerts about benign hosts: {strays}"


def test_benign_traffic_raises_no_alert() -> None:
    sim = Simulator(seed=2, rate=6, attacks=())
    events = InProcess().events(sim.generate(START, 2400))
    assert len(events) > 25_000
    alerts = detect(events)
    assert alerts == [], [(a.kind, a.subkind, a.source) for a in alerts]


def test_ipfix_messages_decode_exactly() -> None:
    from netwarden.collect.netflow import NetflowDecoder

    flows = [Flow("10.20.0.21", "142.250.185.78", 40000 + i, 443, 6, 0x1B, 1000 * i + 1, i + 1,
                  START.timestamp() + i, START.timestamp() + i + 0.5) for i in range(30)]
    flows.append(Flow("2001:db8::1", "2a00:1450::5", 50000, 53, 17, 0, 70, 1, START.timestamp(), START.timestamp()))
    messages = IpfixEncoder().encode(flows)
    assert len(messages) == 2  # 24 records a message
    decoder = NetflowDecoder()
    events = [e for m in messages for e in decoder.decode(m, "gw")]
    assert [(e.src_ip, e.dst_ip, e.src_port, e.bytes_out, e.packets_out) for e in events] == \
        [(f.src, f.dst, f.sport, f.octets, f.packets) for f in flows]
    assert events[0].tcp_flags == "SYN,ACK,FIN,PSH" and events[0].duration == 0.5
    assert events[0].timestamp == START
    assert not any(decoder.stats["gw"].errors.values())


@pytest.mark.parametrize("text, default, expected", [
    ("127.0.0.1:5514", 514, ("127.0.0.1", 5514)), ("localhost", 2055, ("localhost", 2055)),
    ("[::1]:2055", 1, ("::1", 2055)),
])
def test_addresses(text, default, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_address(text, default) == expected


@pytest.mark.parametrize("text", ["host:port", ":", "h:70000", "[::1]:x"])
def test_bad_addresses(text) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        parse_address(text, 514)


def test_unknown_attack_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown attack"):
        Simulator(attacks=["ddos-the-moon"])


def test_paced_release_follows_the_timestamps() -> None:
    import time

    from netwarden.simulate.outputs import paced

    emissions = list(Simulator(seed=1, rate=5, attacks=()).generate(START, 10))
    started = time.monotonic()
    batches = list(paced(iter(emissions), speed=20, tick=0.02))  # 10 s of traffic in ~0.5 s
    took = time.monotonic() - started
    assert [e for b in batches for e in b] == emissions and len(batches) > 5
    assert 0.3 < took < 5
    calls = []
    stopped = list(paced(iter(emissions), speed=1, tick=0.02, stop=lambda: calls.append(1) or len(calls) > 3))
    assert sum(len(b) for b in stopped) < len(emissions)  # stop() ends it long before the 10 s
