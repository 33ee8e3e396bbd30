"""lock_for_writing: the engine takes SQLite's write lock in a gap between the writer process's transactions."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from netwarden.store import alerts as alert_store
from netwarden.store.database import Database


def _hold_lock(path: Path, seconds: float, taken: threading.Event) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    taken.set()
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


def test_waits_for_the_other_writer_then_writes_and_restores_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nw.db"
    db = Database.open(f"sqlite:///{path}")
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, 0.35, taken))
    holder.start()
    assert taken.wait(5)
    started = time.perf_counter()
    with db.engine.begin() as conn:
        alert_store.lock_for_writing(conn)
        waited = time.perf_counter() - started
        assert conn.connection.dbapi_connection.in_transaction
        conn.execute(text("INSERT INTO suppressions (kind, source, signature, note, created_by, created) "
                          "VALUES ('scan', '10.0.0.1', 'x', 'test', 'test', '2026-01-01')"))
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    holder.join(5)
    assert 0.3 <= waited < 0.6  # the default busy handler's 100 ms steps would often miss the release
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM suppressions")).scalar() == 1
    db.close()


def test_still_says_locked_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nw.db"
    db = Database.open(f"sqlite:///{path}")
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, 1.0, taken))
    holder.start()
    assert taken.wait(5)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA busy_timeout=100")
        conn.commit()
        started = time.perf_counter()
        with pytest.raises(OperationalError, match="locked"):
            with conn.begin():
                alert_store.lock_for_writing(conn)
        assert 0.09 <= time.perf_counter() - started < 0.8
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 100
    holder.join(5)
    db.close()
