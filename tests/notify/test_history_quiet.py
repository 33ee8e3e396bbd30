"""Safe response on history: an import of last year's logs raises alerts marked as history, and neither
blocks (not even a dry-run decision) nor notifies; the same attack happening now does both."""

from __future__ import annotations

import time

import pytest
from datetime import datetime, timedelta, timezone

from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.store.alerts import AlertFilter, find_alerts
from netwarden.store.blocks import list_blocks

USERS = ("root", "admin", "oracle", "test", "ubuntu", "guest")


def ssh_guessing(source: str, start: datetime, n: int = 30) -> list[str]:
    """sshd's lines of a password-guessing run, RFC 5424 with full timestamps (so the year is known)."""
    return [f"<38>1 {(start + timedelta(seconds=i)).strftime('%Y-%m-%dT%H:%M:%SZ')} gw sshd {4000 + i} - - "
            f"Failed password for {USERS[i % len(USERS)]} from {source} port {40000 + i} ssh2" for i in range(n)]


@pytest.mark.engines
def test_last_years_logs_alert_as_history_without_block_or_notification(receiver, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "netwarden.toml"
    config.write_text(f'[notify]\nmin_severity = "low"\nfirst_delay = 0\n'
                      f'[[notify.webhooks]]\nurl = "{receiver.url}/hook"\n')
    settings = load_settings(config, environ={})
    assert settings.respond.history_after == "15m"
    pipeline = Pipeline.from_settings(db, settings)
    old, new = "198.51.100.2", "198.51.100.3"
    try:
        last_year = datetime.now(timezone.utc) - timedelta(days=365)
        pipeline.ingest_lines(ssh_guessing(old, last_year), "syslog")
        assert pipeline.response.notifier.flush(10)
        with db.engine.connect() as conn:
            past = find_alerts(conn, AlertFilter(source=old))
            assert past and all(a.history for a in past)
            assert max(a.confidence for a in past) >= settings.respond.threshold  # would have blocked if live
            assert list_blocks(conn, state=None) == []  # no block at all, not even dry-run or refused
        assert receiver.requests == []
        # the same attack now: blocked (dry-run) and told
        pipeline.ingest_lines(ssh_guessing(new, datetime.now(timezone.utc) - timedelta(seconds=40)), "syslog")
        assert pipeline.response.notifier.flush(10)
        deadline = time.monotonic() + 10
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        with db.engine.connect() as conn:
            live = find_alerts(conn, AlertFilter(source=new))
            blocks = list_blocks(conn, state=None)
        assert live and not any(a.history for a in live)
        assert [(b.network, b.mode, str(b.state)) for b in blocks] == [(new, "dry-run", "active")]
        told = str(receiver.requests)
        assert new in told and old not in told
    finally:
        pipeline.close()


def test_history_is_shown_in_the_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from netwarden.cli import cli

    from netwarden.store.database import Database

    url = f"sqlite:///{tmp_path / 'nw.db'}"
    db = Database.open(url)
    pipeline = Pipeline.from_settings(db, load_settings(environ={}))
    try:
        pipeline.ingest_lines(ssh_guessing("198.51.100.4", datetime(2025, 3, 1, tzinfo=timezone.utc)), "syslog")
    finally:
        pipeline.close()
        db.close()
    listed = CliRunner().invoke(cli, ["--db", url, "alerts"], catch_exceptions=False)
    assert "(history)" in listed.output
    rows = [json.loads(x) for x in CliRunner().invoke(cli, ["--db", url, "alerts", "--json"]).output.splitlines()]
    assert rows and all(r["history"] is True for r in rows)
    shown = CliRunner().invoke(cli, ["--db", url, "alert", "show", str(rows[0]["id"])])
    assert "history" in shown.output and "no automatic block or notification" in shown.output
