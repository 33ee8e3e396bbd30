"""The API answers no cache can help: 50 clients, every request for another address, 10 million events in SQLite.

Each endpoint that takes an address (events of an address, events from a source, alerts of a source, the host
page's data) is asked for the 4,750 addresses 198.18.0.1-198.18.19.250 in turn by 50 ``wrk`` connections, every
request with ``Cache-Control: no-cache`` so that the server computes every answer. The database is the web
benchmark's (``benchmarks/out/web-N.db``, built once). ``--base DIR`` also serves the same requests from the
``netwarden`` package under DIR (e.g. ``git archive OLD netwarden | tar -x -C DIR``) on a copy of the database at
that code's schema, alternating old and new code ``--reps`` times, so that both are measured on the same machine
in the same run.

*CPU* per answer is the server process's and its reader processes' (``serve --readers``), not the SQLite
writer's, which stores the syslog feed.

``python -m benchmarks.bench_uncached [--events N] [--seconds S] [--reps R] [--base DIR] [--no-write]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_web import FEED_RATE, OUT, REPO, Server, SyslogFeed, _credentials, _wrk, database

CLIENTS = 50
TARGET = 0.050  # p95, seconds (issue 14)
ADDRESSES = [f"198.18.{i // 250}.{i % 250 + 1}" for i in range(250, 5000)]
ENDPOINTS = [  # (name, path with {a} for the address)
    ("events of an address (either side)", "/api/v1/events?limit=50&address={a}"),
    ("events from a source", "/api/v1/events?limit=50&src={a}"),
    ("alerts of a source", "/api/v1/alerts?limit=50&source={a}"),
    ("host page data", "/api/v1/hosts/{a}"),
]


def _serve(db_path: Path, code: Path, seconds: float, log: Callable[[str], None],
           only: str | None = None) -> dict[str, dict]:
    """One server on ``code``: each endpoint alone, then all four mixed, under 50 clients (``only``: the
    endpoints whose name holds it)."""
    token = _credentials(db_path) if code == REPO else _old_credentials(db_path, code)
    server = Server(db_path, code)
    try:
        # warm up on other addresses than measured first; not on the host page, whose answers took the old code
        # seconds each: the requests left running would have slowed what is measured next
        every = [p.format(a=a) for _, p in ENDPOINTS[:3] for a in ADDRESSES]
        _wrk(server.url, token, every[::7], 3, no_cache=True, strict=False)
        # a few host pages by two clients: the first one loads the geolocation data (seconds), which 50
        # clients would otherwise all wait for inside the measured time
        _wrk(server.url, token, [ENDPOINTS[3][1].format(a=a) for a in ADDRESSES[::97]], 2, connections=2,
             no_cache=True, strict=False)
        out = {}
        with SyslogFeed(server.syslog_port, FEED_RATE):
            mixed = [ENDPOINTS[i % len(ENDPOINTS)][1].format(a=a) for i, a in enumerate(ADDRESSES)]
            for name, paths in [*((n, [p.format(a=a) for a in ADDRESSES]) for n, p in ENDPOINTS),
                                ("all four mixed", mixed)]:
                if only and only not in name:
                    continue
                web, cpu = _own_cpu_seconds(server.proc.pid), _cpu_seconds(server.proc.pid)
                out[name] = _wrk(server.url, token, paths, seconds, no_cache=True, strict=False)
                answers = max(out[name]["requests"], 1)
                out[name]["cpu_ms"] = (_cpu_seconds(server.proc.pid) - cpu) * 1000 / answers
                out[name]["web_cpu_ms"] = (_own_cpu_seconds(server.proc.pid) - web) * 1000 / answers
                log(f"  {code}: {name}: {_line(out[name])}")
    finally:
        server.stop()
    return out


def _cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) the server has used, its reader processes' included (not the SQLite
    writer's: it stores the syslog feed): under a shared machine's load, the cost of a request is its CPU time,
    where its latency also counts the time it waited for a core."""
    total = _own_cpu_seconds(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == "nw-web-reader":
                total += _own_cpu_seconds(int(child))
        except (OSError, ValueError):
            pass  # it ended meanwhile
    return total


def _own_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _old_credentials(db_path: Path, code: Path) -> str:
    """A token made by the old code itself (its schema may lack what the new code's migrations add)."""
    import subprocess

    script = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
              "from benchmarks.bench_web import _credentials; print(_credentials(Path(sys.argv[2])))")
    proc = subprocess.run([sys.executable, "-c", script, str(code), str(db_path)], capture_output=True, text=True,
                          check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": f"{code}:{REPO}"})
    return proc.stdout.strip().splitlines()[-1]


def _line(r: dict) -> str:
    return (f"{r['requests'] / r['seconds']:,.0f} req/s, p50 {r['p50'] * 1000:.1f} ms, "
            f"p95 {r['p95'] * 1000:.1f} ms, p99 {r['p99'] * 1000:.1f} ms, {r['errors']} errors, "
            f"server CPU {r['cpu_ms']:.2f} ms/request (web process {r.get('web_cpu_ms', 0):.2f})")


def _old_schema(db_path: Path, code: Path, log: Callable[[str], None]) -> None:
    """Bring the old code's copy down to the newest migration that code knows (the original may have been
    migrated past it by a newer code; the old code cannot start on a revision it has never heard of)."""
    from alembic import command
    from sqlalchemy import text

    from netwarden.store.database import Database, _alembic_config

    known = sorted(p.name.split("_", 1)[0] for p in (code / "netwarden/store/migrations/versions").glob("0*.py"))
    db = Database.open(f"sqlite:///{db_path}", migrate=False)
    try:
        with db.engine.begin() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if known and current not in known:
                log(f"{db_path.name}: schema {current} is newer than the old code's {known[-1]}: migrating down")
                cfg = _alembic_config()
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, known[-1])
    finally:
        db.engine.dispose()


def run(*, quick: bool = False, engines: list[str] | None = None, only: str | None = None, reps: int | None = None,
        log: Callable[[str], None] = print, events: int | None = None, seconds: float | None = None,
        base: Path | None = None, endpoint: str | None = None) -> dict:
    n_events = events or (200_000 if quick else 10_000_000)
    db_path = database(n_events, 1_000 if quick else 10_000, log)
    seconds = seconds or (3 if quick else 10)
    runs: dict[str, list[dict]] = {"new": [], "old": []}
    old_db = None
    if base is not None:
        old_db = OUT / f"web-{n_events}-old.db"
        if not old_db.exists():  # the old code's copy, made before the new code migrates the original
            log(f"copying the database for the old code to {old_db.name}")
            shutil.copyfile(db_path, old_db.with_suffix(".copying"))
            old_db.with_suffix(".copying").rename(old_db)
        _old_schema(old_db, base, log)
    load = os.getloadavg()
    for _ in range(reps or 1):
        if base is not None and old_db is not None:
            runs["old"].append(_serve(old_db, base, seconds, log, endpoint))
        runs["new"].append(_serve(db_path, REPO, seconds, log, endpoint))
    return {"events": n_events, "seconds": seconds, "runs": runs, "load": load, "load_after": os.getloadavg(),
            "cpus": os.cpu_count(), "base": str(base) if base else None}


def _median(runs: list[dict], name: str, key: str) -> float:
    return statistics.median(r[name][key] for r in runs)


def _cell(runs: list[dict], name: str) -> list[str]:
    """req/s, p50, p95, p99 and server CPU ms per request (medians of the runs); none finished: say so."""
    if any(r[name]["requests"] == 0 for r in runs):
        return ["0", "none answered", "", "", ""]
    rate = statistics.median(r[name]["requests"] / r[name]["seconds"] for r in runs)
    return [f"{rate:,.0f}", *(f"{_median(runs, name, k) * 1000:.1f}" for k in ("p50", "p95", "p99")),
            f"{_median(runs, name, 'cpu_ms'):.2f}"]


def markdown(results: dict, *, quick: bool = False) -> str:
    runs = results["runs"]
    names = [n for n in [*(n for n, _ in ENDPOINTS), "all four mixed"] if n in runs["new"][0]]
    both = bool(runs["old"])
    reps = len(runs["new"])
    out = [f"### API answers no cache can help ({results['events']:,} events, SQLite, {CLIENTS} clients)", "",
           f"`netwarden serve` on the web benchmark's database; `wrk` with {CLIENTS} connections on the same 2-core "
           "machine, each request for another of 4,750 addresses (198.18.0.1 onwards: each has a few events and "
           "two alerts) and sent with `Cache-Control: no-cache`, so the server computes every answer; "
           f"{results['seconds']:.0f} s per endpoint while the syslog listener receives {FEED_RATE} lines/s. "
           f"Load average {results['load'][0]:.1f} before, {results['load_after'][0]:.1f} after, on "
           f"{results['cpus']} CPUs (other work shared the machine: the latencies include waiting for a core; "
           "*CPU* is the server process's CPU time per answer). "
           + (f"Old and new code alternated {reps} times; medians of the runs." if both else
              f"Median of {reps} run{'s' if reps > 1 else ''}.") + f" Target: p95 ≤ {TARGET * 1000:.0f} ms.", ""]
    head = "requests/s | p50 ms | p95 ms | p99 ms | CPU ms"
    if both:
        out += [f"| endpoint | code | {head} |", "|---|---|---:|---:|---:|---:|---:|"]
        for name in names:
            out.append(f"| {name} | old | {' | '.join(_cell(runs['old'], name))} |")
            out.append(f"| | new | {' | '.join(_cell(runs['new'], name))} |")
    else:
        out += [f"| endpoint | {head} |", "|---|---:|---:|---:|---:|---:|"]
        out += [f"| {name} | {' | '.join(_cell(runs['new'], name))} |" for name in names]
    out += ["", "What changed (issue 14): one address is matched by equality, not `BETWEEN x AND x`, so the "
                "(address, timestamp) indexes give its events in time order; the host page's counts of an address "
                "on either side read each side through its own index (SQLite walked the timestamp index through all "
                "10M events of the 7 days for each of them, several seconds per answer) and count the two reads in "
                "Python instead of running nine statements; an events page runs statements built once per shape "
                "with the values bound (building a statement and its cache key cost twice what running it did). "
                "No index was missing: every query of these answers is now an index search on the address "
                "(`EXPLAIN QUERY PLAN`). Then (the framework's share): the dependencies that do no I/O are "
                "`async` (each plain one cost a hand-over to a worker thread and back), the API's routes are "
                "matched before the pages' (FastAPI tests each route in order, ~10 µs apiece), the geolocator is "
                "built once (the first host pages each built their own, 2 s), and an address's blocks are found "
                "by index seeks. Then: the events, alerts and host routes read their query parameters in one pass "
                "(`netwarden/web/query_params.py`: FastAPI inspected and validated each of 16 declared parameters "
                "on every request, present or not), their modules' routes are matched first, and the host page's "
                "five statements are built once and run with the address bound (building them cost three times "
                "running them). Then: reader processes (`netwarden/web/readers.py`, `serve --readers`, one per "
                "core by default) run those answers' queries and JSON beside the web process, which keeps HTTP, "
                "sessions and the live feed, and answers a viewer's plain request for them past FastAPI's "
                "routing (`netwarden/web/hot_routes.py`); one address's first page of alerts runs statements "
                "built once. Then: the host page's five statements are one (`store/host_statement.py`), run on "
                "SQLite's cursor with SQLAlchemy's own processors binding its values and typing its rows (its "
                "execution context cost as much as SQLite's work), and its chart's times are formatted once per "
                "bucket."]
    if results["load"][0] > results["cpus"]:
        out += ["", f"The machine was overloaded (load {results['load'][0]:.0f} on {results['cpus']} cores): the "
                    "latencies are mostly waiting for a core and compare only within this run; the CPU time per "
                    "answer is the comparable figure (the web process's and its readers'). The latency target "
                    "needs an idle machine: with 50 clients always waiting, the mean latency is 50 × the CPU per "
                    "answer ÷ the cores the server's processes get."]
    worst = max(_median(runs["new"], n, "p95") for n in names)
    out += ["", f"Worst p95 of the new code: {worst * 1000:.1f} ms — "
                f"{'meets' if worst <= TARGET else '**does not meet**'} the target. Reproduce: "
                "`python -m benchmarks.bench_uncached"
                + (" --base DIR --reps N` (DIR: the old code's `netwarden` package, e.g. "
                   "`git archive OLD netwarden | tar -x -C DIR`)" if both else "`")]
    return "\n".join(out)


BUSY = ["192.0.2.2", "10.0.0.7"]  # the busiest source (over half the events) and a destination (~20,000)


def busy(db_path: Path, log: Callable[[str], None] = print) -> None:
    """The host page's data of the busiest addresses, one at a time in this process (``--busy``; run it with
    ``PYTHONPATH=DIR`` for other code): wall and CPU seconds."""
    import time
    from datetime import datetime, timedelta, timezone

    from netwarden.store.database import Database
    from netwarden.store.hosts import host_summary

    db = Database.open(f"sqlite:///{db_path}")
    now = datetime.now(timezone.utc)
    with db.engine.connect() as conn:
        for address in BUSY:
            wall, cpu = time.perf_counter(), time.process_time()
            data = host_summary(conn, address, now - timedelta(days=7), now)
            log(f"{address}: {time.perf_counter() - wall:.2f} s wall, {time.process_time() - cpu:.2f} s CPU "
                f"({data['events']:,} events counted, sampled: {data['sampled']})")
    db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_uncached")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--base", type=Path, help="a directory holding the old code's netwarden package")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--endpoint", help="only the endpoints whose name holds this (e.g. host)")
    parser.add_argument("--busy", type=Path, metavar="DB", help="only time the host page of the busiest addresses")
    args = parser.parse_args(argv)
    if args.busy:
        busy(args.busy)
        return 0
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    results = run(events=args.events, seconds=args.seconds, reps=args.reps, base=args.base, log=log,
                  endpoint=args.endpoint)
    from benchmarks.__main__ import publish

    publish("uncached", markdown(results), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
