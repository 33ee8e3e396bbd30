"""lock_for_writing: the engine takes SQLite's write lock in a gap between the writer process's transactions."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _another_writer(path: Path, seconds: float) -> Iterator[None]:
    """Another connection (the writer process's part) holds the write lock for ``seconds`` from now."""
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, seconds, taken))
    holder.start()
    assert taken.wait(5)
    try:
        yield
    finally:
        holder.join(5)


def test_waits_for_the_other_writer_then_writes_and_restores_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nw.db"
    db = Database.open(f"sqlite:///{path}")
    with _another_writer(path, 0.35), db.engine.begin() as conn:
        started = time.perf_counter()
        alert_store.lock_for_writing(conn)
        waited = time.perf_counter() - started
        assert conn.connection.dbapi_connection.in_transaction
        conn.execute(text("INSERT INTO suppressions (kind, source, signature, note, created_by, created) "
                          "VALUES ('scan', '10.0.0.1', 'x', 'test', 'test', '2026-01-01')"))
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert waited >= 0.3  # it waited for the other writer (how soon after the release it got in: benchmarks)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM suppressions")).scalar() == 1
    db.close()


def test_still_says_locked_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nw.db"
    db = Database.open(f"sqlite:///{path}")
    with _another_writer(path, 1.0), db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA busy_timeout=100")
        conn.commit()
        started = time.perf_counter()
        with pytest.raises(OperationalError, match="locked"):  # raised while the other still holds the lock
            with conn.begin():
                alert_store.lock_for_writing(conn)
        assert time.perf_counter() - started >= 0.09  # after trying for the busy timeout, not at once
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 100
    db.close()


def test_leaves_checkpoints_to_the_import_writer_process_then_its_own_setting_again(tmp_path: Path) -> None:
    """While a file import's writer process shares its flag (write_turns), the engine's connection does not
    checkpoint the WAL (the writer process does); afterwards the connection's own setting is back."""
    from netwarden.store import write_turns

    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")

    def locked_then_setting() -> int:
        with db.engine.begin() as conn:
            alert_store.lock_for_writing(conn)
            return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar())

    assert locked_then_setting() == 1000  # SQLite's default: no import, nothing changed
    flag = type("Flag", (), {"value": 0})()
    write_turns.share(db.engine, flag)
    try:
        assert locked_then_setting() == 0
        assert locked_then_setting() == 0
    finally:
        write_turns.unshare(db.engine, flag)
    assert locked_then_setting() == 1000
    db.close()


def test_after_the_import_a_connection_checkpoints_again_whatever_it_is_used_for(tmp_path: Path) -> None:
    """The connection the engine wrote alerts on during an import goes back to the pool: used afterwards for
    anything but the engine's writes (``netwarden follow`` storing lines after recovering a rotated copy), it kept
    checkpoints off, and the WAL grew without end until the engine next wrote an alert on it."""
    from netwarden.store import write_turns

    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    flag = type("Flag", (), {"value": 0})()
    write_turns.share(db.engine, flag)
    try:
        with db.engine.begin() as conn:
            alert_store.lock_for_writing(conn)
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    finally:
        write_turns.unshare(db.engine, flag)
    with db.engine.begin() as conn:  # the pool's connection, as any other write takes it
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    db.close()


def test_waiting_leaves_no_reference_cycles(tmp_path: Path) -> None:
    """Each refusal used to come as SQLAlchemy's wrapped error, whose traceback's frames referred to it: reference
    cycles that kept those frames, and whatever their callers held (a batch's events), until the cyclic collector
    ran (40 % of a 100,000-line import's events). Now what a wait leaves behind is freed as it goes."""
    import gc

    path = tmp_path / "nw.db"
    db = Database.open(f"sqlite:///{path}")
    with db.engine.connect():
        pass
    gc.collect()
    gc.disable()
    try:
        with _another_writer(path, 0.2), db.engine.begin() as conn:
            alert_store.lock_for_writing(conn)
        found = gc.collect()
    finally:
        gc.enable()
        db.close()
    assert found < 50, found
