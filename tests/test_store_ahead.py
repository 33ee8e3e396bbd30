"""A file import with detection hands each batch to the writer process before detection and its position after it
(``Pipeline.store_parts(ahead=True)``): the events are stored while detection looks at them, the input's
``stored_lines`` runs ahead of its position meanwhile, and an import interrupted in between detects those lines
again when rerun without storing any of them twice."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from netwarden.collect.follow import Follower
from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.store import sources as source_store
from netwarden.store import writer as writer_module
from netwarden.store.database import Database
from netwarden.store.schema import alerts, events, ingest_sources, quarantine

T0 = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
BATCH = 400
LINES = 2000
ATTACK = "/item.php?id=1%27%20OR%20%271%27%3D%271"


def access(i: int) -> str:
    when = T0 + timedelta(seconds=i // 4)
    url = ATTACK if i % 5 == 0 else f"/page/{i % 37}.html"
    return f'198.18.0.{i % 50 + 1} - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "GET {url} HTTP/1.1" 200 512 "-" "Mozilla/5.0"'


def attack_log(path: Path) -> Path:
    """Page views and SQL injections from 50 addresses, with a line that is not one every 250 lines."""
    path.write_text("".join(("not an access log line" if i % 250 == 7 else access(i)) + "\n" for i in range(LINES)))
    return path


def pipeline(db: Database) -> Pipeline:
    settings = load_settings(environ={"NETWARDEN_INGEST_BATCH_SIZE": str(BATCH),
                                      "NETWARDEN_RESPOND_HISTORY_AFTER": "1d"})
    return Pipeline.from_settings(db, settings)


def source_row(db: Database) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(select(ingest_sources)).one()


def stored_lines(db: Database) -> list[int]:
    with db.engine.connect() as conn:
        return sorted([r[0] for r in conn.execute(select(events.c.line_no))]
                      + [r[0] for r in conn.execute(select(quarantine.c.line_no))])


def alert_counts(db: Database) -> dict[tuple, int]:
    with db.engine.connect() as conn:
        return {(r.kind, r.subkind, r.source): r.count for r in conn.execute(select(alerts))}


@pytest.fixture(autouse=True)
def _writer_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)  # a small file, imported as a large one is


def wait_for(db: Database, lines: int) -> Any:
    """The input's row once the events of its first ``lines`` lines are stored (by the writer process)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = source_row(db)
        if (row.stored_lines or 0) >= lines:
            return row
        time.sleep(0.02)
    raise AssertionError(f"the writer did not store {lines} lines")


def test_a_batch_is_stored_while_detection_looks_at_it(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'ahead.db'}")
    seen: list[Any] = []

    def looking(batch: list) -> None:  # a detection stage: the third batch's events are stored already
        if len(seen) == 2:
            seen.append(wait_for(db, 3 * BATCH))
        else:
            seen.append(None)

    p = pipeline(db)
    p.stages.detect = (looking, *p.stages.detect)
    try:
        result = p.ingest_file(attack_log(tmp_path / "access.log"), "access_log")
    finally:
        p.close()
    during = seen[2]
    # the position waits for detection; the events are stored (5 of the first 1,200 lines are quarantined)
    assert (during.lines, during.stored_lines, during.events, during.quarantined) == (2 * BATCH, 3 * BATCH, 1195, 5)
    assert stored_lines(db)[:3 * BATCH] == list(range(1, 3 * BATCH + 1))
    row = source_row(db)
    assert (row.lines, row.stored_lines, row.events, row.quarantined, row.complete) == (LINES, LINES, LINES - 8, 8, True)
    assert (result.events, result.quarantined_total) == (LINES - 8, 8)
    assert stored_lines(db) == list(range(1, LINES + 1))


def interrupted(tmp_path: Path, path: Path) -> Database:
    """The import of ``path`` stopped by an interruption once the third batch is stored, before its detection."""
    db = Database.open(f"sqlite:///{tmp_path / 'interrupted.db'}")
    calls = [0]

    def interrupting(batch: list) -> None:
        calls[0] += 1
        if calls[0] == 3:
            wait_for(db, 3 * BATCH)
            raise KeyboardInterrupt

    p = pipeline(db)
    p.stages.detect = (interrupting, *p.stages.detect)
    try:
        with pytest.raises(KeyboardInterrupt):
            p.ingest_file(path, "access_log")
    finally:
        p.close()
    row = source_row(db)
    assert (row.lines, row.stored_lines, row.events, row.quarantined) == (2 * BATCH, 3 * BATCH, 1195, 5)
    assert stored_lines(db) == list(range(1, 3 * BATCH + 1))
    return db


def test_an_interrupted_import_detects_what_it_stored_ahead_and_stores_it_once(tmp_path: Path) -> None:
    path = attack_log(tmp_path / "access.log")
    whole = Database.open(f"sqlite:///{tmp_path / 'whole.db'}")
    p = pipeline(whole)
    try:
        p.ingest_file(path, "access_log")
    finally:
        p.close()
    db = interrupted(tmp_path, path)
    before = alert_counts(db)

    p = pipeline(db)
    try:
        rerun = p.ingest_file(path, "access_log")
    finally:
        p.close()
    # the lines stored ahead were detected, not stored again; the counts are of what this run stored
    assert rerun.resumed_at_line == 2 * BATCH
    assert (rerun.events, rerun.quarantined_total) == (LINES - 3 * BATCH - 3, 3)
    assert stored_lines(db) == list(range(1, LINES + 1))
    row = source_row(db)
    assert (row.lines, row.events, row.quarantined, row.complete) == (LINES, LINES - 8, 8, True)
    after, expected = alert_counts(db), alert_counts(whole)
    assert after.keys() == expected.keys() and any(after[k] > before.get(k, 0) for k in after)
    assert after == expected  # the third batch's attacks counted once


def test_stored_lines_never_go_back(tmp_path: Path) -> None:
    """A rerun starts again at the usual batch size: its first parts store fewer lines than the interrupted run's
    grown batch did; the input keeps the furthest (or a second interruption would store those lines again)."""
    path = attack_log(tmp_path / "access.log")
    db = interrupted(tmp_path, path)
    with db.engine.begin() as conn:
        source_store.advance(conn, source_row(db).id, None, name=None, events=0, quarantined=0,
                             stored_lines=2 * BATCH + 10)
    assert source_row(db).stored_lines == 3 * BATCH
    with db.engine.begin() as conn:
        source_store.advance(conn, source_row(db).id, None, name=None, events=0, quarantined=0,
                             stored_lines=4 * BATCH)
    assert source_row(db).stored_lines == 4 * BATCH


def test_following_after_an_interrupted_import_stores_each_line_once(tmp_path: Path) -> None:
    path = attack_log(tmp_path / "access.log")
    db = interrupted(tmp_path, path)
    follower = Follower(Pipeline(db), [path], "access_log", poll_interval=0.02, rotate_grace=0.2)
    try:
        for _ in range(200):
            follower.poll()
            if source_row(db).lines == LINES:
                break
            time.sleep(0.01)
    finally:
        follower.close()
    assert stored_lines(db) == list(range(1, LINES + 1))
    row = source_row(db)
    assert (row.lines, row.events, row.quarantined) == (LINES, LINES - 8, 8)
    stats = follower.stats[str(path)]
    assert (stats.resumed_at_line, stats.events) == (2 * BATCH, LINES - 3 * BATCH - 3)
