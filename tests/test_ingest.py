"""File ingest on every engine: resumable bookkeeping, failures, both writers, bad input."""

from __future__ import annotations

import gzip
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from netwarden.collect.files import InputError
from netwarden.parse import UnknownFormat
from netwarden.pipeline import Pipeline
from netwarden.pipeline.stages import Stages
from netwarden.store import sources as source_store
from netwarden.store import writer as writer_module
from netwarden.store.database import Database
from netwarden.store.events import clean_text
from netwarden.store.schema import events, quarantine
from netwarden.store.writer import ProcessWriter, StoreBatch, ThreadWriter, WriterProcessError

pytestmark = pytest.mark.engines


def access_line(i: int) -> str:
    """Line ``i``: unique URL ``/p<i>``, so every stored event says which line it came from."""
    return (f'192.0.2.{i % 250 + 1} - - [17/May/2015:{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000] '
            f'"GET /p{i} HTTP/1.1" 200 {i} "-" "agent"')


def write_lines(path: Path, numbers: range, mode: str = "w") -> Path:
    with path.open(mode) as f:
        f.writelines(access_line(i) + "\n" for i in numbers)
    return path


def stored(db: Database) -> list[tuple[int, str]]:
    """(line_no, url) of every stored event, in id order."""
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(events.c.line_no, events.c.url).order_by(events.c.id))]


def assert_exactly(db: Database, numbers: range) -> None:
    """Every line stored once, none missing, none twice, each with its own line number."""
    rows = stored(db)
    assert len(rows) == len(numbers)
    assert sorted(rows) == [(i + 1, f"/p{i}") for i in numbers]


def sources(db: Database) -> list[dict]:
    with db.engine.connect() as conn:
        return source_store.all_sources(conn)


@pytest.fixture(params=["thread", "process"])
def writer_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Run with the thread writer, or force the writer process; counts which one was used."""
    used = Counter()

    class CountingThread(ThreadWriter):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            used["thread"] += 1
            super().__init__(*a, **kw)

    class CountingProcess(ProcessWriter):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            used["process"] += 1
            super().__init__(*a, **kw)

    monkeypatch.setattr(writer_module, "ThreadWriter", CountingThread)
    monkeypatch.setattr(writer_module, "ProcessWriter", CountingProcess)
    if request.param == "process":
        monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    used["expected_" + request.param] = 1
    return used


def _check_writer(used: Counter) -> None:
    if used["expected_process"]:
        assert used["process"] > 0 and used["thread"] == 0
    else:
        assert used["thread"] > 0 and used["process"] == 0


def test_reingest_rename_gzip_and_growth(db: Database, tmp_path: Path, writer_kind: Counter) -> None:
    pipeline = Pipeline(db, batch_size=7)
    path = write_lines(tmp_path / "access.log", range(20))

    first = pipeline.ingest_file(path)
    assert (first.format, first.lines, first.events, first.resumed_at_line, first.already_done) == \
        ("access_log", 20, 20, 0, False)
    assert_exactly(db, range(20))
    (src,) = sources(db)
    assert (src["lines"], src["events"], src["quarantined"], src["complete"]) == (20, 20, 0, True)
    assert src["offset"] == path.stat().st_size

    # the same file again: nothing stored, reported as done
    again = pipeline.ingest_file(path)
    assert (again.events, again.lines, again.resumed_at_line, again.already_done) == (0, 0, 20, True)
    assert_exactly(db, range(20))

    # a renamed copy and a gzip copy are the same content
    renamed = shutil.copy(path, tmp_path / "access.log.1")
    assert pipeline.ingest_file(renamed).already_done
    packed = tmp_path / "access.log.2.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    gz = pipeline.ingest_file(packed)
    assert (gz.events, gz.already_done) == (0, True)
    assert_exactly(db, range(20))
    assert len(sources(db)) == 1
    assert sources(db)[0]["name"] == str(path)  # copies that added nothing keep the name it was read under

    # the file grows: only the new lines, numbered on from where the first run stopped
    write_lines(path, range(20, 33), mode="a")
    grown = pipeline.ingest_file(path)
    assert (grown.events, grown.lines, grown.resumed_at_line, grown.already_done) == (13, 13, 20, False)
    assert_exactly(db, range(33))
    (src,) = sources(db)
    assert (src["lines"], src["events"], src["complete"]) == (33, 33, True)

    # a gzip copy of an even longer version resumes too, reading through the compressed stream
    longer = tmp_path / "longer.gz"
    longer.write_bytes(gzip.compress(path.read_bytes() + "".join(access_line(i) + "\n" for i in range(33, 40)).encode()))
    assert pipeline.ingest_file(longer).events == 7
    assert_exactly(db, range(40))
    _check_writer(writer_kind)


def test_different_file_with_the_same_first_line(db: Database, tmp_path: Path) -> None:
    pipeline = Pipeline(db)
    a = write_lines(tmp_path / "a.log", range(10))
    assert pipeline.ingest_file(a).events == 10
    b = tmp_path / "b.log"
    b.write_text(access_line(0) + "\n" + "".join(access_line(i) + "\n" for i in range(100, 105)))
    result = pipeline.ingest_file(b)
    assert (result.events, result.resumed_at_line, result.already_done) == (6, 0, False)
    rows = stored(db)
    assert len(rows) == 16
    assert Counter(url for _, url in rows)["/p0"] == 2  # a real second occurrence, not a duplicate
    assert sorted(r for r in rows if r[1] >= "/p1" and len(r[1]) == 5) == \
        [(i - 98, f"/p{i}") for i in range(100, 105)]  # lines 2..6 of b
    assert len(sources(db)) == 2
    # and each is now recognised on its own
    assert pipeline.ingest_file(a).already_done and pipeline.ingest_file(b).already_done
    assert len(stored(db)) == 16


def test_a_file_changed_in_the_middle_is_a_new_source(db: Database, tmp_path: Path) -> None:
    """Same first line, same length, different content further on: the prefix hash tells them apart."""
    pipeline = Pipeline(db)
    path = write_lines(tmp_path / "a.log", range(10))
    pipeline.ingest_file(path)
    text = path.read_text().replace("/p5 ", "/q5 ")
    path.write_text(text)
    result = pipeline.ingest_file(path)
    assert result.events == 10 and result.resumed_at_line == 0


def test_failure_mid_import_then_rerun(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_lines(tmp_path / "access.log", range(35))
    real = writer_module.write_batch
    calls = Counter()

    def flaky(conn, writer, batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full (simulated)")
        real(conn, writer, batch)

    monkeypatch.setattr(writer_module, "write_batch", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        Pipeline(db, batch_size=10).ingest_file(path)
    # the first batch is stored with its bookkeeping, nothing after the failure
    assert_exactly(db, range(10))
    (src,) = sources(db)
    assert (src["lines"], src["events"], src["complete"]) == (10, 10, False)

    monkeypatch.setattr(writer_module, "write_batch", real)
    rerun = Pipeline(db, batch_size=10).ingest_file(path)
    assert (rerun.events, rerun.resumed_at_line) == (25, 10)
    assert_exactly(db, range(35))
    (src,) = sources(db)
    assert (src["lines"], src["events"], src["complete"]) == (35, 35, True)


def test_parser_side_failure_then_rerun(db: Database, tmp_path: Path, writer_kind: Counter) -> None:
    """A failure in the caller (here: a processing stage) with either writer; the rerun fills the rest."""
    path = write_lines(tmp_path / "access.log", range(50))
    calls = Counter()

    def stage(batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise ValueError("stage crashed")

    with pytest.raises(ValueError, match="stage crashed"):
        Pipeline(db, batch_size=10, stages=[stage]).ingest_file(path)
    partial = stored(db)
    assert len(partial) <= 20 and len(partial) % 10 == 0  # whole batches or nothing
    result = Pipeline(db, batch_size=10).ingest_file(path)
    assert result.events == 50 - len(partial)
    assert_exactly(db, range(50))
    _check_writer(writer_kind)


def test_writer_process_error_reaches_the_caller(db: Database) -> None:
    if db.dialect == "sqlite" and db.engine.url.database in (None, "", ":memory:"):
        pytest.skip("no writer process for in-memory SQLite")
    writer = ProcessWriter(db)
    writer.submit(StoreBatch(rows=[(1, 2, 3)]))  # wrong number of columns: the INSERT fails
    with pytest.raises(WriterProcessError):
        writer.close()
    assert stored(db) == []


def test_thread_writer_error_reaches_the_caller(db: Database) -> None:
    writer = ThreadWriter(db)
    writer.submit(StoreBatch(rows=[(1, 2, 3)]))
    with pytest.raises(Exception):
        writer.close()
    assert stored(db) == []


def test_in_memory_sqlite_uses_the_thread_writer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    db = Database.open("sqlite:///:memory:")
    try:
        assert isinstance(writer_module.open_writer(db, 1 << 30), ThreadWriter)
        path = write_lines(tmp_path / "a.log", range(12))
        assert Pipeline(db, batch_size=5).ingest_file(path).events == 12
        assert_exactly(db, range(12))
    finally:
        db.close()


def test_progress_is_reported(db: Database, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.log", range(30))
    seen: list[tuple[int, int]] = []
    Pipeline(db, batch_size=10).ingest_file(path, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) == 3 and seen[-1] == (path.stat().st_size, path.stat().st_size)


# -- bad input --------------------------------------------------------------------------------------

GOOD = access_line


def test_bad_lines_are_quarantined_and_good_ones_stored(db: Database, tmp_path: Path) -> None:
    long_line = access_line(9999).replace("/p9999", "/" + "L" * 200_000)
    garbage = b"\x00\x01\x02\x89PNG\r\x1a\xff\xfe\xfd binary"
    bad = {  # line content -> reason
        access_line(1)[:40].encode(): "no_match",  # truncated
        access_line(2)[:-30].encode(): "no_match",
        garbage: "no_match",
        access_line(3).replace("192.0.2.4", "999.1.2.3").encode(): "bad_address",
        access_line(4).replace("17/May", "30/Feb").encode(): "bad_timestamp",
        access_line(5).replace("17/May/2015:10", "17/May/2015:25").encode(): "bad_timestamp",
        access_line(6).replace("+0000", "+9900").encode(): "bad_timestamp",
        access_line(7).replace('" 200 ', '" 099 ').encode(): "bad_status",
        ("www.example.com:99999 " + access_line(8)).encode(): "bad_port",
        long_line.encode(): "line_too_long",
    }
    good_numbers = list(range(10, 10 + len(bad) + 1))
    content = [access_line(10).encode()]  # the first line must be good for the sniffer
    for n, raw in enumerate(bad, start=11):
        content.append(raw)
        content.append(access_line(n).encode())
    content.append(b"")  # a blank line is skipped, not quarantined
    path = tmp_path / "mixed.log"
    path.write_bytes(b"\n".join(content) + b"\n")

    result = Pipeline(db, batch_size=4).ingest_file(path)  # bad lines spread over several batches

    assert result.format == "access_log"
    good_lines = [c for c in content if c and c not in bad]
    assert result.events == len(good_lines) == len(stored(db))
    assert sorted(url for _, url in stored(db)) == sorted(f"/p{n}" for n in good_numbers[:len(good_lines)])
    assert result.quarantined == Counter(bad.values())
    assert result.skipped == 1
    assert result.lines == len(content)

    with db.engine.connect() as conn:
        q_rows = [dict(r._mapping) for r in conn.execute(select(quarantine).order_by(quarantine.c.line_no))]
        assert dict(Counter(r["reason"] for r in q_rows)) == dict(result.quarantined)
    by_line = {r["line_no"]: r for r in q_rows}
    for number, raw in enumerate(content, start=1):
        if raw not in bad:
            assert number not in by_line
            continue
        row = by_line[number]
        assert row["reason"] == bad[raw]
        assert row["format"] == "access_log" and row["source"] == str(path)
        assert row["source_id"] == sources(db)[0]["id"]
        assert row["detail"]
        if bad[raw] == "line_too_long":
            assert row["raw"] == long_line[:65536]
            assert row["raw_length"] >= len(long_line)
            assert "200" in row["detail"] and "65536" in row["detail"]
        else:
            assert row["raw"] == clean_text(raw.decode("utf-8", "backslashreplace"))
            assert row["raw_length"] >= len(raw)
    garbage_row = next(r for r in q_rows if "PNG" in r["raw"])
    assert garbage_row["raw"].startswith("\\x00\x01\x02\\x89PNG")  # NUL and bad bytes escaped, the rest kept
    (src,) = sources(db)
    assert (src["events"], src["quarantined"], src["lines"]) == (result.events, result.quarantined_total,
                                                                 len(content))
    # a rerun quarantines nothing twice
    assert Pipeline(db).ingest_file(path).already_done
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(quarantine)).scalar_one() == len(bad)


def test_max_line_bytes_is_configurable(db: Database, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.log", range(3))
    result = Pipeline(db, max_line_bytes=60).ingest_file(path, "access_log")
    assert result.quarantined == Counter({"line_too_long": 3}) and result.events == 0


def test_quarantine_from_ingest_lines(db: Database) -> None:
    result = Pipeline(db).ingest_lines(['{"source_kind": "zeek", "src_port": 70000}',
                                        '{"source_kind": "zeek", "src_ip": "300.1.1.1"}',
                                        '{"source_kind": "zeek", "timestamp": "2026-02-30T00:00:00Z"}',
                                        '{"source_kind": "zeek", "dst_port": 443',
                                        '{"source_kind": "zeek", "dst_port": 443}'], "netwarden", source="stdin")
    assert result.events == 1
    assert result.quarantined == Counter({"bad_port": 1, "bad_address": 1, "bad_timestamp": 1, "bad_json": 1})
    with db.engine.connect() as conn:
        rows = conn.execute(select(quarantine.c.line_no, quarantine.c.reason, quarantine.c.source,
                                   quarantine.c.source_id).order_by(quarantine.c.line_no)).all()
    assert [(r.line_no, r.reason) for r in rows] == [(1, "bad_port"), (2, "bad_address"), (3, "bad_timestamp"),
                                                     (4, "bad_json")]
    assert {r.source for r in rows} == {"stdin"} and {r.source_id for r in rows} == {None}


def test_unusable_inputs_name_the_file(db: Database, tmp_path: Path) -> None:
    pipeline = Pipeline(db)
    missing = tmp_path / "missing.log"
    with pytest.raises(InputError, match="missing.log"):
        pipeline.ingest_file(missing)
    with pytest.raises(InputError, match="is a directory"):
        pipeline.ingest_file(tmp_path)
    corrupt = tmp_path / "corrupt.log.gz"
    corrupt.write_bytes(b"\x1f\x8b" + os.urandom(64))
    with pytest.raises(InputError, match="corrupt.log.gz"):
        pipeline.ingest_file(corrupt)
    unknown = tmp_path / "notes.txt"
    unknown.write_text("dear diary\ntoday I wrote a log parser\n" * 5)
    with pytest.raises(UnknownFormat, match="notes.txt"):
        pipeline.ingest_file(unknown)
    with pytest.raises(UnknownFormat, match="no_such_format"):
        pipeline.ingest_file(write_lines(tmp_path / "a.log", range(2)), "no_such_format")
    if Path("/proc/self/mem").exists():  # opens, but every read fails (EIO): unreadable even for root
        with pytest.raises(InputError, match="mem"):
            pipeline.ingest_file("/proc/self/mem", "access_log")
    if os.geteuid() != 0:
        locked = write_lines(tmp_path / "locked.log", range(2))
        locked.chmod(0)
        with pytest.raises(InputError, match="locked.log"):
            pipeline.ingest_file(locked)
    assert stored(db) == [] and sources(db) == []


def test_truncated_gzip_keeps_what_was_read_and_resumes(db: Database, tmp_path: Path) -> None:
    full = "".join(access_line(i) + "\n" for i in range(3000)).encode()
    packed = gzip.compress(full)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match="cut.log.gz"):
        Pipeline(db, batch_size=500).ingest_file(cut)
    partial = stored(db)
    assert partial == sorted(partial) and [n for n, _ in partial] == list(range(1, len(partial) + 1))
    whole = tmp_path / "whole.log.gz"
    whole.write_bytes(packed)
    result = Pipeline(db, batch_size=500).ingest_file(whole)
    assert result.events == 3000 - len(partial)
    assert_exactly(db, range(3000))


def test_empty_file_stores_nothing(db: Database, tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    result = Pipeline(db).ingest_file(empty, "access_log")
    assert (result.events, result.lines, result.already_done) == (0, 0, False)
    assert sources(db) == []


def test_timestamps_outside_1970_2199_are_quarantined_not_fatal(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """MariaDB refuses DATETIME before year 1000: such a line must not take its batch down."""
    from netwarden.pipeline import Pipeline

    log = tmp_path / "times.log"
    log.write_text(
        '192.0.2.1 - - [01/Jan/0500:00:30:00 +0000] "GET /a HTTP/1.1" 200 1 "-" "x"\n'
        '192.0.2.2 - - [21/Nov/2026:10:00:00 +0000] "GET /b HTTP/1.1" 200 1 "-" "x"\n'
        '192.0.2.3 - - [31/Dec/2999:00:00:00 +0000] "GET /c HTTP/1.1" 200 1 "-" "x"\n'
        '192.0.2.4 - - [01/Jan/1970:00:00:00 +0000] "GET /d HTTP/1.1" 200 1 "-" "x"\n')
    result = Pipeline(db).ingest_file(log, "access_log")
    assert result.events == 2 and result.quarantined == {"bad_timestamp": 2}


def test_file_imports_checkpoint_less_often_than_live_streams(tmp_path: Path) -> None:
    """The writer of a file import asks SQLite for a checkpoint every FILE_IMPORT_CHECKPOINT_PAGES pages;
    other connections keep SQLite's default (a live stream cannot resume what a power cut undoes)."""
    db = Database.open(f"sqlite:///{tmp_path / 'a.db'}")
    other = Database.open(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        writer_module._checkpoint_every(db, writer_module.FILE_IMPORT_CHECKPOINT_PAGES)
        for _ in range(2):  # also on connections opened later
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
        with other.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        db.close()
        other.close()


def test_the_file_import_writer_process_is_the_one_with_fewer_checkpoints(db: Database, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    made = []

    class Recording(ProcessWriter):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            made.append(kw.get("checkpoint_pages"))
            super().__init__(*a, **kw)

    monkeypatch.setattr(writer_module, "ProcessWriter", Recording)
    path = write_lines(tmp_path / "a.log", range(20))
    assert Pipeline(db, batch_size=5).ingest_file(path).events == 20
    writer_module.open_writer(db, 1 << 30).close()  # as a live stream opens it
    assert made == [writer_module.FILE_IMPORT_CHECKPOINT_PAGES, None]


def test_a_capture_import_hands_whole_batches_and_keeps_two_in_flight(db: Database, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a log import splits its batches into parts (pipeline/files.py): its writer's inbox holds as many
    parts as two batches. A capture import hands whole batches, so its writer keeps the depth of two batches
    (a depth of 16 held eight times the events in flight) and takes no write turns."""
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    made = []

    class Recording(ProcessWriter):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            made.append((kw.get("depth"), kw.get("parts", 1)))
            super().__init__(*a, **kw)

    monkeypatch.setattr(writer_module, "ProcessWriter", Recording)
    writer_module.open_writer(db, 1 << 30, file_import=True).close()  # as pipeline/captures.py opens it
    assert made == [(2, 1)]
    path = write_lines(tmp_path / "a.log", range(20))
    assert Pipeline(db, batch_size=5).ingest_file(path).events == 20
    parts = writer_module.FILE_IMPORT_PARTS if db.dialect == "sqlite" else 1
    assert made[1] == (2 * parts, parts)


def test_only_a_file_import_tunes_the_c_heap_of_the_process_that_opens_its_writer(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """keep_freed_memory (glibc keeps up to 256 MiB freed, and blocks up to 64 MiB in the heap) is for a file
    import's processes; a live stream's writer process is opened by ``netwarden serve``, which runs for weeks
    and serves the web app: its heap must be left as glibc tunes it."""
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    tuned: list[bool] = []
    monkeypatch.setattr(writer_module, "keep_freed_memory", lambda: tuned.append(True) or True)
    writer_module.open_writer(db, 1 << 30).close()  # as a live stream opens it
    assert tuned == []
    path = write_lines(tmp_path / "a.log", range(20))
    assert Pipeline(db, batch_size=5).ingest_file(path).events == 20
    assert tuned == [True]


def test_long_line_across_a_read_block_near_the_end_loses_nothing(db: Database, tmp_path: Path) -> None:
    """An over-long line that crosses a read block, with the file ending in the block read past it: the lines
    after it are still lines (not one quarantined blob), and a rerun knows the file is done."""
    from netwarden.collect.files import BLOCK

    def short(i: int) -> bytes:  # ~70 bytes, so the long line starts well before the first block ends
        return f'10.0.{i // 250 % 250}.{i % 250 + 1} - - [17/May/2015:10:00:00 +0000] "GET /p{i} HTTP/1.1" 200 1'.encode()

    head = b"".join(short(i) + b"\n" for i in range(12_000))
    long_line = short(12_000).replace(b"/p12000", b"/" + b"L" * 300_000)
    tail = b"".join(short(i) + b"\n" for i in range(12_001, 12_101))
    assert len(head) < BLOCK - 65536 and len(head) + len(long_line) > BLOCK  # the case that lost lines
    path = tmp_path / "long.log"
    path.write_bytes(head + long_line + b"\n" + tail)

    result = Pipeline(db).ingest_file(path, "access_log")

    assert result.lines == 12_101
    assert result.events == 12_100 and result.quarantined == Counter({"line_too_long": 1})
    urls = sorted(url for _, url in stored(db))
    assert urls == sorted(f"/p{i}" for i in range(12_101) if i != 12_000)
    assert {n for n, url in stored(db) if url == "/p12100"} == {12_101}  # line numbers still right after it
    with db.engine.connect() as conn:
        assert conn.execute(select(quarantine.c.line_no)).scalars().all() == [12_001]
    (src,) = sources(db)
    assert src["lines"] == 12_101 and src["offset"] == path.stat().st_size
    with path.open("ab") as f:  # resume: only what is appended is read
        f.write(short(12_101) + b"\n")
    again = Pipeline(db).ingest_file(path, "access_log")
    assert (again.lines, again.events) == (1, 1)
    assert len(stored(db)) == 12_101


def test_the_writer_process_stores_the_rows_the_thread_writer_stores(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer process makes the rows itself (from columns): every column of every stored event is what the
    thread writer, which is handed ready rows, stores, on varied syslog input (sshd, netfilter, RouterOS,
    text to clean)."""
    golden = Path(__file__).parent / "data" / "golden"
    text = b"".join((golden / f"syslog.{name}log").read_bytes() for name in ("", "sshd.", "netfilter.", "mikrotik."))
    text += "Dec 10 06:55:46 LabSZ sshd[1]: Invalid user caf\u00e9\x00\U0001F600 from 203.0.113.9\n".encode()
    text += b"Dec 10 06:55:47 LabSZ sshd[1]: Invalid user bad\xff from 203.0.113.9\n"
    path = tmp_path / "in.log"  # without RFC 5424 lines with no time, stamped on arrival (differently each run)
    path.write_bytes(b"\n".join(line for line in text.split(b"\n") if b">1 - " not in line))
    found = {}
    for kind in ("thread", "process"):
        monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0 if kind == "process" else 1 << 40)
        db = Database.open(f"sqlite:///{tmp_path / kind}.db")
        try:
            assert Pipeline(db, batch_size=50).ingest_file(path, "syslog").events > 100
            with db.engine.connect() as conn:
                found[kind] = [tuple(r) for r in conn.execute(select(*[c for c in events.c if c.name != "id"])
                                                              .order_by(events.c.line_no))]
        finally:
            db.close()
    assert found["thread"] == found["process"]


def test_writer_process_row_failure_after_a_commit_then_rerun(db: Database, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer process makes batch N+1's rows while it stores batch N: a failure making them (here a time that
    is not one, set by an enriching stage: the writer gets the events before detection) is raised as
    WriterProcessError after batch N is committed with its bookkeeping, nothing later is stored, and a rerun
    resumes after batch N."""
    if db.dialect == "sqlite" and db.engine.url.database in (None, "", ":memory:"):
        pytest.skip("no writer process for in-memory SQLite")
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)
    path = write_lines(tmp_path / "access.log", range(35))
    calls = Counter()

    def stage(batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            batch[0].timestamp = "not a time"  # the writer process's row making fails on it

    with pytest.raises(WriterProcessError):
        Pipeline(db, batch_size=10, stages=Stages(enrich=[stage], detect=[lambda batch: None])).ingest_file(path)
    assert_exactly(db, range(10))
    (src,) = sources(db)
    assert (src["lines"], src["events"], src["complete"]) == (10, 10, False)

    rerun = Pipeline(db, batch_size=10).ingest_file(path)
    assert (rerun.events, rerun.resumed_at_line) == (25, 10)
    assert_exactly(db, range(35))
    (src,) = sources(db)
    assert (src["lines"], src["events"], src["complete"]) == (35, 35, True)
