"""What the detection engine stores from hostile input, in a comparable form: every alert row (ids, counts, first
and last seen, confidence, severity, factors, recommendation, evidence with its samples, incident), every incident
row, and what the alert listeners heard, batch by batch. ``tests/data/engine_reference/alerts.json.gz`` holds this
output as the code gave it before the engine's merging and the web attack detector were made cheaper under a flood
(main at 6651a71); ``test_engine_reference`` checks that the faster code stores the same.

Two inputs, both through every detector of the default configuration on SQLite: the web attack detector's seeded
hostile corpus (``web_reference.corpus``: encoded payloads, tools, ordinary requests, few and many addresses) and
the "under attack" flood of the benchmarks (``benchmarks.inputs.attack_access_log``: every address of the real
log sending real payloads, every line a new or an updated alert), each in several batches.

Regenerate (only for a change that is meant to alter detection, and say so in the commit):
``PYTHONPATH=. python -m tests.detect.engine_reference``
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from netwarden.detect.engine import DetectionEngine
from netwarden.parse.access_log import AccessLog
from netwarden.records import Alert, Event
from netwarden.store.database import Database
from netwarden.store.schema import alerts, incidents
from tests.detect.web_reference import corpus

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "engine_reference" / "alerts.json.gz"
FLOOD_LINES = 9_000
FLOOD_BATCH = 3_000
CORPUS_BATCH = 1_000
_WALL_CLOCK = {"created", "updated"}  # when a row was written: the only columns that differ run to run


def flood(work: Path) -> list[Event]:
    from benchmarks.inputs import attack_access_log

    path = attack_access_log(work / "flood.log", FLOOD_LINES)
    parser = AccessLog()
    return [e for e in map(parser.parse_line, path.read_text(encoding="utf-8").splitlines()) if e is not None]


def _rows(conn: Any, table: Any) -> list[dict[str, Any]]:
    keep = [c for c in table.columns if c.name not in _WALL_CLOCK]
    return [dict(r._mapping) for r in conn.execute(select(*keep).order_by(table.c.id))]


def stored(events: list[Event], batch: int, work: Path, name: str) -> dict[str, Any]:
    """Every batch through a fresh engine on a fresh SQLite file: the rows stored and what listeners heard."""
    db = Database.open(f"sqlite:///{work / name}.db")
    told: list[list[Any]] = []

    def listen(alert: Alert, is_new: bool) -> None:
        told[-1].append([alert.id, is_new, alert.count, alert.confidence, str(alert.severity), alert.incident_id])

    try:
        engine = DetectionEngine.from_config(db=db, listeners=[listen])
        for i in range(0, len(events), batch):
            told.append([])
            engine.process(events[i:i + batch])
        with db.engine.connect() as conn:
            return {"alerts": _rows(conn, alerts), "incidents": _rows(conn, incidents), "told": told,
                    "stats": [engine.stats.findings, engine.stats.alerts_new, engine.stats.alerts_updated]}
    finally:
        db.close()


def comparable(datasets: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nw-engine-ref-") as tmp:
        work = Path(tmp)
        found = {"corpus": stored(corpus(datasets), CORPUS_BATCH, work, "corpus"),
                 "flood": stored(flood(work), FLOOD_BATCH, work, "flood")}
    return json.loads(json.dumps(found, sort_keys=True, default=str))


if __name__ == "__main__":
    from tests.conftest import datasets_path

    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    result = comparable(datasets_path())
    with gzip.open(REFERENCE, "wt", encoding="utf-8") as out:
        json.dump(result, out, sort_keys=True)
    print({k: len(v["alerts"]) for k, v in result.items()}, f"alerts written to {REFERENCE}", file=sys.stderr)
