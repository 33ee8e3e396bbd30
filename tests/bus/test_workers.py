"""Two real workers on the real Redis and PostgreSQL; one is killed with SIGKILL mid-stream and restarted.
Every event is stored exactly once, and the alerts are those of the single-process run on the same input —
the attackers' failures are spread over the whole input, so a worker that took a partition over without the
history of its previous owner would miss them (the warm-up is what makes them equal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from tests.waiting import wait_for
from netwarden.bus.produce import publish_lines
from netwarden.bus.redis_bus import RedisBus
from netwarden.config import Settings
from netwarden.pipeline import Pipeline
from netwarden.store.database import Database
from netwarden.store.schema import alerts, events
from netwarden.store.schema_bus import bus_batches

REPO = Path(__file__).resolve().parents[2]
ATTACKERS = [f"203.0.113.{i}" for i in range(1, 31)]
USERS = [f"10.1.{i // 200}.{i % 200 + 1}" for i in range(300)]


def auth_log() -> list[str]:
    """~4,000 sshd lines over five minutes: 30 attackers with 12 failures each spread over the whole span
    (the brute-force threshold, 10, is crossed late), ordinary logins, and noise without an address."""
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)
    lines: list[str] = []
    n = 0
    for rnd in range(12):
        for a, attacker in enumerate(ATTACKERS):
            lines.append(f"Failed password for jsmith from {attacker} port {20000 + rnd * 100 + a} ssh2")
            for u in range(a * 10 % 300, a * 10 % 300 + 10):
                user = USERS[(u + rnd * 7) % len(USERS)]
                lines.append(f"Accepted password for staff{u} from {user} port {30000 + n % 30000} ssh2")
                n += 1
        lines.append("pam_unix(cron:session): session opened for user root by (uid=0)")
    out = []
    for i, message in enumerate(lines):
        ts = (start + timedelta(milliseconds=75 * i)).strftime("%b %d %H:%M:%S").replace(" 0", "  ", 1)
        out.append(f"<38>{ts} gw01 sshd[{1000 + i}]: {message}")
    return out




def scalar(db: Database, stmt) -> int:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def alert_keys(db: Database) -> set[tuple[str, str, str | None]]:
    with db.engine.connect() as conn:
        return {(r.kind, r.subkind or "", r.source) for r in conn.execute(select(alerts.c.kind, alerts.c.subkind,
                                                                                  alerts.c.source))}


def stored_lines(db: Database) -> Counter:  # type: ignore[type-arg]
    with db.engine.connect() as conn:
        return Counter((r.timestamp, r.message, r.src_port) for r in conn.execute(
            select(events.c.timestamp, events.c.message, events.c.src_port)))


def start_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    return subprocess.Popen(
        [sys.executable, "-c", "from netwarden.cli import main; main()", "worker", "--name", name,
         "--metrics", "", "--seconds", "240"],
        cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_sigkilled_worker_stores_exactly_once_and_alerts_as_one_process(tmp_path: Path, bus_settings,  # type: ignore[no-untyped-def]
                                                                        pg_url: str) -> None:
    lines = auth_log()
    # the reference: the same lines through the single process
    reference_db = Database.open(f"sqlite:///{tmp_path / 'one.db'}")
    reference = Pipeline.from_settings(reference_db, Settings())
    result = reference.ingest_lines(lines, "syslog", source="auth")
    reference.close()
    expected_alerts = alert_keys(reference_db)
    assert {k[2] for k in expected_alerts if k[0] == "brute_force"} == set(ATTACKERS)
    assert result.events == len(lines) and not result.quarantined

    db = Database.open(pg_url)  # migrated here, before the workers start
    bus = RedisBus(bus_settings)
    producer = Pipeline(db, stages=())
    published = publish_lines(producer, bus, lines, "syslog", source="auth", batch_size=100)
    assert published.events == len(lines)
    messages = sum(bus.redis.xlen(bus.stream(p)) for p in range(bus.partitions))
    assert messages >= 100  # batches of at most 25 events per partition

    env = {**os.environ, "PYTHONPATH": str(REPO), "NETWARDEN_DATABASE_URL": pg_url,
           "NETWARDEN_BUS_URL": bus_settings.url, "NETWARDEN_BUS_PREFIX": bus_settings.prefix,
           "NETWARDEN_BUS_PARTITIONS": str(bus_settings.partitions),
           "NETWARDEN_BUS_LEASE_SECONDS": str(bus_settings.lease_seconds),
           "NETWARDEN_BUS_WARM_SECONDS": str(bus_settings.warm_seconds)}
    log = tmp_path / "workers.log"
    first = start_worker("w1", env, log)
    second = start_worker("w2", env, log)
    restarted = None
    try:
        stored = lambda: scalar(db, select(func.count()).select_from(events))  # noqa: E731
        wait_for(lambda: stored() >= len(lines) // 2, 120, "the workers to store half")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = stored()
        assert at_kill < len(lines), "the input was all stored before the kill: make it longer"
        restarted = start_worker("w1-again", env, log)
        wait_for(lambda: stored() >= len(lines), 180, "every event stored")
        wait_for(lambda: all(bus.backlog(p) == 0 for p in range(bus.partitions)), 60, "every batch acknowledged")
        time.sleep(1.0)  # anything stored twice would show now
        assert stored() == len(lines)
        assert stored_lines(db) == stored_lines(reference_db)  # each line once, not merely the right count
        assert scalar(db, select(func.count()).select_from(bus_batches)) == messages
        assert alert_keys(db) == expected_alerts, log.read_text()[-3000:]
    finally:
        for proc in (first, second, restarted):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (first, second, restarted):
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        db.close()
        reference_db.close()
        bus.close()
