"""Webhook notifications against a local HTTP receiver: generic JSON, Slack and Teams shapes, the
severity floor, rate limits, bounded retries, and that detection never waits for delivery."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from netwarden.config import load_settings
from netwarden.notify.notifier import Notifier
from netwarden.notify.settings import NotifySettings, WebhookSettings
from netwarden.records import Alert, Factor, Severity

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def alert(i: int, severity: Severity = Severity.HIGH, source: str = "203.0.113.7") -> Alert:
    return Alert(kind="port_scan", subkind="vertical", severity=severity, confidence=0.85,
                 factors=[Factor("ports", 0.85, "1,000 ports in 60 s <b>bold</b> & <https://evil|click>")],
                 source=source, target="192.0.2.10", first_seen=T0, last_seen=T0, count=1000, evidence={},
                 recommendation="check the firewall", detector="port_scan", id=i)


def notifier_for(receiver, style: str = "json", **notify) -> Notifier:  # type: ignore[no-untyped-def]
    hook = WebhookSettings(url=f"{receiver.url}/hook?token=s3cret", style=style, timeout=2)
    return Notifier(NotifySettings(webhooks=[hook], **{"first_delay": 0, "digest_seconds": 60,
                                                       "retry_delay": 0.05, **notify}))


def wait_for(receiver, n: int, limit: float = 10.0) -> list:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while len(receiver.requests) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return receiver.requests


def test_generic_json(receiver) -> None:  # type: ignore[no-untyped-def]
    n = notifier_for(receiver)
    try:
        n.on_alert(alert(1), True)
        [req] = wait_for(receiver, 1)
        body = req["json"]
        assert req["path"] == "/hook?token=s3cret"
        assert body["source"] == "netwarden" and body["count"] == 1 and body["omitted"] == 0
        [notice] = body["notices"]
        assert notice["kind"] == "alert" and notice["severity"] == "high"
        assert notice["fields"]["why"].startswith("1,000 ports") and notice["fields"]["alert"] == "#1"
    finally:
        n.close()


def test_slack_text_escapes_markup(receiver) -> None:  # type: ignore[no-untyped-def]
    n = notifier_for(receiver, "slack")
    try:
        n.on_alert(alert(1), True)
        [req] = wait_for(receiver, 1)
        assert set(req["json"]) == {"text"}
        text = req["json"]["text"]
        assert "high port_scan/vertical from 203.0.113.7" in text
        assert "&lt;https://evil|click&gt;" in text and "<https://evil" not in text and "&amp;" in text
    finally:
        n.close()


def test_teams_message_card(receiver) -> None:  # type: ignore[no-untyped-def]
    n = notifier_for(receiver, "teams")
    try:
        n.on_alert(alert(1, Severity.CRITICAL), True)
        [req] = wait_for(receiver, 1)
        card = req["json"]
        assert card["@type"] == "MessageCard" and card["@context"] == "https://schema.org/extensions"
        assert card["title"] == "NetWarden: critical port_scan/vertical from 203.0.113.7"
        facts = {f["name"]: f["value"] for f in card["sections"][0]["facts"]}
        assert "&lt;b&gt;bold&lt;/b&gt;" in facts["why"] and "<b>" not in facts["why"]
    finally:
        n.close()


def test_severity_floor_and_updates(receiver) -> None:  # type: ignore[no-untyped-def]
    n = notifier_for(receiver, min_severity="high")
    try:
        n.on_alert(alert(1, Severity.MEDIUM), True)  # below the floor
        n.on_alert(alert(2, Severity.LOW), True)
        n.on_alert(alert(3, Severity.HIGH), True)
        n.on_alert(alert(3, Severity.HIGH), False)  # an update of an alert already told about
        n.on_alert(alert(1, Severity.CRITICAL), False)  # raised above the floor: told now
        n.on_alert(alert(3, Severity.CRITICAL), False)  # raised further: told again, once
        n.on_alert(alert(3, Severity.CRITICAL), False)
        assert n.flush(10)
        titles = [x["title"] for r in receiver.requests for x in r["json"]["notices"]]
        assert sorted(titles) == sorted(["high port_scan/vertical from 203.0.113.7",
                                         "critical port_scan/vertical from 203.0.113.7",
                                         "critical port_scan/vertical from 203.0.113.7 (severity raised)"])
    finally:
        n.close()


def test_rate_limit_per_hour(receiver) -> None:  # type: ignore[no-untyped-def]
    n = notifier_for(receiver, first_delay=0.05, digest_seconds=0.1, max_per_hour=2)
    try:
        for wave in range(5):
            for i in range(10):
                n.on_alert(alert(wave * 100 + i), True)
            time.sleep(0.3)
        time.sleep(0.5)
        assert len(receiver.requests) == 2  # the hour's allowance; the rest waits for the next hour
        assert sum(r["json"]["count"] for r in receiver.requests) == 20
        n.flush(10)  # shutdown sends what waits, in one digest
        assert len(receiver.requests) == 3 and receiver.requests[2]["json"]["count"] == 30
    finally:
        n.close()


def test_failures_are_retried_with_a_bound(receiver, caplog) -> None:  # type: ignore[no-untyped-def]
    receiver.statuses.extend([500, 503])
    n = notifier_for(receiver, retries=3)
    try:
        n.on_alert(alert(1), True)
        assert n.flush(10)
        assert len(receiver.requests) == 3 and n.stats.messages == 1 and n.stats.failures == 2
        receiver.statuses.extend([500] * 10)
        n.on_alert(alert(2), True)
        assert n.flush(10)
        assert len(receiver.requests) == 3 + 4 and n.stats.dropped == 1
        assert any("given up after 4 attempts" in m for m in caplog.messages)
        assert all("s3cret" not in m for m in caplog.messages)  # the URL's token is not logged
    finally:
        n.close()


def test_a_slow_receiver_never_holds_up_detection(receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.delay = 1.0
    n = notifier_for(receiver)
    try:
        started = time.perf_counter()
        for i in range(1000):
            n.on_alert(alert(i), True)
        assert time.perf_counter() - started < 0.5
    finally:
        n.close()
    assert len(receiver.requests) <= 2 and sum(r["json"]["count"] for r in receiver.requests) == 1000


def test_settings_validate() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        WebhookSettings(url="file:///etc/passwd")
    with pytest.raises(ValidationError):
        NotifySettings(min_severity="urgent")


def test_pipeline_notifies_alerts_and_blocks(receiver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The configured pipeline sends one digest for an SSH brute force: the alert and its (dry-run) block."""
    from netwarden.pipeline import Pipeline
    from netwarden.store.database import Database

    config = tmp_path / "netwarden.toml"
    config.write_text(f'[notify]\nfirst_delay = 0.2\n[[notify.webhooks]]\nurl = "{receiver.url}/hook"\n')
    settings = load_settings(config)
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    pipeline = Pipeline.from_settings(db, settings)
    stamp = (datetime.now() - timedelta(seconds=5)).strftime("%b %e %H:%M:%S")
    users = ("root", "admin", "oracle", "test", "ubuntu", "guest")
    lines = [f"{stamp} gw sshd[{100 + i}]: Failed password for {users[i % 6]} from 203.0.113.66 port {4000 + i} ssh2"
             for i in range(40)]
    try:
        pipeline.ingest_lines(lines, "syslog")
    finally:
        pipeline.close()
        db.close()
    notices = [x for r in receiver.requests for x in r["json"]["notices"]]
    kinds = sorted({(x["kind"], x["title"].split(" (")[0]) for x in notices})
    assert ("block", "blocked 203.0.113.66") in kinds
    assert any(k == "alert" and "brute_force" in t and "203.0.113.66" in t for k, t in kinds)
    assert len(receiver.requests) == 1
