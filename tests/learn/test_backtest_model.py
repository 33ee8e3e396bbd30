"""``netwarden backtest --model NAME[:VERSION] --threshold T``: a trained model that is not active is
tried on the stored events — its alerts show as gained, a stricter threshold gains fewer, and neither the
registry (the model stays inactive) nor any table changes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.config import load_settings
from netwarden.learn import data
from netwarden.learn.base import create
from netwarden.learn.registry import open_registry
from netwarden.pipeline import Pipeline
from netwarden.store.database import Database
from tests.test_backtest import row_counts


def test_backtest_tries_a_model_that_is_not_active(tmp_path: Path, kdd_file: Path, kdd_events) -> None:  # type: ignore[no-untyped-def]
    rows = gzip.decompress(kdd_file.read_bytes()).decode().splitlines()
    (tmp_path / "new.txt").write_text("\n".join(rows[4000:4600]) + "\n")
    settings = load_settings(environ={})
    url = settings.database.url = f"sqlite:///{tmp_path / 'nw.db'}"
    db = Database.open(url)
    pipeline = Pipeline.from_settings(db, settings)
    pipeline.ingest_file(tmp_path / "new.txt")
    pipeline.close()
    registry = open_registry(db, settings)
    train = kdd_events[:3000]
    record = registry.add(create("random_forest", n_estimators=30).fit(train, data.targets(train, "binary")),
                          name="kdd", data={}, metrics={})
    before = row_counts(db)

    def backtest(*args: str) -> dict:
        result = CliRunner().invoke(cli, ["--db", url, "backtest", "--since", "2d", "--json", *args],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    without = backtest()
    assert without["alerts"]["by_kind"].get("ml") is None
    loose = backtest("--model", record.ref, "--threshold", "0.5")
    strict = backtest("--model", "kdd", "--threshold", "0.999")
    assert loose["alerts"]["by_kind"]["ml"]["gained"] > 0 and loose["alerts"]["gained"][0]["kind"] == "ml"
    # NSL-KDD rows carry no addresses: one alert, whose count is the events judged attacks
    flagged = {name: sum(a["count"] for a in r["alerts"]["gained"] if a["kind"] == "ml")
               for name, r in (("loose", loose), ("strict", strict))}
    assert 0 <= flagged["strict"] < flagged["loose"]
    assert loose["candidate"]["model"] == record.ref and loose["candidate"]["threshold"] == 0.5
    assert row_counts(db) == before and not registry.get(record.ref).active
    db.close()
