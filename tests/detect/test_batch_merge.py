"""Alerts are merged per batch and written once per batch, reading the store once per batch: the stored alerts,
incidents and blocks, and what the alert listeners (notifications, the live feed) are told, are exactly those of
the engine before the change, kept here as the reference: each finding merged, linked and written on its own,
the store asked a query per finding. The pipeline restarts between the rounds, so that what the store holds
(open alerts, earlier alerts, open incidents) decides merges, not what the engine remembers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import MetaData, select

from netwarden.config import load_settings
from netwarden.detect.alert_merge import StoredView
from netwarden.notify.notice import alert_notice
from netwarden.pipeline import Pipeline
from netwarden.records import Alert, AlertStatus, Factor, Severity
from netwarden.store import alerts as alert_store
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


class QueryPerFinding(StoredView):
    """The store asked what each finding needs when it needs it, as the engine did before batches read it
    up front (with no cap on the alerts looked through: the old lookup saw only the 50 most recent of a kind)."""

    def prefetch(self, findings):  # type: ignore[no-untyped-def]
        pass

    def read_incidents(self, sources):  # type: ignore[no-untyped-def]
        pass

    def open_alert(self, key, finding):  # type: ignore[no-untyped-def]
        since = finding.first_seen - self.window
        for alert in alert_store.find_alerts(self.conn, alert_store.AlertFilter(since=since, kind=finding.kind),
                                             limit=100_000):
            if alert.subkind == finding.subkind and alert.source == finding.source \
                    and (finding.source is not None or alert.target == finding.target) \
                    and alert.status in (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED):
                return alert
        return None

    def alerts_before(self, source, before):  # type: ignore[no-untyped-def]
        return alert_store.alerts_before(self.conn, source, before)

    def open_incident(self, source):  # type: ignore[no-untyped-def]
        return alert_store.open_incident(self.conn, source, datetime.min.replace(tzinfo=timezone.utc))


def run(db, *, reference: bool, restarts: bool = True) -> dict[str, list]:  # type: ignore[no-untyped-def]
    settings = load_settings(environ={"NETWARDEN_INGEST_BATCH_SIZE": "50", "NETWARDEN_RESPOND_HISTORY_AFTER": "1d"})
    told: list[list[tuple]] = []  # per batch, what the alert listeners heard: the notices they would send

    def listen(changes):  # type: ignore[no-untyped-def]
        told.append([(alert.id, is_new, alert.incident_id, alert_notice(alert).title,
                      sorted(alert_notice(alert).fields.items())) for alert, is_new in changes])

    rounds = attack_rounds()
    step = 2 if restarts else len(rounds)
    for hour in range(0, len(rounds), step):  # a restart between the hours: the engine remembers no alert
        pipeline = Pipeline.from_settings(db, settings, alert_listeners=[listen])
        if reference:
            pipeline.engine.handle = written_per_finding(pipeline.engine)
            pipeline.engine.stored_view = QueryPerFinding
        try:
            for fmt, lines in rounds[hour:hour + step]:
                pipeline.ingest_lines(lines, fmt, source="test")
            pipeline.response.responder.flush(10)
        finally:
            pipeline.close()
    with db.engine.connect() as conn:
        return {
            "told": told,
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


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _reference_then_batches(db, db_url, between=None, **options) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    """What the reference stored, and what batch merging stored, each on an empty database (``between()`` is
    called before the second run)."""
    before = comparable(run(db, reference=True, **options))
    if between is not None:
        between()
    meta = MetaData()  # an empty database again, for the second run
    meta.reflect(db.engine)
    meta.drop_all(db.engine)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    db.close()
    again = Database.open(db_url)
    try:
        return before, comparable(run(again, reference=False, **options))
    finally:
        again.close()


def test_batch_merging_stores_exactly_what_writing_every_finding_stored(db, db_url) -> None:  # type: ignore[no-untyped-def]
    columns = [c.name for c in alerts.columns if c.name not in ("created", "updated")]
    before, after = _reference_then_batches(db, db_url)
    assert len(before["alerts"]) >= 60, "the input must raise many alerts"
    kinds = {row[1] for row in before["alerts"]}
    assert {"web_attack", "brute_force"} <= kinds, kinds
    assert len(before["incidents"]) >= 30 and before["blocks"], "incidents and blocks must be exercised"
    assert any("repeat_offender" in str(row) for row in before["alerts"]), "repeat offenders must be exercised"
    first_seen, last_seen = (columns.index(c) for c in ("first_seen", "last_seen"))
    restart = T0 + timedelta(hours=1)
    assert any(_aware(row[first_seen]) < restart <= _aware(row[last_seen]) for row in before["alerts"]), \
        "an alert must be merged from the store across the restart"
    assert sum(len(batch) for batch in before["told"]) > len(before["alerts"]), "updates must be told too"
    for part in before:
        assert after[part] == before[part], part


def _awkward_alerts(n: int) -> list[Alert]:
    """Alerts holding what a log may put in them: NaN, infinities, NUL, a lone surrogate, non-UTC times."""
    evidences = [{"n": float("nan"), "url": "/a\x00b", "samples": [{"raw": "é ☃ \U0001F600", "n": 2 ** 40}]},
                 {"bad": "\ud800", "list": [1, 2.5, None, True, float("inf")], "low": float("-inf")},
                 {"plain": "x", "nan": float("nan"), "nested": {"k": ["v"]}}]
    zone = timezone(timedelta(hours=-7))
    return [Alert(kind="web_attack", subkind=f"sqli{i}", severity=Severity.HIGH, confidence=0.5 + i / 10,
                  factors=[Factor("signature", 0.4, "a match \x00")], source=f"203.0.113.{i + 1}" if i else None,
                  target="/x" if i % 2 else None, first_seen=T0.astimezone(zone) + timedelta(microseconds=i),
                  last_seen=T0 + timedelta(seconds=i, microseconds=123456), count=i + 1,
                  evidence=evidences[i % len(evidences)], recommendation="block ☃", detector="web_attack",
                  signature=f"sig\x00{i}", history=bool(i % 2)) for i in range(n)]


def test_alert_rows_written_in_bulk_are_those_sqlalchemy_writes(db) -> None:  # type: ignore[no-untyped-def]
    """save_alerts (the driver's executemany, ``store/raw_rows.py``) stores each value as save_alert's
    SQLAlchemy statements do, for new alerts and updates."""
    one, bulk = _awkward_alerts(4), _awkward_alerts(4)
    with db.engine.begin() as conn:
        for alert in one:
            alert_store.save_alert(conn, alert)
        alert_store.save_alerts(conn, bulk)
        for alerts_ in (one, bulk):
            for alert in alerts_:
                alert.count += 5
                alert.last_seen += timedelta(hours=1)
                alert.evidence = {**alert.evidence, "more": [1.5, "é"]}
        for alert in one:
            alert_store.save_alert(conn, alert)
        alert_store.save_alerts(conn, bulk)
        rows = {r.id: r for r in conn.execute(select(alerts))}
    kept = [c.name for c in alerts.columns if c.name not in ("id", "created", "updated")]
    for a, b in zip(one, bulk):
        assert [getattr(rows[a.id], c) for c in kept] == [getattr(rows[b.id], c) for c in kept]
    assert rows[bulk[0].id].count == 6 and rows[bulk[0].id].evidence["n"] is None
    assert rows[bulk[1].id].evidence["low"] is None and rows[bulk[1].id].evidence["list"][-1] is None


def test_alerts_remembered_past_the_merge_window_are_read_from_the_store_per_batch(
        db, db_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With no restart, the engine still remembers each source's alert of the hour before, too old to take the
    next hour's findings: each such finding asks the store (a newer open alert, the source's earlier alerts).
    That is read with the batch, in a query or two, not once per finding (4,000 queries made a 1M-line SSH log
    with 3,000 addresses 2 s slower); and what is stored and told is still exactly the reference's."""
    from netwarden.detect.engine import DetectionEngine

    asked = {"open_alerts_about": 0, "alert_starts": 0}
    for name in asked:
        def counted(*args, _name=name, _read=getattr(alert_store, name), **kwargs):  # type: ignore[no-untyped-def]
            asked[_name] += 1
            return _read(*args, **kwargs)
        monkeypatch.setattr(alert_store, name, counted)
    batches: list[int] = []  # the findings of each batch handled
    handle = DetectionEngine.handle

    def counted_handle(self, findings):  # type: ignore[no-untyped-def]
        if findings:
            batches.append(len(findings))
        return handle(self, findings)
    monkeypatch.setattr(DetectionEngine, "handle", counted_handle)
    before, after = _reference_then_batches(db, db_url, restarts=False,
                                            between=lambda: (asked.update(dict.fromkeys(asked, 0)), batches.clear()))
    assert after == before
    assert any("repeat_offender" in str(row) for row in after["alerts"]), "earlier alerts must be counted"
    assert len(batches) >= 10, batches
    assert 0 < asked["open_alerts_about"] <= len(batches) and 0 < asked["alert_starts"] <= len(batches), \
        (asked, len(batches))
