"""An input's position is stored with its batch; a position that expects another offset stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from netwarden.records import Event
from netwarden.store import sources as source_store
from netwarden.store.database import Database
from netwarden.store.events import EventWriter
from netwarden.store.sources import Position, SourceConflict
from netwarden.store.writer import DirectWriter, StoreBatch


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    yield db
    db.close()


def _batch(db: Database, source_id: int, position: Position, n: int, name: str = "/var/log/a.log") -> StoreBatch:
    events = [Event(timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc), source_kind="access_log",
                    src_ip=f"203.0.113.{i}") for i in range(n)]
    rows = EventWriter(db.engine.dialect).rows(events, source_id, list(range(1, n + 1)))
    return StoreBatch(rows, None, [], source_id, name, position)


def _events(db: Database) -> int:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM events")).scalar() or 0)


def test_a_conditional_position_advances_once_and_a_stale_one_stores_nothing(sqlite_db: Database) -> None:
    with sqlite_db.engine.begin() as conn:
        source_id = source_store.create(conn, kind="file", name="/var/log/a.log", fmt="access_log",
                                        first_line_sha="f" * 64, prefix_sha="0" * 64)
    writer = DirectWriter(sqlite_db)
    writer.submit(_batch(sqlite_db, source_id, Position(100, "a" * 64, 2, expected_offset=0), 2))
    # a second reader that also started from offset 0: its batch and its position are rolled back together
    with pytest.raises(SourceConflict):
        writer.submit(_batch(sqlite_db, source_id, Position(150, "b" * 64, 3, expected_offset=0), 3))
    with sqlite_db.engine.connect() as conn:
        row = source_store.get(conn, source_id)
    assert row is not None and (row["offset"], row["prefix_sha"], row["lines"], row["events"]) == (100, "a" * 64, 2, 2)
    assert _events(sqlite_db) == 2
    # unconditional (an import): advances whatever is stored; keep_name leaves the name it was read under
    writer.submit(_batch(sqlite_db, source_id, Position(200, "c" * 64, 4, complete=True, keep_name=True), 1,
                         name="/var/log/a.log.1"))
    with sqlite_db.engine.connect() as conn:
        row = source_store.get(conn, source_id)
        assert [r["id"] for r in source_store.last_read_as(conn, "file", "/var/log/a.log")] == [source_id]
    assert row is not None and (row["offset"], row["complete"], row["events"]) == (200, True, 3)
    assert _events(sqlite_db) == 3
