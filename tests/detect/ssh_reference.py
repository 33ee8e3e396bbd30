"""What ``netwarden ingest`` makes of a generated SSH log, in a comparable form: the alerts and incidents stored,
and the events as parsed. ``tests/data/ssh_reference/*.json`` holds this output as the code gave it before the SSH
hot path was made faster (commit 199b72f); ``test_ssh_reference`` checks that the faster code gives the same.

Regenerate (only for a change that is meant to alter detection, and say so in the commit):
``PYTHONPATH=. python -m tests.detect.ssh_reference``
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from benchmarks.inputs import ssh_log
from netwarden.config import load_settings
from netwarden.pipeline import Pipeline
from netwarden.store.database import Database
from netwarden.store.schema import alerts, events, incidents

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "ssh_reference"
# (name, lines, address variants): loghub's OpenSSH_2k.log repeated, from its 30 addresses or 10x as many
INPUTS = (("few", 12_000, 1), ("many", 12_000, 10))
BATCH = 2_500  # several batches, so that state carried from one batch to the next is compared too
MTIME = datetime(2026, 2, 1, tzinfo=timezone.utc).timestamp()  # the year-less stamps resolve to January 2026


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value.hex() if isinstance(value, bytes) else value


def outcome(log: Path, db_path: Path) -> dict[str, Any]:
    """Alerts, incidents and a digest of the stored events after ingesting ``log`` with every detector."""
    os.utime(log, (MTIME, MTIME))
    db = Database.open(f"sqlite:///{db_path}")
    pipeline = Pipeline.from_settings(db, load_settings(None), batch_size=BATCH)
    try:
        result = pipeline.ingest_file(log, "syslog")
    finally:
        pipeline.close()
    skip = {"id", "incident_id", "created", "updated"}  # ids and wall-clock times
    with db.engine.connect() as conn:
        stored = [{k: _plain(v) for k, v in row._mapping.items() if k not in skip}
                  for row in conn.execute(select(alerts).order_by(alerts.c.id))]
        linked = [{k: _plain(v) for k, v in row._mapping.items() if k not in skip}
                  for row in conn.execute(select(incidents).order_by(incidents.c.id))]
        digest = hashlib.sha256()
        columns = [c for c in events.c if c.name not in ("id", "source_id")]
        for row in conn.execute(select(*columns).order_by(events.c.id)):
            digest.update(repr(tuple(row)).encode())
    db.close()
    return {"lines": result.lines, "events": result.events, "quarantined": dict(result.quarantined),
            "alerts": stored, "incidents": linked, "events_sha256": digest.hexdigest()}


def generate(folder: Path, name: str, lines: int, variants: int) -> Path:
    return ssh_log(folder / f"ssh-{name}.log", lines, variants)


if __name__ == "__main__":
    import tempfile

    REFERENCE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, lines, variants in INPUTS:
            got = outcome(generate(Path(tmp), name, lines, variants), Path(tmp) / f"{name}.db")
            (REFERENCE / f"{name}.json").write_text(json.dumps(got, indent=1, sort_keys=True, default=str) + "\n")
            print(name, len(got["alerts"]), "alerts", len(got["incidents"]), "incidents", file=sys.stderr)
