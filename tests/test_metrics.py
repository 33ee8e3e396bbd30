"""Prometheus metrics of ``serve``: /metrics parses with prometheus_client's own text parser, and its counters
add up to what the database holds; /healthz and /readyz answer."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from tests.waiting import wait_for
from netwarden.config import Settings
from netwarden.store.database import Database
from netwarden.store.schema import alerts, events, quarantine
from netwarden.serve import Server

ATTACKER = "198.51.100.23"


def scrape(base: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}, read by the Prometheus text parser."""
    answer = httpx.get(f"{base}/metrics", timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)




def count(db: Database, table) -> int:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_metrics_add_up_to_what_was_stored(tmp_path: Path) -> None:
    settings = Settings()
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    server = Server(settings, db_url=url, host="127.0.0.1", port=0, syslog_udp=["127.0.0.1:0"],
                       syslog_tcp=[], netflow_udp=[])  # the writer process: its commits are counted here
    server.start()
    db = Database.open(url)
    try:
        base = server.url
        assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        before = scrape(base)
        _, host, port = server.syslog_addresses[0]
        clock = datetime.now(timezone.utc)  # syslog's day is space-padded ("Dec  5"), its hour never is
        now = f"{clock:%b} {clock.day:2d} {clock:%H:%M:%S}"
        good = [f"<38>{now} gw01 sshd[77]: Failed password for root from {ATTACKER} port {40000 + i} ssh2"
                for i in range(40)]
        junk = [b"\xff\xfe\x00\x01junk", b"\x00\x00 no header at all"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i, line in enumerate(good):
                sock.sendto(line.encode(), (host, port))
                if i % 10 == 9:
                    time.sleep(0.05)  # a loopback socket buffer holds this, but be gentle on a loaded machine
            for line in junk:
                sock.sendto(line, (host, port))
        wait_for(lambda: count(db, events) + count(db, quarantine) >= len(good) + len(junk), 30, "all stored")
        wait_for(lambda: count(db, alerts) >= 1, 30, "the brute-force alert")
        stored, quarantined = count(db, events), count(db, quarantine)
        wait_for(lambda: value(scrape(base), "netwarden_events_stored_total", source="syslog")
                 - value(before, "netwarden_events_stored_total", source="syslog") >= stored, 30, "metrics")
        after = scrape(base)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta("netwarden_events_stored_total", source="syslog") == stored == len(good)
        assert delta("netwarden_events_quarantined_total", source="syslog") == quarantined == len(junk)
        received = delta("netwarden_events_received_total", source="syslog")
        dropped = delta("netwarden_events_dropped_total", source="syslog")
        assert received == stored + quarantined + dropped and dropped == 0
        with db.engine.connect() as conn:
            kinds = [k for (k,) in conn.execute(select(alerts.c.kind))]
        assert "brute_force" in kinds
        for kind in set(kinds):
            assert delta("netwarden_alerts_total", kind=kind) == kinds.count(kind)
        assert delta("netwarden_db_write_seconds_count") >= 1
        assert value(after, "netwarden_detector_seconds_total", detector="brute_force") > 0
    finally:
        db.close()
        server.stop()


def test_readyz_says_what_is_not_ready(tmp_path: Path) -> None:
    from netwarden import metrics

    settings = Settings()
    server = Server(settings, db_url=f"sqlite:///{tmp_path / 'nw.db'}", host="127.0.0.1", port=0,
                       syslog_udp=[], syslog_tcp=[], netflow_udp=[], use_writer_process=False)
    server.start()
    try:
        metrics.set_ready_check("test-bus", lambda: "the bus is away")
        answer = httpx.get(f"{server.url}/readyz", timeout=10)
        assert answer.status_code == 503
        assert answer.json()["problems"] == {"test-bus": "the bus is away"}
    finally:
        metrics.set_ready_check("test-bus", None)
        server.stop()
    assert metrics.readiness() == {}


def test_detector_state_held_and_let_go_is_shown() -> None:
    """A flood of spoofed sources fills brute_force's bounded tables: what is evicted is counted in /metrics and
    said in the ingest summary (an administrator must know the detector forgot sources), and held state stays
    at the bound."""
    from datetime import timedelta

    from netwarden import metrics
    from netwarden.commands.shared import summaries
    from netwarden.detect.brute_force import BruteForce
    from netwarden.detect.engine import DetectionEngine, EngineSettings
    from netwarden.records import Event

    def state_metric() -> dict[str, float]:  # other tests' engines in this process may hold some too
        return {s.labels["kind"]: s.value for family in text_string_to_metric_families(metrics.exposition().decode())
                for s in family.samples
                if s.name == "netwarden_detector_state" and s.labels["detector"] == "brute_force"}

    before = state_metric()
    engine = DetectionEngine([BruteForce({"max_sources": 500})], settings=EngineSettings(prune_every=1000))
    t0 = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
    flood = [Event(timestamp=t0 + timedelta(milliseconds=i), source_kind="http", src_ip=f"10.9.{i >> 8}.{i & 255}",
                   http_method="POST", url="/login", http_status=401) for i in range(3000)]
    for start in range(0, len(flood), 1000):
        engine.process(flood[start:start + 1000])
    assert engine.state_counts() == {"brute_force": {"sources": 500, "evicted": 2500, "expired": 0}}
    after = state_metric()  # the engine tracks itself; its counts are read when it prunes
    assert {kind: after[kind] - before.get(kind, 0) for kind in after} == {"sources": 500, "evicted": 2500,
                                                                          "expired": 0}
    with summaries.out.capture() as captured:
        summaries.print_detection(engine)
    assert "brute_force: 500 sources held, 2,500 evicted (table full), 0 expired" in captured.get()
    quiet = DetectionEngine([BruteForce()])
    quiet.process(flood[:10])
    with summaries.out.capture() as captured:
        summaries.print_detection(quiet)
    assert "evicted" not in captured.get()  # nothing said when nothing was let go
