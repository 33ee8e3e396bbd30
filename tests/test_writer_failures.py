"""The writer process of an import failing to start, dying, or the import being interrupted: the parent raises a
clear error within a bounded time (never waits for ever, nor at its own exit), with the cause, and stores nothing
it did not say it stored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest
from sqlalchemy import create_engine, func, select

from netwarden.records import Event
from netwarden.store import alerts as alert_store
from netwarden.store import write_turns
from netwarden.store import writer as writer_module
from netwarden.store.database import Database
from netwarden.store.events import EventWriter
from netwarden.store.schema import events as event_table
from netwarden.store.writer import ProcessWriter, StoreBatch, WriterProcessError

REPO = Path(__file__).resolve().parents[1]
BOUND = 60  # seconds: far more than any of these takes when it works; without the fixes they never end


def within(seconds: float, call: Callable[[], Any]) -> BaseException | None:
    """Run ``call`` on a thread; the exception it raised (None if none). Fails if it has not ended in ``seconds``:
    a hang, which must fail the test rather than stop the run."""
    raised: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            raised.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert raised, f"still waiting after {seconds} s"
    return raised[0]


def rows(n: int, source_id: int | None = None) -> list[tuple]:
    events = [Event(timestamp=_time(i), source_kind="syslog", src_ip="203.0.113.9", message=f"line {i}")
              for i in range(n)]
    writer = EventWriter(create_engine("sqlite://").dialect)
    return writer.rows(events, source_id, list(range(1, n + 1)))


def _time(i: int) -> Any:
    from datetime import datetime, timedelta, timezone

    return datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i)


def stored(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(event_table)).scalar_one()


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@pytest.fixture
def sqlite_db(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    yield db
    db.close()


def test_close_after_the_writer_was_killed_with_its_inbox_full(sqlite_db: Database) -> None:
    """Killed before it read its inbox (full): close() waited for ever to hand it the end."""
    writer = ProcessWriter(sqlite_db, depth=2)
    writer.submit(StoreBatch(rows=rows(5)))
    writer.submit(StoreBatch(rows=rows(5)))
    os.kill(writer._process.pid, signal.SIGKILL)
    error = within(BOUND, writer.close)
    assert isinstance(error, WriterProcessError)
    assert "SIGKILL" in str(error) and "not stored" in str(error)
    assert not writer._process.is_alive()
    assert stored(sqlite_db) == 0


def test_submit_after_the_writer_was_killed(sqlite_db: Database) -> None:
    writer = ProcessWriter(sqlite_db, depth=2)
    writer.submit(StoreBatch(rows=rows(5)))
    os.kill(writer._process.pid, signal.SIGKILL)

    def submit_more() -> None:
        for _ in range(5):
            writer.submit(StoreBatch(rows=rows(5)))

    error = within(BOUND, submit_more)
    assert isinstance(error, WriterProcessError) and "SIGKILL" in str(error)
    # a caller that goes on (a live stream keeps the error for later) is refused at once, not kept waiting
    again = within(BOUND, submit_more)
    assert isinstance(again, WriterProcessError) and "not stored" in str(again)
    assert within(BOUND, writer.close) is None  # already raised: nothing more to say
    assert stored(sqlite_db) == 0


def test_a_database_the_writer_cannot_open_is_named_with_its_cause(tmp_path: Path) -> None:
    """Was only "the writer process died (exit code 1)"; the cause went to stderr."""
    url = f"sqlite:///{tmp_path}"  # a directory: SQLite cannot open it (the parent's engine has not tried)
    engine = create_engine(url)
    writer = ProcessWriter(SimpleNamespace(engine=engine, dialect="sqlite"), depth=2)  # type: ignore[arg-type]

    def use() -> None:
        for _ in range(4):
            writer.submit(StoreBatch(rows=rows(2)))
        writer.close()

    error = within(BOUND, use)
    assert isinstance(error, WriterProcessError)
    assert "could not open the database" in str(error) and "unable to open database file" in str(error)
    engine.dispose()


def _exit_at_once(*_args: Any) -> None:
    os._exit(3)  # as an import error or a crash before it answers


def _never_answer(*_args: Any) -> None:
    time.sleep(600)


@pytest.mark.parametrize("close_at_once", [False, True])
def test_a_writer_that_dies_before_it_starts(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch,
                                            close_at_once: bool) -> None:
    monkeypatch.setattr(writer_module, "_process_main", _exit_at_once)  # spawn: found by name in the child
    writer = ProcessWriter(sqlite_db, depth=2)

    def use() -> None:
        if not close_at_once:
            for _ in range(4):
                writer.submit(StoreBatch(rows=rows(2)))
        writer.close()

    error = within(BOUND, use)
    assert isinstance(error, WriterProcessError)
    assert "before it opened the database" in str(error) and "exit code 3" in str(error)


def test_a_writer_that_never_starts(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "_process_main", _never_answer)
    monkeypatch.setattr(writer_module, "START_TIMEOUT", 2.0)
    writer = ProcessWriter(sqlite_db, depth=2)

    def use() -> None:
        for _ in range(4):
            writer.submit(StoreBatch(rows=rows(2)))

    error = within(BOUND, use)
    assert isinstance(error, WriterProcessError) and "did not open the database within 2 s" in str(error)
    assert not writer._process.is_alive()  # stopped, not left behind
    assert within(BOUND, writer.close) is None


def test_the_engine_is_not_kept_waiting_by_a_writer_that_dies(tmp_path: Path) -> None:
    """The engine waits for SQLite's lock with the turn flag up, the writer process waits too (another connection
    holds the lock), and the writer is killed: once the lock is free the engine writes, with nothing owed to the
    dead writer; the writer's rows are not stored and the flag is unshared once the parent knows."""
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    writer = ProcessWriter(db, depth=2, parts=2)
    blocker = sqlite3.connect(tmp_path / "nw.db", timeout=30)
    try:
        turn = write_turns.flag_of(db.engine)
        assert turn is not None
        blocker.execute("BEGIN IMMEDIATE")
        writer.submit(StoreBatch(rows=rows(50)))
        deadline = time.monotonic() + BOUND
        while not writer._started and time.monotonic() < deadline:  # it opened the database
            writer._scraped()
            time.sleep(0.05)
        got: list[BaseException | None] = []
        with db.engine.begin() as conn:
            engine = threading.Thread(target=lambda: got.append(within(BOUND, lambda: alert_store.lock_for_writing(
                conn))))
            engine.start()
            while not turn.value and engine.is_alive():  # the engine waits, its flag up
                time.sleep(0.01)
            os.kill(writer._process.pid, signal.SIGKILL)
            time.sleep(0.3)
            blocker.rollback()
            engine.join(BOUND)
            assert got == [None]
            assert turn.value == 0
        assert isinstance(within(BOUND, writer.close), WriterProcessError)
        assert write_turns.flag_of(db.engine) is None
        assert stored(db) == 0
    finally:
        blocker.close()
        if writer._process.is_alive():
            writer._process.kill()
        db.close()


PARENT = """
import sys
from netwarden.store.database import Database
from netwarden.store.writer import ProcessWriter, StoreBatch
from tests.test_writer_failures import rows

if __name__ == "__main__":
    db = Database.open(sys.argv[1])
    batch = StoreBatch(rows=rows(20_000))  # megabytes pickled: far more than a pipe holds
    with ProcessWriter(db, depth=2) as writer:
        print(writer._process.pid, flush=True)
        for n in range(50):
            if n == 3:  # one batch taken, two in the inbox, the third half written into the pipe: this one waits
                print("blocked", flush=True)
            writer.submit(batch)
"""


@pytest.mark.parametrize("how", ["ctrl-c", "writer killed"])
def test_an_interrupted_import_ends_with_no_writer_left(tmp_path: Path, how: str) -> None:
    """The writer waits for SQLite's lock (held here), its inbox full, a batch half written into the pipe; then
    Ctrl-C (to the process group, as a terminal sends it), or the writer is killed. The parent ended its writer
    and then waited for ever at its exit, to flush that batch into a pipe nobody reads any more."""
    path = tmp_path / "nw.db"
    Database.open(f"sqlite:///{path}").close()
    blocker = sqlite3.connect(path, timeout=30)
    blocker.execute("BEGIN IMMEDIATE")
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    parent = subprocess.Popen([sys.executable, str(script), f"sqlite:///{path}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, text=True, cwd=REPO, start_new_session=True)
    writer = 0
    try:
        writer = int(parent.stdout.readline())  # type: ignore[union-attr]
        assert parent.stdout.readline().strip() == "blocked"  # type: ignore[union-attr]
        time.sleep(0.5)
        if how == "ctrl-c":
            os.killpg(parent.pid, signal.SIGINT)
        else:
            os.kill(writer, signal.SIGKILL)
        _, err = parent.communicate(timeout=BOUND)
        assert parent.returncode != 0
        assert ("KeyboardInterrupt" if how == "ctrl-c" else "WriterProcessError") in err, err[:1500]
        assert not alive(writer)
    finally:
        blocker.rollback()
        blocker.close()
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.communicate()
        if writer and alive(writer):
            os.kill(writer, signal.SIGKILL)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_a_writer_that_opened_the_database_is_not_taken_for_one_that_never_did(sqlite_db: Database, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """close() waits to hand over the end while the writer process, started, waits for SQLite's lock (another
    connection holds it) with its inbox full. The parent had not read the writer's word that it started (its last
    submit went through as the writer took a batch): past START_TIMEOUT it killed a working writer, saying it
    "did not open the database", and the batches were not stored."""
    blocker = sqlite3.connect(tmp_path / "nw.db", timeout=30, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    writer = ProcessWriter(sqlite_db, depth=1)
    release: threading.Timer | None = None
    try:
        writer.submit(StoreBatch(rows=rows(5)))
        writer.submit(StoreBatch(rows=rows(5)))  # goes in once the writer process, started, takes the first
        # the parent gives up on a writer that never started half a second into close()'s wait
        monkeypatch.setattr(writer_module, "START_TIMEOUT", time.monotonic() - writer._begun + 0.5)
        release = threading.Timer(3.0, blocker.rollback)  # the lock is free again later
        release.start()
        assert within(BOUND, writer.close) is None
        assert stored(sqlite_db) == 10
    finally:
        if release is not None:
            release.cancel()
            release.join()
        blocker.close()
        if writer._process.is_alive():
            writer._process.kill()
