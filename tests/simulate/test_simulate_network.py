"""``netwarden simulate`` against real listeners on loopback: the syslog server and the NetFlow listener
store what the simulator sends, and the detectors raise alerts from it."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from netwarden.collect.netflow import NetflowListener
from netwarden.collect.syslog_server import SyslogServer, SyslogServerConfig
from netwarden.config import Settings
from netwarden.pipeline import Pipeline
from netwarden.simulate import Simulator
from netwarden.simulate.outputs import NetworkSender
from netwarden.store import alerts as alert_store
from netwarden.store.database import Database
from netwarden.store.events import EventFilter, find_events
from netwarden.pipeline import LiveStream

NETWARDEN = [sys.executable, "-c", "from netwarden.cli import main; main()"]


def _count(db: Database, **flt) -> int:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return len(find_events(conn, EventFilter(**flt), limit=1_000_000))


def _listeners(db: Database):  # type: ignore[no-untyped-def]
    pipeline = Pipeline.from_settings(db, Settings())
    syslog_stream = LiveStream(pipeline, fmt="syslog", source="syslog", max_delay=0.05)
    flow_stream = LiveStream(pipeline, fmt=None, source="netflow", max_delay=0.05)
    server = SyslogServer(syslog_stream, SyslogServerConfig(udp=[("127.0.0.1", 0)]))
    flows = NetflowListener(flow_stream, [("127.0.0.1", 0)])
    server.start()
    flows.start()
    return pipeline, syslog_stream, flow_stream, server, flows


def test_sent_traffic_is_stored_and_detected(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    pipeline, syslog_stream, flow_stream, server, flows = _listeners(db)
    try:
        sim = Simulator(seed=4, rate=4, attack_every=60, first_attack=5, attacks=["sqli", "port_scan"])
        emissions = list(sim.generate(datetime(2026, 11, 21, 9, tzinfo=timezone.utc), 130))
        lines = sum(1 for e in emissions if e.line)
        records = sum(1 for e in emissions if e.flow)
        sender = NetworkSender(server.address("udp"), flows.address())
        for i in range(0, len(emissions), 200):  # bursts a loopback socket buffer absorbs
            sender.send(emissions[i:i + 200])
            time.sleep(0.01)
        sender.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (syslog_stream.stats.total("received") < lines
                                               or flow_stream.stats.total("received") < records):
            time.sleep(0.05)
    finally:
        server.stop()
        flows.stop()
        syslog_stream.close()
        flow_stream.close()
        pipeline.close()
    assert _count(db, kind="netflow") == records
    assert _count(db) == lines + records
    with db.engine.connect() as conn:
        kinds = {a.kind for a in alert_store.find_alerts(conn, alert_store.AlertFilter())}
    db.close()
    assert {"web_attack", "port_scan"} <= kinds


def test_command_refuses_bad_input() -> None:
    from click.testing import CliRunner

    from netwarden.cli import cli

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, ["simulate", *args])

    r = run()
    assert r.exit_code == 2 and "--syslog" in r.output
    r = run("--syslog", "localhost:notaport")
    assert r.exit_code == 2 and "port must be a number" in r.output
    r = run("--syslog", "127.0.0.1:9", "--attacks", "sqli,meteor")
    assert r.exit_code == 2 and "meteor" in r.output


def test_command_sends_for_the_given_duration() -> None:
    import socket

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(5)
    try:
        port = sink.getsockname()[1]
        started = time.monotonic()
        r = subprocess.run([*NETWARDEN, "simulate", "--syslog", f"127.0.0.1:{port}",
                            "--duration", "2", "--rate", "20", "--attacks", "none"],
                           capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - started < 30
        assert "sent" in r.stdout
        data = sink.recv(65536).decode()
        assert data.startswith("<") and ("nginx:" in data or "sshd[" in data)
    finally:
        sink.close()
