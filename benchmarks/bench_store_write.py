"""The writer alone: how much CPU storing a batch of events costs, in the writer (client) and in the database
server, per engine. Parsing is done once beforehand and not timed, so the figures isolate the insert path that
``netwarden ingest``'s writer process runs (:func:`netwarden.store.writer.write_batch`: events, rollups, the
source's bookkeeping, one transaction per batch).

On a shared machine wall-clock time follows the load; CPU time per event does much less, so both are reported.
The server's share is the CPU time of the connection's own server process (PostgreSQL backend) or thread
(MariaDB, ``information_schema.PROCESSLIST.TID``), read from ``/proc`` before and after.

    python -m benchmarks.bench_store_write [--lines 100000] [--engines sqlite,mariadb,postgresql] [--runs 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import inputs
from benchmarks.bench_ingest import OUT, drop_database, fresh_database

TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(path: str) -> float:
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def server_cpu(conn) -> Callable[[], float]:  # type: ignore[no-untyped-def]
    """A function returning the CPU seconds used so far by this connection's server process or thread."""
    name = conn.dialect.name
    if name == "postgresql":
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        return lambda: _proc_cpu(f"/proc/{pid}/stat")
    if name in ("mysql", "mariadb"):
        tid = conn.exec_driver_sql("SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()").scalar()
        mysqld = server_pid(conn)
        return lambda: _proc_cpu(f"/proc/{mysqld}/task/{tid}/stat")
    return lambda: 0.0  # SQLite runs in the client


def server_pid(conn) -> str:  # type: ignore[no-untyped-def]
    """The MariaDB server's process id, from its pid file (this machine's server; several may run)."""
    return Path(conn.exec_driver_sql("SELECT @@pid_file").scalar()).read_text().strip()


def whole_server_cpu(conn) -> Callable[[], float]:  # type: ignore[no-untyped-def]
    """CPU seconds of the whole MariaDB server process (its background threads too: page flushing, purge, the
    redo log): the figure to read on a server of one's own (NETWARDEN_BENCH_MYSQL pointing at it)."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return lambda: 0.0
    pid = server_pid(conn)
    return lambda: _proc_cpu(f"/proc/{pid}/stat")


class ServerCpu:
    """CPU seconds the server spends on one database's connections while something else (another process)
    uses it: a thread samples the server's processes (PostgreSQL backends) or threads (MariaDB) serving
    ``database`` every ``every`` seconds. A PostgreSQL backend is counted from its start; a MariaDB thread (kept
    in the server's thread cache between connections) from the first sample that sees it on the database."""

    def __init__(self, url: str, every: float = 0.1) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        from netwarden.store.database import normalise_url

        self.database = make_url(url).database
        self.engine = create_engine(normalise_url(url))
        self.every = every
        self._seen: dict[str, tuple[float, float]] = {}  # path -> (first, last) CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ServerCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    @property
    def seconds(self) -> float:
        return sum(last - first for first, last in self._seen.values())

    def _paths(self, conn) -> list[str]:  # type: ignore[no-untyped-def]
        if conn.dialect.name == "postgresql":
            pids = conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE datname = %(d)s AND "
                                        "pid <> pg_backend_pid()", {"d": self.database}).scalars()
            return [f"/proc/{pid}/stat" for pid in pids]
        tids = conn.exec_driver_sql("SELECT TID FROM information_schema.PROCESSLIST WHERE DB = %(d)s AND "
                                    "ID <> CONNECTION_ID()", {"d": self.database}).scalars()
        mysqld = self._mysqld = getattr(self, "_mysqld", None) or server_pid(conn)
        return [f"/proc/{mysqld}/task/{tid}/stat" for tid in tids]

    def _run(self) -> None:
        with self.engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"
            while not self._stop.wait(self.every):
                for path in self._paths(conn):
                    try:
                        now = _proc_cpu(path)
                    except (OSError, IndexError):
                        continue
                    first = self._seen.get(path, (0.0 if postgres else now, 0.0))[0]
                    self._seen[path] = (first, now)
                conn.rollback()


def parsed_events(lines: int) -> list:
    """The access log's first ``lines`` lines, parsed once (as the ingest benchmark builds it)."""
    from netwarden.pipeline import Pipeline, numbered_lines
    from netwarden.pipeline.core import IngestResult
    from netwarden.store.database import Database

    path = inputs.scaled_access_log(OUT / "inputs" / f"access-log-{lines}.log", lines)
    pipeline = Pipeline(Database.open("sqlite:///:memory:"))
    parser = pipeline.parser("access_log", source=str(path))
    with open(path, encoding="utf-8") as f:
        numbered = list(numbered_lines(f))
    return pipeline.parse_batch(parser, numbered, IngestResult(source=str(path), format="access_log")).events


def run_once(engine: str, events: list, batch_size: int) -> dict:
    from netwarden.store import sources as source_store
    from netwarden.store.database import Database
    from netwarden.store.events import EventWriter
    from netwarden.store.writer import StoreBatch, write_batch

    db = Database.open(fresh_database(engine))
    writer = EventWriter(db.engine.dialect)
    with db.engine.begin() as conn:
        source_id = source_store.create(conn, kind="file", name="bench", fmt="access_log",
                                        first_line_sha="0" * 64, prefix_sha="0" * 64)
    batches = [events[i:i + batch_size] for i in range(0, len(events), batch_size)]
    build = insert = 0.0
    with db.engine.connect() as conn:
        server, whole = server_cpu(conn), whole_server_cpu(conn)
        conn.commit()
        server_before, whole_before = server(), whole()
        cpu_before, started = time.process_time(), time.perf_counter()
        for n, batch in enumerate(batches):
            t0 = time.process_time()
            rows = writer.rows(batch, source_id, range(n * batch_size, n * batch_size + len(batch)))
            t1 = time.process_time()
            with conn.begin():
                write_batch(conn, writer, StoreBatch(rows, None, [], None, "bench", None))
            build += t1 - t0
            insert += time.process_time() - t1
        wall = time.perf_counter() - started
        client = time.process_time() - cpu_before
        server_s = server() - server_before
        whole_s = whole() - whole_before
        stored = conn.exec_driver_sql("SELECT COUNT(*) FROM events").scalar()
    db.close()
    assert stored == len(events), (stored, len(events))
    n = len(events)
    return {"wall": wall, "per_second": n / wall, "build_us": build / n * 1e6, "insert_us": insert / n * 1e6,
            "client_us": client / n * 1e6, "server_us": server_s / n * 1e6,
            "total_us": (client + server_s) / n * 1e6, "whole_server_us": whole_s / n * 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--engines", default="sqlite,mariadb,postgresql")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=20_000)
    args = ap.parse_args()
    gc.set_threshold(100_000, 50, 100)  # as in the writer process
    events = parsed_events(args.lines)
    for engine in args.engines.split(","):
        runs = []
        for _ in range(args.runs):
            r = run_once(engine, events, args.batch)
            runs.append(r)
            print(f"{engine:10} {r['per_second']:>9,.0f} ev/s wall; µs/event: rows {r['build_us']:5.1f} "
                  f"insert(client) {r['insert_us']:5.1f} server {r['server_us']:5.1f} "
                  f"client+server {r['total_us']:5.1f}; whole server {r['whole_server_us']:5.1f}; load {os.getloadavg()[0]:.1f}", flush=True)
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{engine:10} median: {med['per_second']:,.0f} ev/s wall, client {med['client_us']:.1f} + server "
              f"{med['server_us']:.1f} = {med['total_us']:.1f} µs/event "
              f"({1e6 / med['total_us']:,.0f} events per CPU-second); whole server process "
              f"{med['whole_server_us']:.1f} µs/event", flush=True)
        drop_database(engine)


if __name__ == "__main__":
    main()
