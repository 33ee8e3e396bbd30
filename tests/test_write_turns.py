"""A file import into SQLite: the writer process stores the batches in parts, and commits at the end of a part
when the detection engine waits for SQLite's write lock (netwarden.store.write_turns). Same results, and the
engine never waits for a whole batch's transaction."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from netwarden.records import Event
from netwarden.store import alerts as alert_store
from netwarden.store import sources as source_store
from netwarden.store import write_turns
from netwarden.store import writer as writer_module
from netwarden.store.database import Database
from netwarden.store.events import EventWriter
from netwarden.store.schema import events as event_table
from netwarden.store.schema import rollups
from netwarden.store.sources import Position
from netwarden.store.writer import StoreBatch
from tests.detect.ssh_reference import INPUTS, REFERENCE, generate, outcome
from tests.store.test_write_lock import _another_writer


@pytest.mark.parametrize(("name", "lines", "variants"), INPUTS, ids=[i[0] for i in INPUTS])
def test_ssh_reference_through_the_writer_process_in_parts(datasets: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, name: str, lines: int,
                                                           variants: int) -> None:
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    monkeypatch.setattr(writer_module, "NEXT_PART_WAIT", 0.0)  # commit often: more turns taken with the engine
    made = []

    class Recording(writer_module.ProcessWriter):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*a, **kw)
            made.append(self.transactions_per_batch)

    monkeypatch.setattr(writer_module, "ProcessWriter", Recording)
    expected = json.loads((REFERENCE / f"{name}.json").read_text())
    got = json.loads(json.dumps(outcome(generate(tmp_path, name, lines, variants), tmp_path / "nw.db"),
                                sort_keys=True, default=str))
    assert made == [writer_module.FILE_IMPORT_PARTS] and made[0] > 1
    assert (got["lines"], got["events"], got["quarantined"]) == (expected["lines"], expected["events"],
                                                                  expected["quarantined"])
    assert got["alerts"] == expected["alerts"]
    assert got["incidents"] == expected["incidents"]
    assert got["events_sha256"] == expected["events_sha256"]


@pytest.mark.parametrize("waiting", [False, True])
def test_parts_join_the_open_transaction_unless_the_engine_waits(tmp_path: Path, waiting: bool) -> None:
    """Each part's rows are stored, their rollups added and the input advanced once, to the last part's position."""
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    events = EventWriter(db.engine.dialect)
    with db.engine.begin() as conn:
        source_id = source_store.create(conn, kind="file", name="in.log", fmt="syslog", first_line_sha="x",
                                        prefix_sha="y")

    def part(n: int) -> StoreBatch:
        event = Event(timestamp=datetime(2026, 1, 1, 0, n, tzinfo=timezone.utc), source_kind="syslog",
                      src_ip="203.0.113.9")
        batch = StoreBatch(events.rows([event], source_id, [n]), None, [], source_id, "in.log",
                           Position(10 * n, f"sha{n}", n))
        writer_module.prepare_batch(events, batch)
        return batch

    items = [(part(n), None) for n in (2, 3, 4)] + [None]  # three more parts, then the end (_STOP)
    turn = SimpleNamespace(value=1 if waiting else 0)
    written = [part(1)]
    with db.engine.begin() as conn:
        after = writer_module._write_parts(conn, events, lambda _timeout: items.pop(0), turn, written, None)
    with db.engine.connect() as conn:
        (stored,) = source_store.all_sources(conn)
        minutes = conn.execute(select(func.count()).select_from(rollups)).scalar()
        rows = conn.execute(select(func.count()).select_from(event_table)).scalar()
    db.close()
    if waiting:  # commit at once: the engine writes next
        assert (len(written), len(items), rows, minutes) == (1, 4, 1, 1)
        assert (stored["offset"], stored["prefix_sha"], stored["lines"], stored["events"]) == (10, "sha1", 1, 1)
    else:  # the parts, then the end handed back to be handled after the commit
        assert (len(written), after, items, rows, minutes) == (4, None, [], 4, 4)
        assert (stored["offset"], stored["prefix_sha"], stored["lines"], stored["events"]) == (40, "sha4", 4, 4)


def test_the_engine_raises_the_flag_while_it_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "nw.db"
    db = Database.open(f"sqlite:///{path}")
    turn = SimpleNamespace(value=0)
    seen = []
    write_turns.share(db.engine, turn)
    try:
        with _another_writer(path, 0.3), db.engine.begin() as conn:
            watcher = threading.Thread(target=lambda: (time.sleep(0.1), seen.append(turn.value)))
            watcher.start()
            alert_store.lock_for_writing(conn)
            watcher.join()
            assert turn.value == 0  # down once it holds the lock
    finally:
        write_turns.unshare(db.engine, turn)
        db.close()
    assert seen == [1]
    assert write_turns.flag_of(db.engine) is None


def test_the_writer_process_checkpoints_while_it_has_nothing_to_write(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A file import's writer process, idle (the parsing process detects), copies the WAL back into the database:
    otherwise the next commit with SQLite's default threshold, the engine's once the import ends, would do it on the
    critical path (0.2 s after a 300,000-line flood). Its own threshold (FILE_IMPORT_CHECKPOINT_PAGES) is far off."""
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    path = tmp_path / "nw.db"
    db = Database.open(f"sqlite:///{path}")
    events = EventWriter(db.engine.dialect)
    with db.engine.begin() as conn:
        source_id = source_store.create(conn, kind="file", name="in.log", fmt="syslog", first_line_sha="x",
                                        prefix_sha="y")
    n = writer_module.IDLE_CHECKPOINT_ROWS
    rows = events.rows([Event(timestamp=datetime(2026, 1, 1, 0, i % 60, tzinfo=timezone.utc), source_kind="syslog",
                              src_ip=f"203.0.113.{i % 250}", message="x" * 100) for i in range(n)],
                       source_id, list(range(1, n + 1)))
    writer = writer_module.open_writer(db, 1 << 30, file_import=True, in_parts=True)
    try:
        assert isinstance(writer, writer_module.ProcessWriter) and writer.transactions_per_batch > 1
        with db.engine.connect() as conn:  # this process's connection: no checkpoint on its close either
            size = path.stat().st_size
            half = n // 2  # not yet: fewer rows than it checkpoints after
            writer.submit(StoreBatch(rows[:half], None, [], source_id, "in.log", Position(half, "a", half)))
            deadline = time.monotonic() + 20
            while source_store.get(conn, source_id)["lines"] < half and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(10 * writer_module.IDLE_CHECKPOINT_WAIT)
            assert path.stat().st_size == size  # in the WAL only
            writer.submit(StoreBatch(rows[half:], None, [], source_id, "in.log", Position(n, "b", n)))
            while path.stat().st_size < size + 100 * n and time.monotonic() < deadline:  # (copied as it goes)
                time.sleep(0.02)
            grown = path.stat().st_size
            assert conn.execute(select(func.count()).select_from(event_table)).scalar() == n
    finally:
        writer.close()
        db.close()
    assert grown > size + 100 * n  # the rows' pages are in the database file, not only in its WAL
