"""``--csv`` on the list commands: the same rows as ``--json``, formula-like cells escaped, every row by
default, ``--limit`` honoured, a byte-order mark on request. Every engine."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.records import Alert, Event, Factor, Severity
from netwarden.report.export import BOM, read_csv
from netwarden.store import alerts as alert_store
from netwarden.store.database import Database
from netwarden.store.events import insert_events
from netwarden.store.quarantine import QuarantinedLine, insert_quarantine, quarantine_rows

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
HOSTILE = ["=1+1", "+A1", "-cmd", "@x", "\tt", "'q", "plain, \"comma\"\nline"]


def run(db_url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def fill(db: Database, n: int = 120) -> None:
    evs = [Event(timestamp=NOW - timedelta(seconds=i), source_kind="access_log", src_ip=f"192.0.2.{i % 9}",
                 src_port=1000 + i, http_method="GET", url=HOSTILE[i % len(HOSTILE)], http_status=200,
                 user_agent=HOSTILE[(i + 1) % len(HOSTILE)], raw=f"line {i}") for i in range(n)]
    with db.engine.begin() as conn:
        insert_events(conn, evs)
        insert_quarantine(conn, quarantine_rows([QuarantinedLine(i, h, "bad_json", h) for i, h in enumerate(HOSTILE)],
                                                source="f.log", fmt="netwarden", source_id=None, received=NOW))
        for i, h in enumerate(HOSTILE):
            alert_store.save_alert(conn, Alert(
                kind="web_attack", subkind="sqli", severity=Severity.HIGH, confidence=0.7,
                factors=[Factor("signature", 0.7, h)], source=f"198.51.100.{i}", target=h, first_seen=NOW,
                last_seen=NOW + timedelta(seconds=i), count=1, evidence={"matched": h}, recommendation=h,
                detector="web_attack"))


def test_events_csv_matches_json_and_streams_every_row(db: Database, db_url: str) -> None:
    fill(db)
    as_json = [json.loads(line) for line in run(db_url, "events", "--json", "-n", "1000", "--src",
                                                  "192.0.2.0/30").splitlines()]
    rows = read_csv(run(db_url, "events", "--csv", "--src", "192.0.2.0/30"))
    assert len(rows) == len(as_json) == len([i for i in range(120) if i % 9 < 4])
    for row, want in zip(rows, as_json, strict=True):
        assert row["url"] == want["url"] and row["user_agent"] == want["user_agent"]
        assert datetime.fromisoformat(row["timestamp"]) == datetime.fromisoformat(want["timestamp"])
    assert len(read_csv(run(db_url, "events", "--csv", "-n", "7"))) == 7
    assert len(read_csv(run(db_url, "events", "--csv"))) == 120  # all, not the table's 50
    raw = run(db_url, "events", "--csv", "--bom", "-n", "10")
    assert raw.startswith(BOM) and "\n=" not in raw and ",=" not in raw and ',"=' not in raw


def test_alerts_incidents_blocks_quarantine_csv(db: Database, db_url: str) -> None:
    fill(db)
    alerts = read_csv(run(db_url, "alerts", "--csv"))
    assert sorted(a["target"] for a in alerts) == sorted(HOSTILE)
    assert [a["id"] for a in alerts] == [str(json.loads(line)["id"]) for line in
                                          run(db_url, "alerts", "--json").splitlines()]
    lines = read_csv(run(db_url, "quarantine", "--csv", "--reason", "bad_json"))
    assert sorted(r["raw"] for r in lines) == sorted(HOSTILE)
    assert read_csv(run(db_url, "incidents", "--csv")) == []
    assert list(read_csv(run(db_url, "block", "list", "--all", "--csv"))) == []
    assert run(db_url, "block", "list", "--csv").startswith("id,network,reason")


def test_analysis_tables_csv(db: Database, db_url: str) -> None:
    fill(db)
    span = ["--since", (NOW - timedelta(hours=1)).isoformat(), "--until", (NOW + timedelta(minutes=1)).isoformat()]
    rows = read_csv(run(db_url, "analysis", "talkers", *span, "--csv"))
    lines = [json.loads(line) for line in run(db_url, "analysis", "talkers", *span).splitlines()]
    assert rows == [{k: "" if v is None else str(v) for k, v in line.items()} for line in lines]
    assert {r["address"] for r in rows} == {f"192.0.2.{i}" for i in range(9)}  # fill's nine sources
    assert sum(int(r["events"]) for r in rows) == 120
    raw = run(db_url, "analysis", "http", *span, "--table", "methods", "--csv", "--bom")
    assert raw.startswith(BOM) and [(r["method"], r["events"]) for r in read_csv(raw)] == [("GET", "120")]
    wrong = CliRunner().invoke(cli, ["--db", db_url, "analysis", "protocols", *span, "--table", "nope", "--csv"])
    assert wrong.exit_code == 2 and "'nope' is not one of" in wrong.output
