"""``netwarden backtest``: stored events replayed through candidate settings, in time order and in pages,
on every engine; what changes is reported (alerts and blocks gained and lost, by kind and source, with
examples) and nothing is stored — every table keeps its row count."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from netwarden.backtest import BacktestError, apply_sets, stored_events
from netwarden.cli import cli
from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.records import Event
from netwarden.store.database import Database
from netwarden.store.events import insert_events
from netwarden.store.schema import metadata

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
WHOLE = ("--since", "1970-01-01T00:00:00+00:00", "--until", "2199-01-01T00:00:00+00:00")


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables}


@pytest.mark.engines
def test_pages_are_complete_and_in_time_order(db) -> None:  # type: ignore[no-untyped-def]
    """Keyset pages across equal timestamps lose and repeat nothing, on every engine."""
    batch = [Event(timestamp=T0 + timedelta(seconds=(i * 7) % 13), source_kind="access_log",
                   src_ip=f"203.0.113.{i}", url=f"/{i}", http_status=200, extra={"n": i} if i % 2 else {})
             for i in range(40)]
    batch.append(Event(timestamp=T0 - timedelta(days=1), source_kind="auth", src_ip="203.0.113.99"))  # outside
    with db.engine.begin() as conn:
        insert_events(conn, batch)
    pages = list(stored_events(db, T0, T0 + timedelta(minutes=1), batch=7))
    assert [len(p) for p in pages] == [7, 7, 7, 7, 7, 5]
    got = [e for page in pages for e in page]
    assert sorted(e.url for e in got) == sorted(f"/{i}" for i in range(40))
    assert [e.timestamp for e in got] == sorted(e.timestamp for e in got)
    assert all(e.timestamp.tzinfo is not None for e in got)
    assert {e.url: e.extra for e in got}["/3"] == {"n": 3} and {e.url: e.extra for e in got}["/4"] == {}


def test_apply_sets_validates() -> None:
    base = load_settings(environ={})
    changed = apply_sets(base, ["detect.port_scan.vertical_ports=30", "respond.threshold=0.9",
                                "respond.never_block=[\"198.51.100.0/24\"]"])
    assert changed.detect["port_scan"]["vertical_ports"] == 30 and changed.respond.threshold == 0.9
    assert changed.respond.never_block == ["198.51.100.0/24"] and base.respond.threshold == 0.8
    for bad in ("respond.threshold=2", "nonsense", "respond=1", "respond.mode.x=1"):
        with pytest.raises(BacktestError):
            apply_sets(base, [bad])


@pytest.fixture
def history(tmp_path: Path, datasets: Path) -> str:
    """A store with a vertical and a horizontal port scan (Zeek) and SSH guessing (loghub OpenSSH)."""
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    db = Database.open(url)
    pipeline = Pipeline.from_settings(db, load_settings(environ={}))
    try:
        for name in ("zeek-conn-logs/port-scans_vertical_conn.log", "zeek-conn-logs/port-scans_horizontal_conn.log",
                     "loghub/OpenSSH_2k.log"):
            pipeline.ingest_file(datasets / name)
    finally:
        pipeline.close()
        db.close()
    return url


def backtest(url: str, *args: str) -> dict:
    result = CliRunner().invoke(cli, ["--db", url, "backtest", *WHOLE, "--json", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_backtest_reports_changes_and_stores_nothing(history: str, tmp_path: Path) -> None:
    db = Database.open(history)
    before = row_counts(db)
    assert before["events"] > 2000 and before["alerts"] >= 5
    same = backtest(history)  # the current settings reproduce what is stored
    assert same["events"] == before["events"]
    assert (same["alerts"]["gained_count"], same["alerts"]["lost_count"]) == (0, 0)
    assert same["alerts"]["stored"] == same["alerts"]["candidate"] > 0
    assert (same["blocks"]["gained_count"], same["blocks"]["lost_count"]) == (0, 0)
    assert same["blocks"]["stored"] > 0  # the guessing sources would be blocked (as if live)

    # fewer ports make a vertical scan: the stored one is lost
    fewer = backtest(history, "--set", "detect.port_scan.vertical_ports=5000")
    assert fewer["alerts"]["lost_count"] == 1 and fewer["alerts"]["gained_count"] == 0
    [lost] = fewer["alerts"]["lost"]
    assert (lost["kind"], lost["subkind"], lost["source"]) == ("port_scan", "vertical", "192.168.1.9")
    assert lost["id"] is not None  # the stored alert, by id
    assert fewer["alerts"]["by_kind"] == {"port_scan": {"gained": 0, "lost": 1}}
    assert fewer["alerts"]["by_source"] == {"192.168.1.9": {"gained": 0, "lost": 1}}

    # a candidate file without automatic blocks: every block is lost, the alerts stay
    candidate = tmp_path / "candidate.toml"
    candidate.write_text("[respond]\nauto_block = false\n")
    strict = backtest(history, "--config", str(candidate))
    assert strict["alerts"]["lost_count"] == 0 and strict["blocks"]["lost_count"] == same["blocks"]["stored"]
    assert strict["blocks"]["gained_count"] == 0 and strict["candidate"]["config"] == str(candidate)
    assert all(b["kind"].startswith("brute_force") for b in strict["blocks"]["lost"])
    # and --set goes on top of the file
    again = backtest(history, "--config", str(candidate), "--set", "respond.auto_block=true")
    assert (again["blocks"]["gained_count"], again["blocks"]["lost_count"]) == (0, 0)

    # the text report says the same, with examples
    text = CliRunner().invoke(cli, ["--db", history, "backtest", *WHOLE, "--set",
                                    "detect.port_scan.vertical_ports=5000"]).output
    assert "alerts:" in text and "-1 lost" in text and "- port_scan/vertical" in text and "192.168.1.9" in text
    assert "nothing was stored" in text
    assert row_counts(db) == before  # nothing stored, by any of the runs
    db.close()


@pytest.mark.parametrize("args, message", [
    (["--set", "detect.port_scan.vertical_ports=x"], "vertical_ports"),
    (["--set", "detect.nosuch.x=1"], "unknown detector"),
    (["--set", "nonsense"], "SECTION.KEY=VALUE"),
    (["--threshold", "0.5"], "--threshold goes with --model"),
    (["--model", "nosuch"], "no model"),
    (["--config", "/nonexistent.toml"], "does not exist"),
])
def test_bad_candidates_are_clear_errors(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    result = CliRunner().invoke(cli, ["--db", url, "backtest", *args])
    assert result.exit_code == 2 and message in result.output, result.output
