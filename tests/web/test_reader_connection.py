"""A reader process keeps one database connection between its jobs (netwarden.web.readers.connection): the same
connection for every job, no transaction left open after one (its snapshot would hide newer rows), a new one
after it broke; anywhere else each job takes one from the pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from netwarden.store.database import Database
from netwarden.web import readers


@pytest.fixture
def reader_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    db = Database.open(f"sqlite:///{tmp_path / 'r.db'}")
    own = db.engine.connect()
    monkeypatch.setattr(readers, "_own", (db, own))
    yield db, own
    own.close()
    db.close()


def test_jobs_share_the_reader_connection_and_end_their_transaction(reader_db) -> None:  # type: ignore[no-untyped-def]
    db, own = reader_db
    for _ in range(3):
        with readers.connection(db) as conn:
            assert conn is own
            conn.execute(text("SELECT count(*) FROM events")).scalar()
            assert conn.in_transaction()
        assert not own.in_transaction()
    with db.engine.begin() as writer:  # a row written between two jobs is seen by the next
        writer.execute(text("CREATE TABLE t (x INTEGER)"))
        writer.execute(text("INSERT INTO t VALUES (1)"))
    with readers.connection(db) as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 1


def test_a_failed_job_leaves_a_usable_connection_and_a_closed_one_is_replaced(reader_db) -> None:  # type: ignore[no-untyped-def]
    db, own = reader_db
    with pytest.raises(Exception, match="no such table"):
        with readers.connection(db) as conn:
            conn.execute(text("SELECT * FROM nowhere"))
    with readers.connection(db) as conn:
        assert conn is own and conn.execute(text("SELECT 1")).scalar() == 1
    own.close()
    with readers.connection(db) as conn:
        assert conn is not own and conn.execute(text("SELECT 1")).scalar() == 1
    readers._own[1].close()


def test_elsewhere_each_job_takes_a_pooled_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "_own", None)
    db = Database.open(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with readers.connection(db) as first:
            first.execute(text("SELECT 1"))
        assert first.closed
    finally:
        db.close()
