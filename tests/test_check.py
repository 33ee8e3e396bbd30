"""Check an event: verdicts with reasons from the detectors, intel, the connection itself and models;
clear errors for bad input; nothing written anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.check import (
    CheckError,
    Reason,
    check_event,
    event_from_connection,
    event_from_line,
    registry_scorer,
)
from netwarden.config import Settings
from netwarden.records import Event

SETTINGS = Settings()
SQLI = ('203.0.113.9 - - [21/Nov/2026:10:00:00 +0000] "GET /products?id=1%27%20UNION%20SELECT%20password'
        '%20FROM%20users-- HTTP/1.1" 200 5 "-" "Mozilla/5.0"')


def test_sql_injection_line_is_malicious() -> None:
    event, fmt = event_from_line(SQLI)
    verdict = check_event(event, SETTINGS, fmt=fmt)
    assert fmt == "access_log"
    assert verdict.verdict == "malicious" and verdict.severity == "high"
    first = verdict.reasons[0]
    assert first.source == "detector:web_attack" and first.data["subkind"] == "sqli"
    assert "UNION SELECT" in first.detail.upper()
    assert verdict.event["url"].startswith("/products")


def test_ordinary_request_has_no_known_threat() -> None:
    event, _ = event_from_line('192.0.2.1 - - [21/Nov/2026:10:00:00 +0000] "GET /about HTTP/1.1" 200 512 "-" "Mozilla/5.0"')
    verdict = check_event(event, SETTINGS)
    assert verdict.verdict == "no known threat" and verdict.reasons == [] and verdict.score == 0
    assert "no machine-learning model is active" in verdict.notes


def test_syslog_line_from_a_listed_address() -> None:
    event, fmt = event_from_line("<38>2026-11-21T10:00:00Z srv1 sshd[1]: Failed password for root from "
                                 "198.51.100.7 port 4000 ssh2")
    verdict = check_event(event, SETTINGS, fmt=fmt)
    assert fmt == "syslog" and event.src_ip == "198.51.100.7"
    assert any(r.data.get("kind") == "intel" for r in verdict.reasons)
    assert verdict.verdict in ("suspicious", "malicious")


def test_outbound_to_a_listed_address_is_named_by_the_feed() -> None:
    event = event_from_connection(src_ip="10.0.0.5", dst_ip="203.0.113.66", transport="tcp", dst_port=443,
                                  tcp_flags="SYN,ACK,PSH,FIN", bytes_out=900, bytes_in=400)
    verdict = check_event(event, SETTINGS)
    assert any("203.0.113.66" in r.detail for r in verdict.reasons)


@pytest.mark.parametrize("flags, pattern", [("FPU", "XMAS"), ("fin", "FIN"), ("NULL", "NULL"), ("SYN FIN", "SYN+FIN")])
def test_crafted_flags(flags, pattern) -> None:  # type: ignore[no-untyped-def]
    event = event_from_connection(src_ip="45.1.2.3", dst_ip="10.0.0.5", transport="tcp", dst_port=80, tcp_flags=flags)
    verdict = check_event(event, SETTINGS)
    assert any(f"({pattern})" in r.detail for r in verdict.reasons), verdict.reasons
    assert verdict.verdict == "suspicious"


def test_land_attack_and_exposed_port() -> None:
    land = check_event(event_from_connection(src_ip="10.0.0.5", dst_ip="10.0.0.5", dst_port=80, tcp_flags="S"),
                       SETTINGS)
    assert land.verdict == "malicious" and "LAND" in land.reasons[0].detail
    smb = check_event(event_from_connection(src_ip="45.1.2.3", dst_ip="10.0.0.5", dst_port=445, tcp_flags="S"),
                      SETTINGS)
    assert any("SMB" in r.detail for r in smb.reasons)
    inside = check_event(event_from_connection(src_ip="10.0.0.9", dst_ip="10.0.0.5", dst_port=445, tcp_flags="SA"),
                         SETTINGS)
    assert not any("SMB" in r.detail for r in inside.reasons)  # file sharing inside the office is normal


def test_plain_web_connection_is_clean() -> None:
    event = event_from_connection(src_ip="10.0.0.5", dst_ip="142.250.185.78", transport="tcp", dst_port=443,
                                  src_port=51000, packet_size=60, tcp_flags="SYN,ACK,PSH,FIN", bytes_out=3000,
                                  bytes_in=90_000)
    assert check_event(event, SETTINGS).verdict == "no known threat"
    assert event.extra["packet_size"] == 60


@pytest.mark.parametrize("kwargs, message", [
    ({"src_ip": "", "dst_ip": "10.0.0.1"}, "source address is required"),
    ({"src_ip": "10.0.0.999", "dst_ip": "10.0.0.1"}, "not an IP address"),
    ({"src_ip": "10.0.0.1", "dst_ip": "<script>"}, "not an IP address"),
    ({"src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "transport": "carrier-pigeon"}, "protocol must be"),
    ({"src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "dst_port": 70000}, "destination port"),
    ({"src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "packet_size": -1}, "packet_size"),
    ({"src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "tcp_flags": "SYN,BOGUS"}, "unknown flag"),
    ({"src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "transport": "icmp", "tcp_flags": "SYN,BOGUS"}, "unknown flag"),
])
def test_bad_connections_are_refused(kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CheckError, match=message):
        event_from_connection(**kwargs)


@pytest.mark.parametrize("transport, flags", [("icmp", "SYN"), ("udp", "SA"), ("icmp", "NULL")])
def test_tcp_flags_on_other_protocols_are_accepted_and_explained(transport, flags) -> None:  # type: ignore[no-untyped-def]
    """Single-record datasets fill the flag column for ICMP rows too: the check runs and says the flags are unused."""
    event = event_from_connection(src_ip="45.1.2.3", dst_ip="10.0.0.5", transport=transport, tcp_flags=flags,
                                  packet_size=64)
    assert event.tcp_flags is None and not event.extra.get("null_flags")
    verdict = check_event(event, SETTINGS)
    assert any(n.startswith("TCP flags") and f"{transport} has no TCP header" in n for n in verdict.notes)
    assert not any("crafted" in r.detail for r in verdict.reasons)


def test_score_has_one_meaning_for_every_verdict() -> None:
    """The score is the strongest witness's "attack" strength: a model below its threshold still gives it."""
    quiet = event_from_connection(src_ip="10.0.0.5", dst_ip="142.250.185.78", dst_port=443, tcp_flags="SA")

    def scorer(value: float):  # type: ignore[no-untyped-def]
        return lambda event: ([], [f"model m:1 scores {value:.2f}, below its threshold 0.50"], [value])

    low = check_event(quiet, SETTINGS, model_scorer=scorer(0.31))
    assert low.verdict == "no known threat" and low.score == 0.31
    assert check_event(quiet, SETTINGS, model_scorer=scorer(0.02)).score == 0.02
    attack = check_event(event_from_connection(src_ip="45.1.2.3", dst_ip="10.0.0.5", dst_port=23, tcp_flags="FPU"),
                         SETTINGS, model_scorer=scorer(0.2))
    assert attack.verdict == "suspicious" and attack.score == max(r.confidence for r in attack.reasons) >= 0.2


@pytest.mark.parametrize("line, message", [
    ("", "empty"), ("   ", "empty"), ("hello there, not a log", "recognise"), ("a\nb\nc", "one log line"),
    ("x" * 70_000, "longer than"),
])
def test_bad_lines_are_refused(line, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CheckError, match=message):
        event_from_line(line)


def test_named_format_that_cannot_read_the_line() -> None:
    with pytest.raises(CheckError, match="access_log parser cannot read"):
        event_from_line("<38>2026-11-21T10:00:00Z srv1 sshd[1]: hello", "access_log")
    with pytest.raises(CheckError, match="unknown format"):
        event_from_line(SQLI, "no-such-format")


def test_model_reasons_join_the_verdict() -> None:
    calls: list[Event] = []

    def scorer(event: Event) -> tuple[list[Reason], list[str]]:
        calls.append(event)
        return [Reason("model:test:1", "high", "model test:1 scores 0.97", 0.97)], []

    event = event_from_connection(src_ip="10.0.0.5", dst_ip="142.250.185.78", dst_port=443, tcp_flags="SA")
    verdict = check_event(event, SETTINGS, model_scorer=scorer)
    assert calls == [event] and verdict.verdict == "malicious" and verdict.score == 0.97
    assert verdict.notes == []


def test_no_registry_model_means_no_scorer(tmp_path: Path) -> None:
    from netwarden.store.database import Database

    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    try:
        assert registry_scorer(db, SETTINGS) is None  # the registry is there, no model is active
        event, _ = event_from_line(SQLI)
        check_event(event, SETTINGS)
        with db.engine.connect() as conn:  # a check stores nothing
            assert conn.exec_driver_sql("SELECT count(*) FROM alerts").scalar() == 0
            assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == 0
    finally:
        db.close()


def test_active_registry_model_scores_the_event(tmp_path: Path) -> None:
    """A real model of the registry (random forest on simulated traffic) is consulted by the check."""
    from datetime import datetime, timezone

    from netwarden.learn.base import create
    from netwarden.learn.registry import ModelRegistry
    from netwarden.learn.settings import models_dir
    from netwarden.simulate import Simulator
    from netwarden.simulate.outputs import InProcess
    from netwarden.store.database import Database

    sim = Simulator(seed=9, rate=2, attack_every=120, first_attack=10, attacks=["sqli", "brute_force", "flood"])
    events = InProcess().events(sim.generate(datetime(2026, 11, 21, 9, tzinfo=timezone.utc), 400))
    attackers = {who for _t, _k, who in sim.launched}
    labels = ["attack" if (e.src_ip in attackers or e.dst_ip in attackers) else "normal" for e in events]
    assert 0 < labels.count("attack") < len(labels)
    model = create("random_forest", n_estimators=20).fit(events, labels)
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    try:
        registry = ModelRegistry(db, models_dir(SETTINGS.learn, str(db.engine.url)))
        registry.add(model, name="sim-forest", data={"source": "simulator"}, metrics={})
        registry.activate("sim-forest")
        scorer = registry_scorer(db, SETTINGS)
        assert scorer is not None
        attack = next(e for e, label in zip(events, labels) if label == "attack" and e.source_kind == "access_log")
        verdict = check_event(attack, SETTINGS, model_scorer=scorer)
        reasons = [r for r in verdict.reasons if r.source == "model:sim-forest:1"]
        assert reasons and reasons[0].data["features"], verdict.reasons
        normal = next(e for e, label in zip(events, labels) if label == "normal" and e.source_kind == "netflow")
        quiet = check_event(normal, SETTINGS, model_scorer=scorer)
        assert not any(r.source.startswith("model:") for r in quiet.reasons)
        assert any("sim-forest:1 scores" in n for n in quiet.notes)
    finally:
        db.close()
