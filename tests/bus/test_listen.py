"""``netwarden listen syslog`` with a ``[bus]``: it parses what it receives and publishes it, stores nothing
itself; a worker stores it. Real UDP syslog (``logger``), real Redis and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from netwarden.bus.codec import decode_events
from netwarden.bus.redis_bus import RedisBus
from netwarden.bus.worker import Worker
from netwarden.config import Settings
from netwarden.store.database import Database
from netwarden.store.schema import events
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_bus(bus: RedisBus) -> list:  # type: ignore[type-arg]
    return [e for p in range(bus.partitions) for _, f in bus.redis.xrange(bus.stream(p))
            for e in decode_events(f[b"events"])]


def worker_thread(pg_url: str, bus_settings, name: str) -> tuple[Worker, threading.Thread]:  # type: ignore[no-untyped-def]
    """A worker on the shared database and the bus, running on a thread for at most a minute."""
    settings = Settings()
    settings.database.url = pg_url
    settings.bus = bus_settings
    worker = Worker(settings, Database.open(pg_url), RedisBus(bus_settings), name=name)
    thread = threading.Thread(target=worker.run, kwargs={"max_seconds": 60}, daemon=True)
    thread.start()
    return worker, thread


def test_listen_syslog_publishes_and_a_worker_stores(bus_settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    db = Database.open(pg_url)
    bus = RedisBus(bus_settings)
    port = free_udp_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "NETWARDEN_DATABASE_URL": pg_url,
           "NETWARDEN_BUS_URL": bus_settings.url, "NETWARDEN_BUS_PREFIX": bus_settings.prefix,
           "NETWARDEN_BUS_PARTITIONS": str(bus_settings.partitions)}
    proc = subprocess.Popen([sys.executable, "-c", "from netwarden.cli import main; main()", "listen", "syslog",
                             "--udp", f"127.0.0.1:{port}", "--status-every", "0"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    worker = None
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("listening on udp"), line + proc.stdout.read()  # type: ignore[union-attr]
        users = [f"bus_user{i}" for i in range(5)]
        for i, user in enumerate(users):
            subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), "-d", "-t", "sshd",
                            f"Failed password for {user} from 203.0.113.{i + 1} port 4{i:04d} ssh2"],
                           check=True, timeout=10)
        wait_for(lambda: len(on_bus(bus)) == len(users), 30, "the lines on the bus")
        assert sorted(e.user for e in on_bus(bus)) == users
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, rest
        assert "received 5, published 5, quarantined 0, dropped 0" in rest, rest
        with db.engine.connect() as conn:
            assert conn.execute(select(events.c.id)).first() is None  # listen stored nothing itself

        worker, thread = worker_thread(pg_url, bus_settings, "listen-worker")
        wait_for(lambda: all(bus.backlog(p) == 0 for p in range(bus.partitions)), 60, "every batch acknowledged")
        time.sleep(0.5)
        with db.engine.connect() as conn:
            assert sorted(r.user for r in conn.execute(select(events.c.user))) == users
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if worker is not None:
            worker.stop.set()
            thread.join(30)
        bus.close()
        db.close()
