"""End-to-end ingest: file → parse → rollups → bookkeeping → store, exactly what ``netwarden ingest`` does.

Every configuration (input × engine × repetition) runs in a fresh Python process
(``python -m benchmarks.bench_ingest --worker URL FILE FORMAT``) on a fresh database: a new SQLite
file, or the ``netwarden_bench`` database dropped and created again on MariaDB and PostgreSQL.
The worker opens the store (migrations, not timed), calls ``Pipeline(db).ingest_file(path, fmt)``
(timed: ``IngestResult.seconds``), then reports its peak memory (``ru_maxrss`` of itself and of its
writer process, the largest waited-for child) and checks that the events table holds what it said.

Run through ``benchmarks/run``; this module alone: ``python -m benchmarks.bench_ingest --quick``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import inputs

REPO = inputs.REPO
OUT = REPO / "benchmarks" / "out"
BENCH_DB = "netwarden_bench"
MYSQL_SERVER = os.environ.get("NETWARDEN_BENCH_MYSQL", "mysql://root@127.0.0.1:3306")
POSTGRES_SERVER = os.environ.get("NETWARDEN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
ENGINES = ("sqlite", "mariadb", "postgresql")
TARGET_EVENTS_PER_SECOND = 50_000
HEADLINE = "access log 1M"


# -- the inputs --------------------------------------------------------------------------------------

@dataclass(eq=False)
class Case:
    name: str
    fmt: str
    lines: int  # at full size; --quick divides
    build: Callable[[Path, int], Path]
    what: str
    reps: int = 1  # on SQLite
    server_reps: int = 1  # on MariaDB and PostgreSQL
    memory_series: bool = False  # one of the access-log sizes that show memory stays flat


def _as_is(relative: str) -> Callable[[Path, int], Path]:
    def build(_target: Path, _lines: int) -> Path:
        return inputs.datasets() / relative
    return build


def _access(target: Path, lines: int) -> Path:
    return inputs.scaled_access_log(target, lines)


def _jsonl(target: Path, lines: int) -> Path:
    source = inputs.scaled_access_log(target.with_name(f"access-{lines}.log"), lines)
    return inputs.netwarden_jsonl(target, lines, source)


CASES = [
    Case("access log 100k", "access_log", 100_000, _access,
         "web-access-logs/apache_logs.gz (10k real lines) repeated, time-shifted", memory_series=True),
    Case("access log 300k", "access_log", 300_000, _access, "the same, 300k lines", memory_series=True),
    Case(HEADLINE, "access_log", 1_000_000, _access, "the same, 1M lines (headline)", reps=3,
         memory_series=True),
    Case("syslog", "syslog", 250_000, inputs.syslog_linux, "loghub/Linux.log.gz (25,566 lines) repeated"),
    Case("zeek conn JSON", "zeek_conn", 100_000, inputs.zeek_conn_json,
         "zeek-conn-logs JSON files (627 rows) repeated"),
    Case("zeek conn TSV", "zeek_conn", 100_000, inputs.zeek_conn_tsv,
         "zeek-conn-logs/test18-ctu-sme-11 (labelled TSV, 766 rows) repeated under one header"),
    Case("suricata eve", "suricata_eve", 100_000, inputs.suricata_eve,
         "suricata-eve/test6-malicious (5,000 lines) repeated"),
    Case("argus", "argus_binetflow", 100_000, inputs.argus_binetflow,
         "argus-flows/test4-malicious.binetflow (394 rows) repeated under one header"),
    Case("NSL-KDD", "nsl_kdd", 125_973, _as_is("nsl-kdd/KDDTrain+.txt.gz"),
         "nsl-kdd/KDDTrain+.txt.gz as it is (gzip)"),
    Case("UNSW-NB15", "unsw_nb15", 41_166, _as_is("unsw-nb15/UNSW_NB15_part-A.csv.gz"),
         "unsw-nb15/UNSW_NB15_part-A.csv.gz as it is (gzip)"),
    Case("CICFlowMeter", "cicflowmeter", 100_000, inputs.cicflowmeter,
         "2 real CIC-IDS2017 rows from tests/data/golden repeated (no CIC dataset is shipped)"),
    Case("netwarden JSONL", "netwarden", 100_000, _jsonl,
         "Event.to_dict() lines of the scaled access log"),
]


def build_input(case: Case, quick: bool) -> Path:
    lines = max(case.lines // 20, 1000) if quick else case.lines
    slug = case.name.lower().replace(" ", "-")
    return case.build(OUT / "inputs" / f"{slug}-{lines}.log", lines)


# -- fresh databases ----------------------------------------------------------------------------------

def fresh_database(engine: str) -> str:
    """A URL on an empty database for ``engine``; the previous one is thrown away."""
    from sqlalchemy import create_engine, text

    if engine == "sqlite":
        path = OUT / "db" / "bench.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if engine == "mariadb":
        admin = create_engine(MYSQL_SERVER.replace("mysql://", "mysql+pymysql://", 1) + "/")
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{BENCH_DB}`"))
            conn.execute(text(f"CREATE DATABASE `{BENCH_DB}` CHARACTER SET utf8mb4"))
        admin.dispose()
        return f"{MYSQL_SERVER}/{BENCH_DB}"
    if engine == "postgresql":
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}"'))
            conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
        admin.dispose()
        return f"{POSTGRES_SERVER}/{BENCH_DB}"
    raise ValueError(engine)


def drop_database(engine: str) -> None:
    from sqlalchemy import create_engine, text

    if engine == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{OUT / 'db' / 'bench.db'}{suffix}").unlink(missing_ok=True)
    elif engine == "mariadb":
        admin = create_engine(MYSQL_SERVER.replace("mysql://", "mysql+pymysql://", 1) + "/")
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{BENCH_DB}`"))
        admin.dispose()
    elif engine == "postgresql":
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}"'))
        admin.dispose()


def _pg_admin():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(POSTGRES_SERVER.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres",
                         isolation_level="AUTOCOMMIT")


def server_versions(engines: list[str]) -> dict[str, str]:
    import sqlite3

    from sqlalchemy import create_engine, text

    versions = {"sqlite": sqlite3.sqlite_version}
    try:
        if "mariadb" in engines:
            admin = create_engine(MYSQL_SERVER.replace("mysql://", "mysql+pymysql://", 1) + "/")
            with admin.connect() as conn:
                versions["mariadb"] = str(conn.execute(text("SELECT VERSION()")).scalar())
            admin.dispose()
        if "postgresql" in engines:
            admin = _pg_admin()
            with admin.connect() as conn:
                versions["postgresql"] = str(conn.execute(text("SHOW server_version")).scalar())
            admin.dispose()
    except Exception as exc:  # reported, not fatal: the runs will fail loudly anyway
        versions["error"] = str(exc)
    return versions


# -- one configuration, in its own process --------------------------------------------------------------

def worker(url: str, path: str, fmt: str) -> dict:
    from sqlalchemy import text

    from netwarden.pipeline import Pipeline
    from netwarden.store.database import Database
    from netwarden.store.writer import PROCESS_THRESHOLD

    db = Database.open(url)
    result = Pipeline(db).ingest_file(path, fmt)
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT COUNT(*) FROM events")).scalar()
    db.close()
    size = os.path.getsize(path)
    compressed = open(path, "rb").read(2) == b"\x1f\x8b"
    return {
        "lines": result.lines, "events": result.events, "skipped": result.skipped,
        "quarantined": result.quarantined_total, "seconds": result.seconds, "stored": stored,
        "format": result.format,
        "writer": "process" if size * (6 if compressed else 1) >= PROCESS_THRESHOLD else "thread",
        "rss_main_kib": me.ru_maxrss, "rss_writer_kib": children.ru_maxrss,  # Linux: KiB
        "cpu_main_s": me.ru_utime + me.ru_stime, "cpu_writer_s": children.ru_utime + children.ru_stime,
    }


def run_one(engine: str, path: Path, fmt: str, tree: Path = REPO) -> dict:
    """One ingest in a fresh process of the checkout ``tree`` (this one, or another to compare against); on a
    server, its CPU for the benchmark database's connections is sampled from ``/proc`` (migrations included)."""
    import contextlib

    from benchmarks.bench_store_write import ServerCpu

    url = fresh_database(engine)
    with contextlib.nullcontext() if engine == "sqlite" else ServerCpu(url) as server:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_ingest", "--worker", url, str(path), fmt],
                              cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} {path.name}: worker failed\n{proc.stderr[-3000:]}")
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    if record["stored"] != record["events"]:
        raise RuntimeError(f"{engine} {path.name}: {record['events']} events parsed, {record['stored']} stored")
    record["cpu_server_s"] = server.seconds if server is not None else 0.0
    record["load"] = os.getloadavg()[0]
    return record


def cpu_per_event(record: dict) -> str:
    """µs of CPU per event: the parsing process, the writer process, the server's connections."""
    n = max(record["events"], 1)
    return "/".join(f"{record[k] / n * 1e6:.1f}" for k in ("cpu_main_s", "cpu_writer_s", "cpu_server_s"))


# -- all of them --------------------------------------------------------------------------------------

@dataclass
class Row:
    case: Case
    engine: str
    path: Path
    runs: list[dict] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.runs)

    @property
    def seconds(self) -> float:
        return self.median("seconds")

    @property
    def events_per_second(self) -> float:
        return statistics.median(r["events"] / r["seconds"] for r in self.runs)

    @property
    def lines_per_second(self) -> float:
        return statistics.median(r["lines"] / r["seconds"] for r in self.runs)

    def peak_mib(self, key: str) -> float:
        return max(r[key] for r in self.runs) / 1024


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None,
        reps: int | None = None, log: Callable[[str], None] = print) -> list[Row]:
    engines = engines or list(ENGINES)
    cases = [c for c in CASES if not only or only.lower() in c.name.lower()]
    rows: list[Row] = []
    for case in cases:
        started = time.perf_counter()
        path = build_input(case, quick)
        log(f"  input {case.name}: {path.relative_to(REPO) if path.is_relative_to(REPO) else path} "
            f"({time.perf_counter() - started:.1f}s to prepare)")
        for engine in engines:
            row = Row(case, engine, path)
            n = reps or (1 if quick else case.reps if engine == "sqlite" else case.server_reps)
            for i in range(n):
                record = run_one(engine, path, case.fmt)
                row.runs.append(record)
                log(f"    {case.name:18} {engine:10} run {i + 1}/{n}: {record['events']:>9,} events "
                    f"{record['seconds']:7.2f}s {record['events'] / record['seconds']:>9,.0f} ev/s "
                    f"rss {record['rss_main_kib'] / 1024:.0f}+{record['rss_writer_kib'] / 1024:.0f} MiB "
                    f"cpu µs/event main/writer/server {cpu_per_event(record)} load {record['load']:.1f}")
            rows.append(row)
    for engine in engines:
        drop_database(engine)
    raw = [{"input": r.case.name, "format": r.case.fmt, "engine": r.engine, "path": str(r.path), "runs": r.runs}
           for r in rows]
    (OUT / "ingest-results.json").write_text(json.dumps(raw, indent=1))  # the raw figures, for a closer look
    return rows


# -- the report ---------------------------------------------------------------------------------------

def _n(value: float) -> str:
    return f"{value:,.0f}"


def markdown(rows: list[Row], *, quick: bool = False) -> str:
    out: list[str] = []
    engines = list(dict.fromkeys(r.engine for r in rows))
    headline = {r.engine: r for r in rows if r.case.name == HEADLINE}
    out.append("### Headline: 1,000,000-line access log into SQLite\n")
    if "sqlite" not in headline:
        out.append("Not measured in this run (it needs the full run on SQLite).\n")
    else:
        h = headline["sqlite"]
        eps = [r["events"] / r["seconds"] for r in h.runs]
        verdict = ("**meets** the target" if h.events_per_second >= TARGET_EVENTS_PER_SECOND
                   else "**does not meet** the target")
        out.append(f"Median **{_n(h.events_per_second)} events/s** ({h.seconds:.2f} s for "
                   f"{_n(h.runs[0]['events'])} events, {len(h.runs)} runs, spread "
                   f"{_n(min(eps))}–{_n(max(eps))} events/s, "
                   f"{h.seconds and (max(r['seconds'] for r in h.runs) - min(r['seconds'] for r in h.runs)) / h.seconds * 100:.1f}% "
                   f"of the median time): {verdict} of {_n(TARGET_EVENTS_PER_SECOND)} events/s.")
        cpu_main = statistics.median(r["cpu_main_s"] for r in h.runs)
        cpu_writer = statistics.median(r["cpu_writer_s"] for r in h.runs)
        out.append(f"\nCPU time (median): {cpu_main:.1f} s in the parsing process, {cpu_writer:.1f} s in the writer "
                   f"process, for {h.seconds:.1f} s of wall time on {os.cpu_count()} CPUs.")
        if quick:
            out.append("\n*Quick run: sizes divided by 20, not the real headline.*")
        for engine in ("mariadb", "postgresql"):
            if engine in headline:
                e = headline[engine]
                out.append(f"\n{_label(engine)}: median {_n(e.events_per_second)} events/s "
                           f"({e.seconds:.2f} s, {len(e.runs)} run{'s' if len(e.runs) > 1 else ''}), "
                           f"{e.events_per_second / h.events_per_second:.2f}× SQLite's throughput.")
        out.append("")

    out.append("### Every input and engine\n")
    out.append("Medians over the runs; *spread* is the fastest and slowest run's events/s when there was more "
               "than one. Peak RSS is `ru_maxrss` of the ingesting process (*main*) and of its writer "
               "process (*writer*, only for inputs of 8 MiB or more; smaller ones use a writer thread).\n")
    out.append("| input | format | engine | lines | events | quarantined | runs | seconds | events/s | spread "
               "| lines/s | writer | peak RSS main | peak RSS writer |")
    out.append("|---|---|---|--:|--:|--:|--:|--:|--:|---|--:|---|--:|--:|")
    for r in rows:
        first = r.runs[0]
        eps = [x["events"] / x["seconds"] for x in r.runs]
        spread = f"{_n(min(eps))}–{_n(max(eps))}" if len(eps) > 1 else "–"
        writer = f"{r.peak_mib('rss_writer_kib'):.0f} MiB" if first["writer"] == "process" else "–"
        out.append(f"| {r.case.name} | {r.case.fmt} | {_label(r.engine)} | {_n(first['lines'])} | "
                   f"{_n(first['events'])} | {_n(first['quarantined'])} | {len(r.runs)} | {r.seconds:.2f} | "
                   f"{_n(r.events_per_second)} | {spread} | {_n(r.lines_per_second)} | {first['writer']} | "
                   f"{r.peak_mib('rss_main_kib'):.0f} MiB | {writer} |")
    out.append("")

    others = [e for e in engines if e != "sqlite"]
    if "sqlite" in engines and others:
        out.append("### Server engines against SQLite\n")
        out.append("Throughput ratio: the engine's events/s divided by SQLite's on the same input "
                   "(below 1 is slower).\n")
        out.append("| input | SQLite events/s | " + " | ".join(f"{_label(e)} events/s | {_label(e)}/SQLite"
                                                              for e in others) + " |")
        out.append("|---|--:|" + "--:|--:|" * len(others))
        by = {(r.case.name, r.engine): r for r in rows}
        for case in dict.fromkeys(r.case.name for r in rows):
            base = by.get((case, "sqlite"))
            if not base:
                continue
            cells = []
            for e in others:
                other = by.get((case, e))
                cells.append(f"{_n(other.events_per_second)} | {other.events_per_second / base.events_per_second:.2f}"
                             if other else "– | –")
            out.append(f"| {case} | {_n(base.events_per_second)} | " + " | ".join(cells) + " |")
        out.append("")

    series = [r for r in rows if r.case.memory_series]
    if series:
        out.append("### Memory as the file grows (access log)\n")
        out.append("The parsing process holds one batch at a time and a bounded queue, so its peak should not "
                   "depend on the file's length. A writer process on SQLite also holds SQLite's page cache, which "
                   "fills as the database grows until it reaches its cap (`PRAGMA cache_size=-262144`, 256 MiB, "
                   "in `netwarden/store/database.py`); *sum* adds the two peaks, an upper bound of the "
                   "combined peak.\n")
        out.append("| engine | lines | input size | seconds | events/s | peak RSS main | peak RSS writer | sum |")
        out.append("|---|--:|--:|--:|--:|--:|--:|--:|")
        for r in sorted(series, key=lambda r: (engines.index(r.engine), r.runs[0]["lines"])):
            main, writer = r.peak_mib("rss_main_kib"), r.peak_mib("rss_writer_kib")
            out.append(f"| {_label(r.engine)} | {_n(r.runs[0]['lines'])} | {r.path.stat().st_size / 2**20:.0f} MiB | "
                       f"{r.seconds:.2f} | {_n(r.events_per_second)} | {main:.0f} MiB | {writer:.0f} MiB | "
                       f"{main + writer:.0f} MiB |")
        out.append("")

    out.append("Inputs (generated under `benchmarks/out/`, never committed):\n")
    for case in dict.fromkeys(r.case for r in rows):
        out.append(f"- **{case.name}**: {case.what}")
    return "\n".join(out) + "\n"


def _label(engine: str) -> str:
    return {"sqlite": "SQLite", "mariadb": "MariaDB", "postgresql": "PostgreSQL"}[engine]


def against(old: Path, *, engines: list[str], only: str | None, reps: int, quick: bool = False,
            log: Callable[[str], None] = print) -> str:
    """Old and new code alternated (old first in odd runs, new first in even ones), each engine in turn, on
    the same inputs: events/s and CPU per event, medians, and the new/old ratio of events/s."""
    lines = ["| input | engine | old events/s | new events/s | new/old | old µs/event main/writer/server "
             "| new µs/event main/writer/server |", "|---|---|--:|--:|--:|---|---|"]
    for case in [c for c in CASES if not only or only.lower() in c.name.lower()]:
        path = build_input(case, quick)
        for engine in engines:
            runs: dict[str, list[dict]] = {"old": [], "new": []}
            for i in range(reps):
                for label in (("old", "new") if i % 2 == 0 else ("new", "old")):
                    record = run_one(engine, path, case.fmt, old.resolve() if label == "old" else REPO)
                    runs[label].append(record)
                    log(f"    {case.name:18} {engine:10} {label} run {i + 1}/{reps}: "
                        f"{record['events'] / record['seconds']:>9,.0f} ev/s ({record['seconds']:.2f}s) "
                        f"cpu µs/event main/writer/server {cpu_per_event(record)} load {record['load']:.1f}")
            eps = {k: statistics.median(r["events"] / r["seconds"] for r in v) for k, v in runs.items()}
            cpu = {k: cpu_per_event({key: statistics.median(r[key] for r in v) for key in
                                     ("events", "cpu_main_s", "cpu_writer_s", "cpu_server_s")})
                   for k, v in runs.items()}
            lines.append(f"| {case.name} | {_label(engine)} | {_n(eps['old'])} | {_n(eps['new'])} | "
                         f"{eps['new'] / eps['old']:.2f} | {cpu['old']} | {cpu['new']} |")
    for engine in engines:
        drop_database(engine)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_ingest")
    parser.add_argument("--worker", nargs=3, metavar=("URL", "FILE", "FORMAT"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="inputs 20 times smaller, one run each")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--only", help="only inputs whose name contains this")
    parser.add_argument("--reps", type=int, help="runs per configuration (default: 3 for the SQLite headline, 1 else)")
    parser.add_argument("--against", type=Path, metavar="OLD_CHECKOUT",
                        help="alternate runs of this checkout and OLD_CHECKOUT (e.g. `git archive main netwarden "
                             "benchmarks | tar -x -C /tmp/old`) and compare them (default 2 runs each)")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    if args.against:
        print(against(args.against, engines=args.engines.split(","), only=args.only, reps=args.reps or 2,
                      quick=args.quick))
        return 0
    rows = run(quick=args.quick, engines=args.engines.split(","), only=args.only, reps=args.reps)
    print(markdown(rows, quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
