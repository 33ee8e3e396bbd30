"""The writer's parts on the server engines, this tree against another checkout, alternated: per event, the
client's and the server connection's CPU of the events insert, of counting the rollups from the rows, and of
their upsert (what :func:`netwarden.store.writer.write_batch` does per batch, batches of 20,000). Parsing and
row making are not timed. Uses the database ``netwarden_parts`` (dropped after each run).

    python -m benchmarks.ab_writer_parts /tmp/old [--lines 40000] [--engines mariadb,postgresql] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKER = r'''
import gc, json, sys, time
import benchmarks.bench_ingest as bi
bi.BENCH_DB = "netwarden_parts"
from benchmarks.bench_store_write import parsed_events, server_cpu
from netwarden.store import rollups, sources
from netwarden.store.database import Database
from netwarden.store.events import EventWriter
gc.set_threshold(100_000, 50, 100)
engine, lines = sys.argv[1], int(sys.argv[2])
events = parsed_events(lines)
db = Database.open(bi.fresh_database(engine))
writer = EventWriter(db.engine.dialect)
with db.engine.begin() as conn:
    sid = sources.create(conn, kind="file", name="b", fmt="access_log", first_line_sha="0" * 64, prefix_sha="0" * 64)
spent = {"insert": [0.0, 0.0], "count": [0.0, 0.0], "upsert": [0.0, 0.0]}
with db.engine.connect() as conn:
    server = server_cpu(conn)
    conn.commit()
    for i in range(0, len(events), 20_000):
        rows = writer.rows(events[i:i + 20_000], sid, range(i, i + len(events[i:i + 20_000])))
        found = {}
        with conn.begin():
            for name, step in (("insert", lambda: writer.insert(conn, rows)),
                               ("count", lambda: found.update(rollups.rollup_counts_from_rows(rows))),
                               ("upsert", lambda: rollups.add_buckets(conn, found))):
                client, srv = time.process_time(), server()
                step()
                spent[name][0] += time.process_time() - client
                spent[name][1] += server() - srv
db.close()
bi.drop_database(engine)
print(json.dumps({k: [v[0] / len(events) * 1e6, v[1] / len(events) * 1e6] for k, v in spent.items()}))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path, help="the other checkout")
    ap.add_argument("--lines", type=int, default=40_000)
    ap.add_argument("--engines", default="mariadb,postgresql")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    env = {**os.environ, "NETWARDEN_DATASETS": os.environ.get("NETWARDEN_DATASETS", "/work/shared/datasets")}
    for i in range(args.runs):
        for name, tree in (("old", args.old.resolve()), ("new", REPO))[:: 1 if i % 2 == 0 else -1]:
            for engine in args.engines.split(","):
                proc = subprocess.run([sys.executable, "-c", WORKER, engine, str(args.lines)], cwd=tree,
                                      env={**env, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
                if proc.returncode:
                    raise SystemExit(f"{tree}: worker failed\n{proc.stderr[-3000:]}")
                parts = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"{name} {engine:10} µs/event (client/server): " + ", ".join(
                    f"{k} {c:.1f}/{s:.1f}" for k, (c, s) in parts.items()) + f"; load {os.getloadavg()[0]:.1f}",
                    flush=True)


if __name__ == "__main__":
    main()
