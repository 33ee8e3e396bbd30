"""A person's status change between two batches survives the next batch's merge, on every engine.

The engine remembers the alerts it merged recently and writes back what a batch changed. It used to write the
whole alert, the status it remembered included, so an acknowledgement made between two batches was undone by
the next one, and a resolved alert was reopened and grown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.records import AlertStatus
from netwarden.store import alerts as alert_store
from netwarden.store.schema import alerts

T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
SOURCE = "203.0.113.9"


def attack(start: datetime) -> list[str]:
    """Three SQL injections from SOURCE, a second apart (one web_attack alert)."""
    return [f'{SOURCE} - - [{start + timedelta(seconds=i):%d/%b/%Y:%H:%M:%S} +0000] '
            f'"GET /item.php?id=1%27%20OR%20%271%27%3D%271&n={i} HTTP/1.1" 200 512 "-" "Mozilla/5.0"'
            for i in range(3)]


def stored_alerts(db) -> list[tuple]:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(alerts.c.id, alerts.c.status, alerts.c.count)
                                               .where(alerts.c.kind == "web_attack").order_by(alerts.c.id))]


@pytest.mark.parametrize("status", [AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED])
def test_status_set_between_batches_is_kept(db, status: AlertStatus) -> None:  # type: ignore[no-untyped-def]
    heard: list[tuple] = []
    settings = load_settings(environ={"NETWARDEN_RESPOND_HISTORY_AFTER": "1d"})
    pipeline = Pipeline.from_settings(db, settings, alert_listeners=[
        lambda changes: heard.extend((a.id, str(a.status), a.count) for a, _ in changes)])
    try:
        pipeline.ingest_lines(attack(T0), "access_log", source="test")
        [(first, _, count)] = stored_alerts(db)
        assert count == 3
        with db.engine.begin() as conn:  # the console, between two batches
            alert_store.set_status(conn, first, status, by="admin")
        heard.clear()
        pipeline.ingest_lines(attack(T0 + timedelta(seconds=30)), "access_log", source="test")  # within the window
    finally:
        pipeline.close()
    found = stored_alerts(db)
    if status == AlertStatus.ACKNOWLEDGED:  # still open: it takes the findings and keeps the person's status
        assert found == [(first, str(AlertStatus.ACKNOWLEDGED), 6)]
        assert heard == [(first, str(AlertStatus.ACKNOWLEDGED), 6)]
    else:  # closed: it stays as the person left it, and the new findings open a new alert
        assert found[0] == (first, str(AlertStatus.RESOLVED), 3)
        assert [(status, count) for _, status, count in found[1:]] == [(str(AlertStatus.NEW), 3)]
        assert heard == [(found[1][0], str(AlertStatus.NEW), 3)]


def test_a_failed_batch_is_not_half_remembered(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A batch whose alert write fails is rolled back; the engine must not keep its merges in memory, because
    only what a later batch changes is written: the stored alert would never get them, or a new alert that
    was never inserted would be remembered without an id."""
    settings = load_settings(environ={"NETWARDEN_RESPOND_HISTORY_AFTER": "1d"})
    pipeline = Pipeline.from_settings(db, settings)
    newcomer = "198.51.100.77"
    real_save = alert_store.save_alerts

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    try:
        pipeline.ingest_lines(attack(T0), "access_log", source="test")
        monkeypatch.setattr(alert_store, "save_alerts", failing)
        second = attack(T0 + timedelta(seconds=30)) + [line.replace(SOURCE, newcomer) for line in attack(T0)]
        with pytest.raises(RuntimeError):
            pipeline.ingest_lines(second, "access_log", source="test")
        monkeypatch.setattr(alert_store, "save_alerts", real_save)
        third = attack(T0 + timedelta(seconds=60)) + [line.replace(SOURCE, newcomer)
                                                      for line in attack(T0 + timedelta(seconds=20))]
        pipeline.ingest_lines(third, "access_log", source="test")
    finally:
        pipeline.close()
    with db.engine.connect() as conn:
        rows = {r.source: (r.count, r.last_seen.replace(tzinfo=timezone.utc) if r.last_seen.tzinfo is None
                           else r.last_seen)
                for r in conn.execute(select(alerts.c.source, alerts.c.count, alerts.c.last_seen)
                                      .where(alerts.c.kind == "web_attack"))}
    # what was stored, plus the third batch: the second was rolled back as a whole
    assert rows[SOURCE] == (6, T0 + timedelta(seconds=62))
    assert rows[newcomer] == (3, T0 + timedelta(seconds=22))
