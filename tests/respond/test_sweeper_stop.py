"""The block-expiry sweeper stops when its responder is closed, and a web app's teardown closes what the app
started on first use: a sweeper left running outlived its test's database and failed every round
("block expiry sweep failed ... no such table: blocks" in CI)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from netwarden.respond.responder import RUNNING, Responder
from netwarden.respond.settings import RespondSettings
from netwarden.store.database import Database
from tests.web.conftest import Web


def test_closing_stops_the_sweeper_at_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'r.db'}")
    responder = Responder(db, RespondSettings(sweep_every=0.05)).start()
    sweeper = responder._sweeper
    assert sweeper is not None and sweeper.is_alive() and responder in RUNNING
    time.sleep(0.2)  # a few rounds, on a working database: nothing to say
    started = time.monotonic()
    responder.close()
    assert not sweeper.is_alive() and time.monotonic() - started < 5.0  # stopped, not waited out
    assert responder not in RUNNING and responder._sweeper is None
    db.close()
    (tmp_path / "r.db").unlink()
    time.sleep(0.2)  # rounds that would have run on a vanished database
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_web_teardown_stops_the_intake_pipelines_sweeper(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'web.db'}")
    web = Web(db)
    pipeline = web.app.state.runtime.intake_pipeline()  # built on first use, as the intake and rule edits do
    sweeper = pipeline.response.responder._sweeper
    assert sweeper is not None and sweeper.is_alive()
    web.close()
    assert not sweeper.is_alive()
    assert not [r for r in RUNNING if r.db is db]
    db.close()
