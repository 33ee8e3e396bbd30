"""A file import with a ``[bus]`` after one interrupted while it stored a batch ahead of its position
(``tests/test_store_ahead.py``): the bus's workers detect and store what is published, so the lines stored ahead
are not published again. Real Redis (scripts/services starts it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netwarden.store import writer as writer_module
from tests.test_store_ahead import BATCH, LINES, attack_log, interrupted, source_row, stored_lines


@pytest.fixture(autouse=True)
def _writer_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)  # a small file, imported as a large one is


def test_a_bus_import_after_an_interrupted_one_publishes_only_what_is_not_stored(tmp_path: Path,
                                                                                 bus_settings: Any) -> None:
    from netwarden.bus.produce import BusPipeline
    from netwarden.bus.redis_bus import RedisBus

    path = attack_log(tmp_path / "access.log")
    db = interrupted(tmp_path, path)
    bus = RedisBus(bus_settings)
    try:
        # (batches twice as large: the first one holds lines stored ahead and lines not stored yet)
        result = BusPipeline(db, bus, batch_size=2 * BATCH).ingest_file(path, "access_log")
    finally:
        bus.close()
    assert (result.resumed_at_line, result.events, result.quarantined_total) == (2 * BATCH, LINES - 3 * BATCH - 3, 3)
    row = source_row(db)  # what the bus accepted is counted with the position: the rest, once
    assert (row.lines, row.events, row.quarantined, row.complete) == (LINES, LINES - 8, 8, True)
    assert stored_lines(db) == list(range(1, 3 * BATCH + 1))  # the rest is the workers' to store (none run here)
