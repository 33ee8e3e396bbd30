"""`netwarden alerts`, `alert show|ack|resolve|false-positive`, `incidents`, `detectors` on stored alerts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.detect.engine import DetectionEngine
from netwarden.records import Factor, Finding, Severity
from netwarden.store.database import Database

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def _finding(source: str, kind: str, subkind: str, minute: int, severity: Severity = Severity.HIGH) -> Finding:
    when = T0 + timedelta(minutes=minute)
    return Finding(kind=kind, detector="test", severity=severity, subkind=subkind, source=source,
                   target="192.0.2.10", first_seen=when, last_seen=when, count=3, signature=f"{subkind}:rule1",
                   factors=[Factor("signature", 0.8, "matched \x1b[31m'union select'")],
                   recommendation=f"Block {source}", evidence={"matched": ["union select"]})


def _run(db_url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)


def test_alert_lifecycle_from_the_command_line(db_url: str) -> None:
    db = Database.open(db_url)
    engine = DetectionEngine([], db)
    engine.handle([_finding("203.0.113.5", "port_scan", "vertical", 0, Severity.MEDIUM),
                   _finding("203.0.113.5", "web_attack", "sqli", 5),
                   _finding("198.51.100.9", "web_attack", "sqli", 6, Severity.LOW)])
    db.close()

    listed = [json.loads(line) for line in _run(db_url, "alerts", "--json").output.splitlines()]
    assert [(a["source"], a["kind"]) for a in listed] == [
        ("198.51.100.9", "web_attack"), ("203.0.113.5", "web_attack"), ("203.0.113.5", "port_scan")]
    high = _run(db_url, "alerts", "--severity", "high", "--json").output.splitlines()
    assert len(high) == 1 and json.loads(high[0])["source"] == "203.0.113.5"
    assert len(_run(db_url, "alerts", "--source", "198.51.100.0/24", "--json").output.splitlines()) == 1

    table = _run(db_url, "alerts").output
    assert "web_attack/sqli" in table and "\x1b" not in table and "\\x1b[31m" in table

    sqli_id = json.loads(high[0])["id"]
    shown = _run(db_url, "alert", "show", str(sqli_id)).output
    assert "Block 203.0.113.5" in shown and "union select" in shown and "0.80  signature" in shown

    incidents = [json.loads(line) for line in _run(db_url, "incidents", "--json").output.splitlines()]
    mine = next(i for i in incidents if i["source"] == "203.0.113.5")
    assert mine["severity"] == "high" and mine["alert_count"] == 2  # recon then attack: escalated

    assert "is now acknowledged" in _run(db_url, "alert", "ack", str(sqli_id)).output
    fp = _run(db_url, "alert", "false-positive", str(sqli_id), "--note", "pentest").output
    assert "will no longer be raised" in fp
    assert json.loads(_run(db_url, "alert", "show", str(sqli_id), "--json").output)["status"] == "false_positive"
    missing = CliRunner().invoke(cli, ["--db", db_url, "alert", "ack", "999999"])
    assert missing.exit_code == 1 and "no alert with id 999999" in missing.output

    # the suppression holds for the next engine too
    db = Database.open(db_url)
    again = DetectionEngine([], db)
    again.handle([_finding("203.0.113.5", "web_attack", "sqli", 500)])
    db.close()
    assert again.stats.suppressed == 1


def test_detectors_command_lists_settings() -> None:
    result = CliRunner().invoke(cli, ["detectors"])
    assert result.exit_code == 0
    from netwarden.detect.engine import load_detectors

    for name in load_detectors():
        assert name in result.output


def test_configured_intel_feeds_reach_the_detector(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from netwarden.config import load_settings
    from netwarden.pipeline import Pipeline

    feed = tmp_path / "ours.netset"
    feed.write_text("# our own list\n198.51.100.77\n")
    config = tmp_path / "nw.toml"
    config.write_text(f'[intel]\nfeeds = ["{feed}"]\n')
    db = Database.open("sqlite:///:memory:")
    pipeline = Pipeline.from_settings(db, load_settings(config, environ={}))
    try:
        intel = next(d for d in pipeline.engine.detectors if d.name == "intel")
        assert intel.settings.feeds == [str(feed)]
        log = tmp_path / "fw.log"
        log.write_text("Nov 21 10:00:00 gw kernel: [1.0] [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.77 DST=192.168.1.10 "
                       "LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 PROTO=TCP SPT=4000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0\n")
        pipeline.ingest_file(log, "syslog")
        assert [(a.kind, a.source) for a in pipeline.engine.alerts] == [("intel", "198.51.100.77")]
    finally:  # its block-expiry sweeper would outlive the in-memory database ("no such table: blocks")
        pipeline.close()
        db.close()
