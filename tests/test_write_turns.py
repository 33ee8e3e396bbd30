"""A file import into SQLite: the writer process stores the batches in parts, and commits at the end of a part
when the detection engine waits for SQLite's write lock (netwarden.store.write_turns). Same results, and the
engine never waits for a whole batch's transaction."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from netwarden.store import alerts as alert_store
from netwarden.store import write_turns
from netwarden.store import writer as writer_module
from netwarden.store.database import Database
from netwarden.store.events import EventWriter
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


def _parts(n: int) -> list[tuple[StoreBatch, None]]:
    return [(StoreBatch(), None) for _ in range(n)]


@pytest.mark.parametrize("waiting", [False, True])
def test_parts_join_the_open_transaction_unless_the_engine_waits(tmp_path: Path, waiting: bool) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    items = [*_parts(3), None]  # three more parts, then the end (_STOP)
    turn = SimpleNamespace(value=1 if waiting else 0)
    written = [StoreBatch()]
    with db.engine.begin() as conn:
        after = writer_module._more_parts(conn, EventWriter(db.engine.dialect), lambda _timeout: items.pop(0),
                                          turn, written)
    db.close()
    if waiting:  # commit at once: the engine writes next
        assert (len(written), len(items)) == (1, 4)
    else:  # the parts, then the end handed back to be handled after the commit
        assert (len(written), after, items) == (4, None, [])


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
