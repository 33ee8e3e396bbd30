"""Backtest: what a change of settings or models would have done on the stored history.

The stored events of a time range are read in time order, in batches (keyset pages, so memory does not
grow with the range), and replayed through a detection engine built from the *candidate* settings and
models. The engine has no database: nothing is stored, no detector state is saved, nothing is blocked.
The candidate's alerts, and the blocks its ``[respond]`` settings would have decided, are then compared
with what is stored for the same range: alerts and blocks gained and lost, by kind and by source, with
examples.

>>> result = Backtest(db, candidate_settings, since=..., until=...).run()   # doctest: +SKIP
>>> result.to_dict()["alerts"]["gained"]                                      # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import func, or_, select

from netwarden.detect.engine import DetectionEngine
from netwarden.enrich.assets import Assets
from netwarden.records import EVENT_FIELDS, Alert, AlertStatus, Event
from netwarden.store import alerts as alert_store
from netwarden.store.events import _sqlite_time
from netwarden.store.schema import events

Progress = Callable[[int, int], None]  # (events replayed, events in the range)
BATCH = 20_000
REPLAY_CACHE_KIB = -8192  # SQLite page cache while replaying (negative: KiB)
EXAMPLES = 5
TOP_SOURCES = 10
Key = tuple[str, str, str]  # (kind, subkind, source)


class BacktestError(ValueError):
    """A candidate that cannot be built (bad --set, unknown model ...); the message says what."""


# -- the candidate ------------------------------------------------------------------------------------

def apply_sets(settings: Any, assignments: Sequence[str]) -> Any:
    """``detect.port_scan.vertical_ports=30``, ``respond.threshold=0.9`` ... applied to a copy of the
    settings and validated again. Values are TOML (``30``, ``0.9``, ``true``, ``["a"]``), else text."""
    from pydantic import ValidationError

    from netwarden.config import Settings

    data = settings.model_dump()
    for text in assignments:
        path, sep, raw = text.partition("=")
        keys = [k.strip() for k in path.strip().split(".")]
        if not sep or not all(keys) or len(keys) < 2:
            raise BacktestError(f"--set {text!r}: use SECTION.KEY=VALUE, e.g. detect.port_scan.vertical_ports=30")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise BacktestError(f"--set {text!r}: {key} is not a section")
            node = child
        node[keys[-1]] = value
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise BacktestError(f"--set: {problems}") from None


class _CandidateModels:
    """The registry as the ml detector sees it, with one model swapped in (``--model NAME[:V] --threshold``):
    the active models, except other versions of that name, plus the chosen one at the chosen threshold."""

    def __init__(self, registry: Any, ref: str, threshold: float | None) -> None:
        from netwarden.learn.registry import ModelError

        try:
            record = registry.get(ref)
        except ModelError as exc:
            raise BacktestError(str(exc)) from None
        self.registry = registry
        self.record = dataclasses.replace(record, active=True,
                                          threshold=record.threshold if threshold is None else threshold)

    def active(self) -> list[Any]:
        others = [r for r in self.registry.active() if r.name != self.record.name]
        return others + [self.record]

    def load(self, record: Any) -> Any:
        model = self.registry.load(record)
        model.threshold = record.threshold
        return model


class _ReplayEngine(DetectionEngine):
    """The detection engine without a store: the "repeat offender" factor counts the replay's own earlier
    alerts of a source (a stored engine counts the stored ones)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.earlier: Counter[str] = Counter()

    def _earlier_alerts(self, conn: Any, finding: Any) -> int:
        earlier = self.earlier[finding.source]
        self.earlier[finding.source] += 1
        return earlier


def candidate_engine(db: Any, settings: Any, *, model: str | None = None,
                     threshold: float | None = None) -> DetectionEngine:
    """The detectors (and models) of ``settings``, with no store; ``model`` swaps one model in."""
    from netwarden.detect.base import SettingsError
    from netwarden.pipeline import detect_config

    try:
        engine = _ReplayEngine.from_config(detect_config(settings), None, assets=Assets(settings.network.home))
    except SettingsError as exc:
        raise BacktestError(str(exc)) from None
    swapped = None
    if model is not None:
        from netwarden.learn.registry import open_registry

        swapped = _CandidateModels(open_registry(db, settings), model, threshold)
    for detector in engine.detectors:
        bind = getattr(detector, "bind", None)
        if bind is not None:  # detectors that read the model registry (reads only): ml, web_attack
            bind(db, settings)
            if swapped is not None and hasattr(detector, "use"):
                detector.use(swapped)
    if model is not None and not any(d.name == "ml" for d in engine.detectors):
        raise BacktestError("--model needs the ml detector, which the candidate settings disable")
    with db.engine.connect() as conn:  # what administrators marked as false positives stays suppressed
        engine._suppressed = alert_store.load_suppressions(conn)
    engine._suppressions_loaded = float("inf")
    return engine


# -- reading the history ------------------------------------------------------------------------------

def count_events(db: Any, since: datetime, until: datetime) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events).where(
            events.c.timestamp >= since, events.c.timestamp < until)).scalar_one())


def stored_events(db: Any, since: datetime, until: datetime, *, batch: int = BATCH) -> Iterator[list[Event]]:
    """The events of [since, until) in time order, ``batch`` at a time (keyset pages on (timestamp, id):
    each page is one short query, so memory and locks do not grow with the range)."""
    if db.engine.dialect.name == "sqlite":
        yield from _sqlite_pages(db, since, until, batch)
        return
    columns = [events.c[name] for name in EVENT_FIELDS]  # in the order of Event's fields, "extra" last
    c = events.c
    last: tuple[datetime, int] | None = None
    while True:
        if last is None:
            stmt = select(c.id, *columns).where(c.timestamp >= since, c.timestamp < until)
        else:  # from the last timestamp seen, so the index seeks there
            stmt = select(c.id, *columns).where(c.timestamp >= last[0], c.timestamp < until,
                                                or_(c.timestamp > last[0], c.id > last[1]))
        stmt = stmt.order_by(c.timestamp, c.id).limit(batch)
        with db.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return
        yield [Event(*row[1:-1], extra=row[-1] or {}) for row in rows]
        last = (rows[-1].timestamp, rows[-1].id)
        if len(rows) < batch:
            return


def _sqlite_pages(db: Any, since: datetime, until: datetime, batch: int) -> Iterator[list[Event]]:
    """The same pages on SQLite without SQLAlchemy's per-value result processing, which cost two thirds
    of the reading time: timestamps are SQLAlchemy's own text form, read with one ``fromisoformat``."""
    # the raw line is what a person reads, no detector does: not read (long lines cost the most to fetch)
    names = ", ".join("NULL" if name == "raw" else f'"{name}"' for name in EVENT_FIELDS)
    first = f"SELECT id, {names} FROM events WHERE timestamp >= ? AND timestamp < ? "
    order = f"ORDER BY timestamp, id LIMIT {int(batch)}"
    # the next page starts at the last timestamp seen, so the index seeks there (not at ``since`` again)
    after = first + "AND (timestamp > ? OR id > ?) " + order
    lo, hi = _sqlite_time(since), _sqlite_time(until)
    params: tuple = (lo, hi)
    sql = first + order
    parse, loads = datetime.fromisoformat, orjson.loads
    while True:
        with db.engine.connect() as conn:
            # one pass reads each page once: the connection's page cache (256 MiB) would only fill up and
            # hold memory, so it is kept small while the replay reads, and given back after each page
            cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            conn.exec_driver_sql(f"PRAGMA cache_size={REPLAY_CACHE_KIB}")
            try:
                rows = conn.exec_driver_sql(sql, params).fetchall()
            finally:
                conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")
        if not rows:
            return
        yield [Event(parse(r[1] + "+00:00"), *r[2:-1], extra=loads(r[-1]) if r[-1] else {}) for r in rows]
        if len(rows) < batch:
            return
        params, sql = (rows[-1][1], hi, rows[-1][1], rows[-1][0]), after


# -- comparing ----------------------------------------------------------------------------------------

def _key(a: Alert) -> Key:
    return (a.kind, a.subkind, a.source or "")


def _example(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "subkind": a.subkind, "source": a.source, "severity": str(a.severity),
            "confidence": round(a.confidence, 3), "count": a.count, "first_seen": a.first_seen.isoformat(),
            "last_seen": a.last_seen.isoformat(), "why": a.factors[0].detail if a.factors else ""}


@dataclass
class Change:
    """Gained and lost items of one kind (alerts or blocks): counts by kind and source, and examples."""

    stored: int = 0
    candidate: int = 0
    gained: list[dict[str, Any]] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)
    gained_count: int = 0
    lost_count: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def compare(stored: dict[Any, dict[str, Any]], candidate: dict[Any, dict[str, Any]]) -> Change:
    """Items keyed the same way on both sides (examples as values, with "kind" and "source")."""
    change = Change(stored=len(stored), candidate=len(candidate))
    kinds: dict[str, Counter[str]] = {}
    sources: dict[str, Counter[str]] = {}
    for side, keys, examples in (("gained", candidate.keys() - stored.keys(), candidate),
                                 ("lost", stored.keys() - candidate.keys(), stored)):
        ordered = sorted(keys, key=lambda k: str(k))
        setattr(change, f"{side}_count", len(ordered))
        getattr(change, side).extend(examples[k] for k in ordered[:EXAMPLES])
        for k in ordered:
            item = examples[k]
            kinds.setdefault(item["kind"], Counter())[side] += 1
            sources.setdefault(item["source"] or "-", Counter())[side] += 1
    change.by_kind = {k: {"gained": v["gained"], "lost": v["lost"]} for k, v in sorted(kinds.items())}
    top = sorted(sources.items(), key=lambda kv: (-(kv[1]["gained"] + kv[1]["lost"]), kv[0]))[:TOP_SOURCES]
    change.by_source = {k: {"gained": v["gained"], "lost": v["lost"]} for k, v in top}
    return change


def stored_alerts(db: Any, since: datetime, until: datetime) -> list[Alert]:
    """Stored alerts of the range (not those marked false positive), read in keyset pages."""
    flt = alert_store.AlertFilter(since=since, until=until)
    return [a for a in alert_store.every_alert(db.engine.connect, flt) if a.status != AlertStatus.FALSE_POSITIVE]


def would_block(alerts: Sequence[Alert], settings: Any) -> dict[str, dict[str, Any]]:
    """The networks these ``[respond]`` settings block for these alerts, as if they happened now (an
    imported history is compared decision for decision, though it blocked nothing when it was stored)."""
    from netwarden.networks import AddressError, block_target, display
    from netwarden.respond.never_block import NeverBlockList

    respond = settings.respond
    if not respond.auto_block:
        return {}
    never = NeverBlockList.from_settings(respond, settings.network.home)
    out: dict[str, dict[str, Any]] = {}
    for a in sorted(alerts, key=lambda a: a.first_seen):
        if not a.source or a.confidence < respond.threshold_for(a.kind):
            continue
        try:
            net = block_target(a.source, respond.ipv6_prefix)
        except AddressError:
            continue
        if never.refusal(net):
            continue
        label = f"{a.kind}{'/' + a.subkind if a.subkind else ''}"
        out.setdefault(display(net), {"network": display(net), "source": display(net), "kind": label,
                                      "alert_id": a.id, "reason": f"{label}, confidence {a.confidence:.2f}",
                                      "when": a.last_seen.isoformat()})
    return out


# -- the run ------------------------------------------------------------------------------------------

@dataclass
class BacktestResult:
    since: datetime
    until: datetime
    events: int
    seconds: float
    alerts: Change
    blocks: Change
    candidate: dict[str, Any]

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "events": self.events,
                "seconds": round(self.seconds, 3), "events_per_second": round(self.events_per_second),
                "candidate": self.candidate, "alerts": self.alerts.to_dict(), "blocks": self.blocks.to_dict()}


class Backtest:
    """Replays [since, until) through the candidate; ``run()`` stores nothing and returns the comparison."""

    def __init__(self, db: Any, settings: Any, *, current: Any = None, since: datetime,
                 until: datetime | None = None, model: str | None = None, threshold: float | None = None,
                 batch: int = BATCH, describe: dict[str, Any] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.current = current if current is not None else settings  # what the stored side is judged by
        self.since = since
        self.until = until or datetime.now(timezone.utc)
        self.batch = batch
        self.describe = describe or {}
        self.engine = candidate_engine(db, settings, model=model, threshold=threshold)

    def run(self, progress: Progress | None = None, cancelled: Callable[[], bool] = lambda: False) -> BacktestResult:
        from netwarden.pipeline import relaxed_gc

        started = time.perf_counter()
        total = count_events(self.db, self.since, self.until) if progress else 0
        done = 0
        with relaxed_gc():
            for batch in stored_events(self.db, self.since, self.until, batch=self.batch):
                self.engine.process(batch)
                done += len(batch)
                if progress:
                    progress(done, total)
                if cancelled():
                    raise BacktestError("cancelled")
        seconds = time.perf_counter() - started
        stored = stored_alerts(self.db, self.since, self.until)
        return BacktestResult(
            since=self.since, until=self.until, events=done, seconds=seconds,
            alerts=compare(_by_key(stored), _by_key(self.engine.alerts)),
            blocks=compare(would_block(stored, self.current), would_block(self.engine.alerts, self.settings)),
            candidate=self.describe)


def _by_key(alerts: Sequence[Alert]) -> dict[Key, dict[str, Any]]:
    out: dict[Key, dict[str, Any]] = {}
    for a in sorted(alerts, key=lambda a: a.first_seen):
        out.setdefault(_key(a), _example(a))
    return out
