"""``netwarden follow``: growing files, partial lines, rotation, copytruncate, restarts and crashes.

Every line written carries its number (URL ``/p<i>``), so "nothing lost, nothing repeated" is checked
as: the stored numbers are exactly 0..N-1, each once. Most rotation mechanics drive the follower one
poll at a time (deterministic) on SQLite; what depends on transactions runs on every engine.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from netwarden.collect.follow import Follower
from netwarden.pipeline import Pipeline
from netwarden.store import sources as source_store
from netwarden.store.database import Database
from netwarden.store.schema import events, quarantine

REPO = Path(__file__).resolve().parents[2]


def access_line(i: int) -> str:
    return (f'192.0.2.{i % 250 + 1} - - [17/May/2015:{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000] '
            f'"GET /p{i} HTTP/1.1" 200 {i} "-" "agent"')


def append(path: Path, numbers: range | list[int], mode: str = "a") -> None:
    with path.open(mode) as f:
        f.writelines(access_line(i) + "\n" for i in numbers)


def numbers(db: Database) -> list[int]:
    """The line numbers (from the URL) of every stored event, sorted, duplicates kept."""
    with db.engine.connect() as conn:
        return sorted(int(url[2:]) for (url,) in conn.execute(select(events.c.url)))


def count(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(events)).scalar_one()


def assert_exactly(db: Database, n: int) -> None:
    got = numbers(db)
    dupes = [k for k, v in Counter(got).items() if v > 1]
    missing = sorted(set(range(n)) - set(got))
    assert not dupes and not missing and len(got) == n, f"duplicates {dupes[:10]}, missing {missing[:10]}"


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def poll_until(follower: Follower, predicate: Callable[[], bool], polls: int = 200) -> bool:
    for _ in range(polls):
        follower.poll()
        if predicate():
            return True
        time.sleep(0.005)
    return False


def make(db: Database, path: Path, **kw) -> Follower:  # type: ignore[no-untyped-def]
    kw.setdefault("poll_interval", 0.02)
    kw.setdefault("rotate_grace", 0.2)
    errors: list[str] = []
    follower = Follower(Pipeline(db, **kw.pop("pipeline", {})), [path], kw.pop("fmt", "access_log"),
                        on_error=lambda p, m: errors.append(m), **kw)
    follower.errors = errors  # type: ignore[attr-defined]
    return follower


@pytest.fixture
def sqlite_db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database.open(f"sqlite:///{tmp_path / 'follow.db'}")
    yield database
    database.close()


# -- on every engine ----------------------------------------------------------------------------------

@pytest.mark.engines
def test_appended_lines_appear_within_a_second(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    follower = make(db, path, fmt="auto")
    follower.start()
    try:
        assert wait_for(lambda: follower.stats[str(path)].state == "waiting", 2)  # not there yet
        append(path, range(3))
        started = time.monotonic()
        assert wait_for(lambda: count(db) == 3, 3)
        append(path, range(3, 10))
        assert wait_for(lambda: count(db) == 10, 3)
        assert time.monotonic() - started < 1.5
    finally:
        follower.stop()
    assert_exactly(db, 10)
    s = follower.stats[str(path)]
    assert (s.format, s.lines, s.events, s.state) == ("access_log", 10, 10, "following")
    with db.engine.connect() as conn:
        (src,) = source_store.all_sources(conn)
    assert (src["offset"], src["lines"], src["events"]) == (path.stat().st_size, 10, 10)


@pytest.mark.engines
def test_a_line_written_in_two_steps_is_one_event(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    append(path, [0])
    line = access_line(1) + "\n"
    follower = make(db, path)
    follower.start()
    try:
        assert wait_for(lambda: count(db) == 1, 3)
        with path.open("a") as f:
            f.write(line[:30])
        time.sleep(0.3)  # many polls see the half line
        assert count(db) == 1
        with path.open("a") as f:
            f.write(line[30:])
        assert wait_for(lambda: count(db) == 2, 3)
    finally:
        follower.stop()
    assert_exactly(db, 2)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(quarantine)).scalar_one() == 0
        (src,) = source_store.all_sources(conn)
    assert src["lines"] == 2 and src["offset"] == path.stat().st_size


@pytest.mark.engines
def test_restart_reads_exactly_the_new_lines(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    append(path, range(10))
    first = make(db, path)
    first.start()
    assert wait_for(lambda: count(db) == 10, 3)
    with path.open("a") as f:
        f.write(access_line(10)[:25])  # a partial line when the follower stops: not consumed
    time.sleep(0.1)
    first.stop()
    with path.open("a") as f:
        f.write(access_line(10)[25:] + "\n")
    append(path, range(11, 20))
    second = make(db, path)
    second.start()
    try:
        assert wait_for(lambda: count(db) == 20, 3)
        time.sleep(0.2)
    finally:
        second.stop()
    assert_exactly(db, 20)
    assert second.stats[str(path)].resumed_at_line == 10
    assert second.stats[str(path)].lines == 10
    with db.engine.connect() as conn:
        (src,) = source_store.all_sources(conn)
        line_nos = sorted(n for (n,) in conn.execute(select(events.c.line_no)))
    assert line_nos == list(range(1, 21))
    assert (src["lines"], src["events"]) == (20, 20)


@pytest.mark.engines
def test_ingest_and_follow_never_store_a_line_twice(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    append(path, range(10))
    assert Pipeline(db).ingest_file(path).events == 10
    append(path, range(10, 15))
    follower = make(db, path, fmt="auto")
    assert poll_until(follower, lambda: count(db) == 15)
    follower.close()
    assert follower.stats[str(path)].resumed_at_line == 10
    assert Pipeline(db).ingest_file(path).already_done
    append(path, range(15, 20))
    assert Pipeline(db).ingest_file(path).events == 5
    follower = make(db, path)
    for _ in range(5):
        follower.poll()
    follower.close()
    assert follower.stats[str(path)].lines == 0
    assert_exactly(db, 20)
    with db.engine.connect() as conn:
        assert len(source_store.all_sources(conn)) == 1


@pytest.mark.engines
def test_bad_lines_are_quarantined(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    append(path, [0])
    follower = make(db, path, pipeline={"max_line_bytes": 300})
    assert poll_until(follower, lambda: count(db) == 1)
    with path.open("ab") as f:
        f.write(access_line(1)[:40].encode() + b"\n")  # line 2: truncated
        f.write(b"\x00\xff\xfe garbage\n")  # line 3
        f.write(access_line(2).replace("192.0.2.3", "999.1.2.3").encode() + b"\n")  # line 4
        f.write(b"A" * 250)  # line 5, over-long, written over several polls
    follower.poll()
    with path.open("ab") as f:
        f.write(b"B" * 5000)
    follower.poll()
    with path.open("ab") as f:
        f.write(b"C" * 10 + b"\n")
        f.write(access_line(3).replace("/p3", "/p3?\xe9").encode("latin-1") + b"\n")  # line 6: invalid UTF-8
        f.write(access_line(4).encode() + b"\n")  # line 7
    assert poll_until(follower, lambda: count(db) == 3)
    follower.close()
    s = follower.stats[str(path)]
    assert s.quarantined == Counter({"no_match": 2, "bad_address": 1, "line_too_long": 1})
    assert s.bad_utf8 == 1 and s.lines == 7
    with db.engine.connect() as conn:
        rows = {r.line_no: r for r in conn.execute(select(quarantine))}
        line_nos = sorted(n for (n,) in conn.execute(select(events.c.line_no)))
    assert sorted(rows) == [2, 3, 4, 5] and line_nos == [1, 6, 7]
    assert rows[5].reason == "line_too_long" and rows[5].raw == "A" * 250 + "B" * 50
    assert rows[5].raw_length == 250 + 5000 + 11
    assert rows[4].reason == "bad_address"
    assert {r.source for r in rows.values()} == {str(path)}
    # and what was quarantined is bookkept like everything else: a restart stores nothing again
    again = make(db, path)
    for _ in range(5):
        again.poll()
    again.close()
    assert again.stats[str(path)].lines == 0


# -- rotation mechanics (SQLite) ----------------------------------------------------------------------

def test_rotation_by_rename_while_following(sqlite_db: Database, tmp_path: Path) -> None:
    """A writer thread logs numbered lines and rotates twice, writing a few lines to the old file
    after the rename (as nginx does until it reopens its log)."""
    path = tmp_path / "access.log"
    total = 600
    follower = make(sqlite_db, path, rotate_grace=0.3)
    follower.start()

    def writer() -> None:
        f = path.open("a")
        for i in range(total):
            f.write(access_line(i) + "\n")
            f.flush()
            if i in (200, 400):
                os.rename(path, path.with_name(f"access.log.{i}"))  # f still writes to the renamed file
            if i in (205, 405):  # the daemon reopens: a new file at the path
                f.close()
                f = path.open("a")
            if i % 50 == 0:
                time.sleep(0.02)
        f.close()

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(10)
    try:
        assert wait_for(lambda: count(sqlite_db) >= total, 8)
        time.sleep(0.5)  # a duplicate would show up now
    finally:
        follower.stop()
    assert_exactly(sqlite_db, total)
    s = follower.stats[str(path)]
    assert s.rotations == 2 and s.lines == total
    with sqlite_db.engine.connect() as conn:
        assert len(source_store.all_sources(conn)) == 3


def test_rotated_file_is_finished_to_its_end_including_its_last_partial_line(sqlite_db: Database,
                                                                              tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    append(path, range(5))
    follower = make(sqlite_db, path, rotate_grace=0.2)
    assert poll_until(follower, lambda: count(sqlite_db) == 5)
    append(path, range(5, 8))
    with path.open("a") as f:
        f.write(access_line(8))  # no newline: the daemon died mid-line, then the file was rotated
    os.rename(path, tmp_path / "access.log.1")
    append(path, range(9, 12), mode="w")
    assert poll_until(follower, lambda: count(sqlite_db) == 12, polls=400)
    follower.close()
    assert_exactly(sqlite_db, 12)
    assert follower.stats[str(tmp_path / "access.log")].rotations == 1


def test_copytruncate(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    append(path, range(100))
    follower = make(sqlite_db, path)
    assert poll_until(follower, lambda: count(sqlite_db) == 100)
    append(path, range(100, 110))  # written after the last poll: they reach only the copy
    shutil.copy(path, tmp_path / "access.log.1")
    with path.open("r+") as f:
        f.truncate(0)
    append(path, range(110, 150))
    assert poll_until(follower, lambda: count(sqlite_db) == 150)
    s = follower.stats[str(path)]
    assert s.truncations == 1 and s.recovered_lines == 10

    # truncated and refilled beyond the old size between two polls: the first line tells
    shutil.copy(path, tmp_path / "access.log.1")
    with path.open("r+") as f:
        f.truncate(0)
    append(path, range(150, 400))
    assert poll_until(follower, lambda: count(sqlite_db) == 400)
    for _ in range(5):
        follower.poll()
    follower.close()
    assert_exactly(sqlite_db, 400)
    assert follower.stats[str(path)].truncations == 2


def test_deleted_recreated_and_not_yet_existing(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    follower = make(sqlite_db, path, rotate_grace=0.05)
    for _ in range(3):
        follower.poll()
    assert follower.stats[str(path)].state == "waiting" and not follower.errors  # type: ignore[attr-defined]
    append(path, range(3))
    assert poll_until(follower, lambda: count(sqlite_db) == 3)
    with path.open("a") as f:
        f.write(access_line(3) + "\n")
        path.unlink()  # deleted while still open by its writer
        f.write(access_line(4) + "\n")
    assert poll_until(follower, lambda: count(sqlite_db) == 5)
    time.sleep(0.1)
    assert poll_until(follower, lambda: follower.stats[str(path)].state == "waiting")
    append(path, range(5, 9))
    assert poll_until(follower, lambda: count(sqlite_db) == 9)
    follower.close()
    assert_exactly(sqlite_db, 9)
    assert follower.stats[str(path)].rotations == 1


@pytest.mark.parametrize("compressed", [False, True])
def test_rotation_while_down_is_finished_from_the_rotated_copy(sqlite_db: Database, tmp_path: Path,
                                                               compressed: bool) -> None:
    path = tmp_path / "access.log"
    append(path, range(10))
    first = make(sqlite_db, path)
    assert poll_until(first, lambda: count(sqlite_db) == 10)
    first.close()
    # NetWarden is down: more lines, then logrotate (rename, maybe compress), then new lines
    append(path, range(10, 15))
    if compressed:
        (tmp_path / "access.log.1.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    else:
        os.rename(path, tmp_path / "access.log.1")
    (tmp_path / "access.log.2").write_text("".join(access_line(i) + "\n" for i in range(1000, 1005)))  # old, unseen
    append(path, range(15, 20), mode="w")
    second = make(sqlite_db, path)
    assert poll_until(second, lambda: count(sqlite_db) >= 20)
    for _ in range(5):
        second.poll()
    second.close()
    assert_exactly(sqlite_db, 20)  # and nothing from the unrelated old rotation
    s = second.stats[str(path)]
    assert (s.recovered_lines, s.lines) == (5, 5)


def test_two_followers_of_one_file_store_each_line_once(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    append(path, range(5))
    a, b = make(sqlite_db, path), make(sqlite_db, path)
    for i in range(5, 60):
        (a if i % 2 else b).poll()
        (b if i % 3 else a).poll()
        append(path, [i])
    assert poll_until(a, lambda: count(sqlite_db) == 60)
    b.poll()
    a.close()
    b.close()
    assert_exactly(sqlite_db, 60)


# -- the command --------------------------------------------------------------------------------------

def _command(db_url: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", "from netwarden.cli import main; main()", "--db", db_url, "follow", *args,
                             "--interval", "0.02", "--status-every", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)


@pytest.mark.engines
def test_crash_mid_way_loses_and_repeats_nothing(db: Database, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    total = 1500
    proc = _command(db_url, str(path), "--format", "access_log")
    procs = [proc]
    written = 0
    kills = 0
    try:
        deadline = time.monotonic() + 120
        while written < total and time.monotonic() < deadline:
            append(path, range(written, min(written + 15, total)))
            written = min(written + 15, total)
            time.sleep(0.004)
            if kills < 2 and written >= (kills + 1) * total // 3:
                # generous: a restarted follower imports and reconnects first, which takes seconds on a loaded machine
                assert wait_for(lambda: count(db) > kills * total // 3, 45), "the follower stored nothing"
                proc.send_signal(signal.SIGKILL)  # mid-way: lines are still being appended and stored
                proc.wait(10)
                kills += 1
                proc = _command(db_url, str(path), "--format", "access_log")
                procs.append(proc)
        assert written == total
        assert wait_for(lambda: count(db) >= total, 20, step=0.1)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    assert proc.returncode == 0, stderr
    assert "stopped after" in stdout and "events stored" in stdout
    assert kills == 2
    assert_exactly(db, total)
    with db.engine.connect() as conn:
        (src,) = source_store.all_sources(conn)
    assert (src["lines"], src["events"], src["offset"]) == (total, total, path.stat().st_size)


def test_command_reports_each_bad_file_in_one_line(sqlite_db: Database, tmp_path: Path) -> None:
    good = tmp_path / "access.log"
    append(good, range(3))
    packed = tmp_path / "old.log.gz"
    packed.write_bytes(gzip.compress(b"x\n"))
    db = sqlite_db  # migrated before the command starts
    proc = _command(f"sqlite:///{tmp_path / 'follow.db'}", str(good), str(tmp_path), str(packed),
                    str(tmp_path / "later.log"))
    try:
        assert wait_for(lambda: count(db) == 3, 15, step=0.05)
        time.sleep(0.3)  # the errors are reported on the first poll, before the good file's lines
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 1
    errors = [line for line in stderr.splitlines() if line.strip()]
    assert len(errors) == 2, stderr
    assert any("not a regular file" in e for e in errors)
    assert any("old.log.gz" in e and "gzip" in e for e in errors)
    assert all(e.startswith("netwarden: error: ") for e in errors)
    assert "following 4 files" in stdout and "never appeared" in stdout
    assert "events stored                3" in stdout
    assert_exactly(db, 3)
