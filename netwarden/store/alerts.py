"""Storing and finding alerts, incidents, suppressions and detector state."""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Text, TypeDecorator, and_, bindparam, event, func, insert, or_, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite

from netwarden.records import Alert, AlertStatus, Factor, Severity
from netwarden.store import keyset, raw_rows, write_turns
from netwarden.store.addresses import address_key, network_range
from netwarden.store.events import _clean_json, clean_text, overlapping
from netwarden.store.schema import alerts, detector_state, incidents, suppressions


# What merging findings may change in a stored alert, and the value each column takes from it. Nothing else of a
# stored alert changes after its insert, and its status is a person's to change (``set_status``): an update by
# the engine never writes it, so an acknowledgement between two batches is not undone by the next one.
VALUES: dict[str, Callable[[Alert], Any]] = {
    "severity": lambda a: str(a.severity),
    "confidence": lambda a: float(a.confidence),
    "factors": lambda a: [f.to_dict() for f in a.factors],
    "target": lambda a: clean_text(a.target)[:255] if a.target else None,
    "first_seen": lambda a: a.first_seen,
    "last_seen": lambda a: a.last_seen,
    "count": lambda a: a.count,
    "evidence": lambda a: clean_evidence(a.evidence),
    "recommendation": lambda a: clean_text(a.recommendation),
    "incident_id": lambda a: a.incident_id,
    "model_version": lambda a: a.model_version,
    "history": lambda a: a.history,
}
# VALUES for SQLite and MariaDB in save_alerts: the evidence as text, encoded once
VALUES_AS_TEXT = {**VALUES, "evidence": lambda a: clean_evidence(a.evidence, as_text=True)}
MERGED = tuple(VALUES)  # the attributes merging may change, in the order of a ``snapshot``
Snapshot = tuple  # the MERGED attributes of an alert as stored, in order (``snapshot``)


snapshot: Callable[[Alert], Snapshot] = attrgetter(*MERGED)
"""An alert's MERGED attributes as they are now: take it before merging into a stored alert, and
``save_alerts`` writes only what changed. Merging replaces these values (lists and dicts too), never
changes them in place, so a shallow tuple is enough. (One C call: a flood takes thousands per batch.)"""


def _row(alert: Alert, now: datetime, values: dict[str, Callable[[Alert], Any]] = VALUES) -> dict[str, Any]:
    row = {
        "kind": alert.kind[:32], "subkind": alert.subkind[:64], "source": alert.source,
        "source_addr": _address_key(alert.source), "detector": alert.detector[:32],
        "signature": clean_text(alert.signature)[:255], "status": str(alert.status), "updated": now,
    }
    for name, value in values.items():
        row[name] = value(alert)
    return row


# a flood's new alerts come from the same few thousand sources batch after batch (ipaddress parses slowly)
_address_key = functools.lru_cache(maxsize=65_536)(address_key)


def clean_evidence(evidence: dict[str, Any], *, as_text: bool = False) -> Any:
    """``_clean_json(evidence)``, in C when it can: an alert's evidence (samples of whole events) is written
    again every batch that updates it, and walking it in Python was an eighth of ingest under a flood.
    orjson refuses lone surrogates and keys that are not text, and writes NUL escaped: those go the slow way.
    Its round trip turns NaN into null as ``_clean_json`` does (and infinities too, which JSON has no word for).
    ``as_text``: that text itself (``_Encoded``), for the engines that store JSON as text (``_JsonText``): the
    same text as encoding the round trip's result again, without the round trip."""
    try:
        dumped = orjson.dumps(evidence)
    except TypeError:
        return _clean_json(evidence)
    if b"\\u0000" in dumped:
        return _clean_json(evidence)
    return _Encoded(dumped.decode()) if as_text else orjson.loads(dumped)


class _Encoded:
    """JSON text made already: ``_JsonText`` writes it as it is (only bound through ``_binds``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def save_alert(conn: Connection, alert: Alert) -> int:
    """Insert a new alert or update the stored one (``alert.id`` set); returns the id."""
    now = datetime.now(timezone.utc)
    row = _row(alert, now)
    if alert.id is None:
        row["created"] = now
        alert.id = int(conn.execute(insert(alerts).values(**row)).inserted_primary_key[0])
    else:
        conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**row))
    return alert.id


def save_alerts(conn: Connection, batch: list[Alert], stored: dict[int, Snapshot] | None = None) -> None:
    """Insert the new alerts (``id`` None) in one multi-row statement (ids set in order) and update the others
    with what changed since ``stored`` (``id(alert)`` -> its ``snapshot`` as stored; without one, every MERGED
    column), one executemany per set of changed columns. Under attack a batch updates thousands of alerts, most
    of them in a count and a time; rewriting each whole, its evidence included, was a fifth of ingest."""
    now = datetime.now(timezone.utc)
    text_json = conn.dialect.name in TEXT_JSON
    values = VALUES_AS_TEXT if text_json else VALUES
    new = [a for a in batch if a.id is None]
    # the changed columns -> [each alert's values of them, ``now``, its id]: a list per row, not a dict (under
    # a flood, building and copying ~17,000 dicts per batch was a fifth of writing them)
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    everything = MERGED
    wanted: dict[tuple[str, ...], tuple[Callable[[Alert], Any], ...]] = {}
    for alert in batch:
        if alert.id is None:
            continue
        before = stored.get(id(alert)) if stored is not None else None
        if before is None:
            names = everything
        else:  # merging replaces a changed value (never changes it in place): ``is`` settles most at once
            names = tuple(name for name, old in zip(everything, before)
                          if (value := getattr(alert, name)) is not old and value != old)
        makers = wanted.get(names)
        if makers is None:
            makers = wanted[names] = tuple(values[name] for name in names)
        row = [make(alert) for make in makers]
        row.append(now)
        row.append(alert.id)
        groups.setdefault(names, []).append(row)
    for names, rows in groups.items():
        _update_rows(conn, alerts, names, rows)
    for alert, alert_id in zip(new, insert_many(conn, alerts, [_row(a, now, values) | {"created": now} for a in new])):
        alert.id = alert_id


def _update_rows(conn: Connection, table: Any, names: tuple[str, ...], rows: list[list[Any]]) -> None:
    """``update_many`` of rows given as lists: the values of ``names``, then of ``updated``, then the id."""
    if not rows:
        return
    columns = (*names, "updated")

    def build() -> Any:
        return update(table).where(table.c.id == bindparam("_id")).values(_binds(conn, table, dict.fromkeys(columns)))

    prepared = raw_rows.prepare(conn, ("update", table.name, columns), build)
    raw_rows.executemany_lists(conn, prepared, (*columns, "_id"), rows)


def insert_many(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (all with the same columns) in one statement where the engine can; their ids, in the
    order of ``rows``."""
    if not rows:
        return []
    columns = tuple(rows[0])
    stmt = insert(table).values(_binds(conn, table, rows[0]))
    if len(rows) == 1:  # RETURNING in bulk needs a driver and server that keep the order; one needs neither
        return [int(conn.execute(stmt, rows[0]).inserted_primary_key[0])]
    if conn.dialect.name == "sqlite":
        # SQLAlchemy would insert row by row here (SQLite does not promise RETURNING's order). From its insert
        # on, the transaction holds SQLite's only write lock, and a new rowid is the largest plus one: the
        # rows just inserted are the table's newest, in order
        raw_rows.executemany(conn, raw_rows.prepare(conn, ("insert", table.name, columns), lambda: stmt), rows)
        newest = conn.execute(select(table.c.id).order_by(table.c.id.desc()).limit(len(rows)))
        return [int(row_id) for (row_id,) in newest][::-1]
    # one INSERT ... RETURNING, sorted by the autoincrement id (PostgreSQL, MariaDB)
    found = conn.execute(stmt.returning(table.c.id, sort_by_parameter_order=True), rows)
    return [int(row_id) for (row_id,) in found]


def update_many(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Update each row (the columns given, the same in every row) by its ``id``, as one executemany on the
    driver (``raw_rows``: a flood updates thousands of alerts per batch)."""
    if not rows:
        return
    columns = tuple(name for name in rows[0] if name != "id")

    def build() -> Any:
        values = _binds(conn, table, dict.fromkeys(columns))
        return update(table).where(table.c.id == bindparam("_id")).values(values)

    prepared = raw_rows.prepare(conn, ("update", table.name, columns), build)
    raw_rows.executemany(conn, prepared, [{**row, "_id": row["id"]} for row in rows])


TEXT_JSON = ("sqlite", "mysql", "mariadb")  # the engines that store JSON as text


class _JsonText(TypeDecorator):
    """A JSON column's value as the text SQLite and MariaDB store, written by orjson: the standard library's
    encoder was half the cost of writing an alert's evidence and factors. What orjson refuses (a lone
    surrogate, an integer past 64 bits) goes the standard way; NaN is null either way (``clean_evidence``)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return "null"  # as the JSON type writes None (its none_as_null is off)
        if type(value) is _Encoded:
            return value.text
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return json.dumps(value)


def _binds(conn: Connection, table: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A bound parameter per column of ``row``; JSON columns as text on the engines that store JSON as text
    (PostgreSQL keeps its own JSON binding)."""
    text_json = conn.dialect.name in TEXT_JSON
    return {name: bindparam(name, type_=_JsonText() if text_json and isinstance(table.c[name].type, JSON)
                            else table.c[name].type) for name in row}


def row_to_alert(row: Any) -> Alert:
    m = row._mapping if hasattr(row, "_mapping") else row
    return Alert(
        id=m["id"], kind=m["kind"], subkind=m["subkind"], severity=Severity(m["severity"]),
        confidence=m["confidence"], factors=[Factor(**f) for f in m["factors"]], source=m["source"],
        target=m["target"], first_seen=m["first_seen"], last_seen=m["last_seen"], count=m["count"],
        evidence=m["evidence"], recommendation=m["recommendation"], detector=m["detector"],
        signature=m["signature"], status=AlertStatus(m["status"]), incident_id=m["incident_id"],
        model_version=m["model_version"], history=bool(m.get("history")))


def get_alert(conn: Connection, alert_id: int) -> Alert | None:
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
    return row_to_alert(row) if row else None


@dataclass
class AlertFilter:
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = None
    severity: str | None = None  # this or worse
    status: str | None = None
    source: str | None = None  # address or network
    min_confidence: float | None = None
    incident_id: int | None = None
    text: str | None = None  # in kind, subkind, source, target or signature (any case)

    def clauses(self) -> list:
        c = alerts.c
        where: list = overlapping(self.since, self.until, c.first_seen, c.last_seen)
        if self.kind:
            where.append(c.kind == self.kind)
        if self.severity:
            rank = Severity(self.severity).rank
            where.append(c.severity.in_([str(s) for s in Severity if s.rank >= rank]))
        if self.status:
            where.append(c.status == str(AlertStatus(self.status)))
        if self.source:
            # one address: equality, so that the (source_addr, last_seen) index gives the rows in order
            lo, hi = network_range(self.source)
            where.append(c.source_addr == lo if lo == hi else c.source_addr.between(lo, hi))
        if self.min_confidence is not None:
            where.append(c.confidence >= self.min_confidence)
        if self.incident_id is not None:
            where.append(c.incident_id == self.incident_id)
        if self.text:
            pattern = "%" + self.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(or_(*(func.lower(col).like(pattern, escape="\\") for col in (
                c.kind, c.subkind, c.source, c.target, c.signature))))
        return where


def find_alerts(conn: Connection, flt: AlertFilter, *, limit: int = 100, offset: int = 0) -> list[Alert]:
    stmt = select(alerts).where(*flt.clauses()).order_by(alerts.c.last_seen.desc(), alerts.c.id.desc()) \
        .limit(limit).offset(offset)
    return [row_to_alert(r) for r in conn.execute(stmt)]


def page_of_alerts(conn: Connection, flt: AlertFilter, *, limit: int = 100,
                   cursor: str | None = None) -> tuple[list[Alert], str | None]:
    """One page of alerts, most recently seen first, from ``cursor`` on, and the next page's cursor."""
    rows, following = keyset.page(conn, select(alerts).where(*flt.clauses()), alerts.c.last_seen, alerts.c.id,
                                  limit=limit, cursor=cursor)
    return [row_to_alert(r) for r in rows], following


def every_alert(connect: Callable[[], Any], flt: AlertFilter) -> Iterator[Alert]:
    """Every matching alert, most recently seen first, in keyset pages (exports)."""
    return map(row_to_alert, keyset.every(connect, select(alerts).where(*flt.clauses()), alerts.c.last_seen,
                                          alerts.c.id))


def count_alerts(conn: Connection, flt: AlertFilter) -> int:
    return int(conn.execute(select(func.count()).select_from(alerts).where(*flt.clauses())).scalar_one())


def missing_alert_ids(conn: Connection, ids: list[int]) -> list[int]:
    """Those of ``ids`` that no alert has (in the order given)."""
    found = {r[0] for r in conn.execute(select(alerts.c.id).where(alerts.c.id.in_(ids)))}
    return [i for i in ids if i not in found]


def alerts_of_sources(conn: Connection, sources: list[str], since: datetime, until: datetime,
                      limit: int = 100) -> list[Alert]:
    """The most recently seen alerts about any of ``sources`` within [since, until), newest first."""
    found: list[Alert] = []
    for i in range(0, len(sources), 500):  # bounded IN lists
        stmt = select(alerts).where(alerts.c.source.in_(sources[i:i + 500]), alerts.c.last_seen >= since,
                                    alerts.c.first_seen < until).order_by(alerts.c.last_seen.desc()).limit(limit)
        found += [row_to_alert(r) for r in conn.execute(stmt)]
    found.sort(key=lambda a: a.last_seen, reverse=True)
    return found[:limit]


OPEN_STATUSES = (str(AlertStatus.NEW), str(AlertStatus.ACKNOWLEDGED))


def open_by_severity(conn: Connection) -> dict[str, int]:
    """Open (new or acknowledged) alerts per severity, every severity present."""
    counted = dict(conn.execute(select(alerts.c.severity, func.count()).where(
        alerts.c.status.in_([str(AlertStatus.NEW), str(AlertStatus.ACKNOWLEDGED)])).group_by(alerts.c.severity)).all())
    return {str(s): int(counted.get(str(s), 0)) for s in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM,
                                                         Severity.LOW)}


def open_alerts_since(conn: Connection, since: datetime) -> list[Alert]:
    """Alerts that a new finding may still update (seen recently, not closed by a person)."""
    stmt = select(alerts).where(alerts.c.last_seen >= since,
                                alerts.c.status.in_([str(AlertStatus.NEW), str(AlertStatus.ACKNOWLEDGED)]))
    return [row_to_alert(r) for r in conn.execute(stmt)]


def alerts_before(conn: Connection, source: str, before: datetime) -> int:
    """How many alerts this source had before ``before`` (repeat offenders)."""
    # source_addr first: it is indexed, and the count is asked for every new alert
    addr = address_key(source)
    stmt = select(func.count()).select_from(alerts).where(
        alerts.c.source_addr == addr if addr is not None else alerts.c.source_addr.is_(None),
        alerts.c.source == source, alerts.c.first_seen < before)
    return int(conn.execute(stmt).scalar_one())


def open_alerts_about(conn: Connection, kinds: set[str], sources: set[str], targets: set[str],
                      since: datetime) -> list[Alert]:
    """Open (new or acknowledged) alerts seen since ``since`` of one of ``kinds``, from one of ``sources`` or,
    without a source, about one of ``targets``: the alerts a batch of findings may merge into, in a few queries."""
    found: list[Alert] = []
    if not kinds:
        return found
    base = select(alerts).where(alerts.c.kind.in_(sorted(kinds)), alerts.c.last_seen >= since,
                                alerts.c.status.in_(OPEN_STATUSES))
    for chunk in _chunks(sources):
        found += [row_to_alert(r) for r in conn.execute(base.where(alerts.c.source.in_(chunk)))]
    for chunk in _chunks(targets):
        found += [row_to_alert(r) for r in conn.execute(base.where(alerts.c.source.is_(None),
                                                                   alerts.c.target.in_(chunk)))]
    return found


def alert_starts(conn: Connection, sources: set[str], before: datetime) -> dict[str, list[datetime]]:
    """When each of ``sources``' alerts began, for those that began before ``before``, in order (the batch
    form of ``alerts_before``)."""
    starts: dict[str, list[datetime]] = {s: [] for s in sources}
    addrs = {s: address_key(s) for s in sources}
    by_addr = {a for a in addrs.values() if a is not None}
    named = [s for s, a in addrs.items() if a is None]
    c = alerts.c
    for where in ([c.source_addr.in_(chunk) for chunk in _chunks(by_addr)]
                  + [and_(c.source_addr.is_(None), c.source.in_(chunk)) for chunk in _chunks(named)]):
        for source, first_seen in conn.execute(select(c.source, c.first_seen).where(where, c.first_seen < before)):
            if source in starts:  # exactly: MariaDB compares strings without case
                starts[source].append(first_seen)
    for found in starts.values():
        found.sort()
    return starts


def _chunks(values: Any, size: int = 200) -> list[list[Any]]:
    """Bounded IN lists: far below every engine's limit on bound parameters."""
    ordered = sorted(values)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def set_status(conn: Connection, alert_id: int, status: AlertStatus, *, by: str = "cli",
               note: str = "") -> Alert:
    """Change an alert's status; a false positive also suppresses that pattern from that source."""
    alert = get_alert(conn, alert_id)
    if alert is None:
        raise LookupError(f"no alert with id {alert_id}")
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
        status=str(status), updated=datetime.now(timezone.utc)))
    alert.status = status
    if status == AlertStatus.FALSE_POSITIVE:
        conn.execute(insert(suppressions).values(
            kind=alert.kind, source=alert.source or "*", signature=alert.signature, alert_id=alert_id,
            note=clean_text(note), created_by=by[:64], created=datetime.now(timezone.utc)))
    return alert


def load_suppressions(conn: Connection) -> set[tuple[str, str, str]]:
    return {(r.kind, r.source, r.signature) for r in conn.execute(
        select(suppressions.c.kind, suppressions.c.source, suppressions.c.signature))}


# -- incidents ------------------------------------------------------------------------------------

def open_incident(conn: Connection, source: str, since: datetime) -> dict[str, Any] | None:
    row = conn.execute(select(incidents).where(incidents.c.source == source, incidents.c.last_seen >= since,
                                               incidents.c.status != "resolved")
                       .order_by(incidents.c.last_seen.desc()).limit(1)).first()
    return {str(k): v for k, v in row._mapping.items()} if row else None


def save_incident(conn: Connection, incident: dict[str, Any]) -> int:
    values = {k: v for k, v in incident.items() if k != "id"}
    if incident.get("id") is None:
        incident["id"] = int(conn.execute(insert(incidents).values(**values)).inserted_primary_key[0])
    else:
        conn.execute(update(incidents).where(incidents.c.id == incident["id"]).values(**values))
    return incident["id"]


def latest_open_incidents(conn: Connection, sources: set[str]) -> dict[str, dict[str, Any]]:
    """Each source's most recently seen incident not resolved (``open_incident`` with no time limit), for
    many sources in a few queries."""
    latest: dict[str, tuple[tuple[datetime, int], Any]] = {}  # source -> ((last seen, id), its row)
    for chunk in _chunks(sources):  # whole rows at once: a source has few unresolved incidents (one, mostly)
        for row in conn.execute(select(incidents).where(incidents.c.source.in_(chunk),
                                                        incidents.c.status != "resolved")):
            source = row.source
            if source in sources:
                order = (row.last_seen, row.id)
                held = latest.get(source)
                if held is None or order > held[0]:
                    latest[source] = (order, row)
    return {source: {str(k): v for k, v in row._mapping.items()} for source, (_, row) in latest.items()}


LOCK_POLL = 0.001  # seconds between tries for SQLite's write lock (lock_for_writing)


def lock_for_writing(conn: Connection) -> None:
    """SQLite: take the database's write lock before a batch's writes, trying again every millisecond.

    Why: during an import the writer process commits batch after batch, each holding the one write lock, with
    short gaps between them. SQLite's own busy handler (the connection's ``timeout``) sleeps ever longer, up to
    100 ms a try, so it mostly wakes inside the next batch's transaction: the engine waited 3.6 s per 1M-line SSH
    import for writes of 0.03 CPU-s. Polling often catches a gap. The wait is still bounded by the connection's
    busy timeout, after which SQLite's "database is locked" is raised as before. Nothing on other databases, or
    when the connection's transaction already holds a lock."""
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    if raw is None or raw.in_transaction:
        return
    (timeout_ms,) = raw.execute("PRAGMA busy_timeout").fetchone()
    deadline = time.monotonic() + timeout_ms / 1000
    raw.execute("PRAGMA busy_timeout=0")  # fail at once when locked: this loop does the waiting
    turn = write_turns.flag_of(conn.engine)  # a file import's writer process: asked to commit soon
    _checkpoints_by_writer(conn, raw, turn is not None)
    if turn is not None:
        turn.value = 1
    try:
        while True:
            try:
                # on the driver's connection: SQLAlchemy's wrapped error for each refusal held its frames, and so
                # the batch's events, in reference cycles (40 % of a 100k-line import's events left for the
                # cyclic collector)
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")  # its error, as SQLAlchemy reports it
                    return
            time.sleep(LOCK_POLL)
    finally:
        if turn is not None:
            turn.value = 0
        raw.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")


def _checkpoints_by_writer(conn: Connection, raw: Any, importing: bool) -> None:
    """While a file import's writer process writes the database, this connection does not checkpoint SQLite's
    WAL: the writer process does (every ``FILE_IMPORT_CHECKPOINT_PAGES``, on a core with time to spare). Left at
    SQLite's 1,000 pages, the engine's commit of a flood's ~25 MB of alerts crossed it nearly every batch and
    copied the whole WAL back, with an fsync, in the parsing process (0.25 s of its ~4 s per 60,000 lines).
    After the import, the connection's own setting again."""
    info = conn.connection.info
    if importing:
        if _CHECKPOINT_BEFORE not in info:
            (info[_CHECKPOINT_BEFORE],) = raw.execute("PRAGMA wal_autocheckpoint").fetchone()
            raw.execute("PRAGMA wal_autocheckpoint=0")
            if not event.contains(conn.engine, "checkin", _own_checkpoints_again):
                event.listen(conn.engine, "checkin", _own_checkpoints_again)
    elif _CHECKPOINT_BEFORE in info:
        raw.execute(f"PRAGMA wal_autocheckpoint={int(info.pop(_CHECKPOINT_BEFORE))}")


def _own_checkpoints_again(dbapi_connection: Any, record: Any) -> None:
    """Back in the pool (its commit made without a checkpoint), a connection has its own setting again: taken next
    for other writes (``netwarden follow`` storing lines after an import), it kept checkpoints off, and the WAL
    grew until the engine happened to write alerts on it again."""
    before = record.info.pop(_CHECKPOINT_BEFORE, None)
    if before is not None and dbapi_connection is not None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={int(before)}")


_CHECKPOINT_BEFORE = "netwarden_wal_autocheckpoint"  # a connection's own setting, while an import holds it at 0


def save_incidents(conn: Connection, batch: list[dict[str, Any]],
                   stored: dict[int, dict[str, Any]] | None = None) -> None:
    """``save_incident`` for many: the new ones in one insert (ids set in order); the others updated in what
    changed since ``stored`` (``id(incident)`` -> a copy as read; without one, every column but the status),
    one executemany per set of changed columns. The status is a person's (``set_incident_status``): the
    engine never writes it back."""
    new = [i for i in batch if i.get("id") is None]
    fresh = {id(i) for i in new}
    for incident, incident_id in zip(new, insert_many(conn, incidents, [
            {k: v for k, v in i.items() if k != "id"} for i in new])):
        incident["id"] = incident_id
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for incident in batch:
        if id(incident) in fresh:
            continue
        before = stored.get(id(incident)) if stored is not None else None
        row = {k: v for k, v in incident.items()
               if k not in ("id", "status") and (before is None or before.get(k, _MISSING) != v)}
        if row:
            groups.setdefault(tuple(row), []).append(row | {"id": incident["id"]})
    for rows in groups.values():
        update_many(conn, incidents, rows)


_MISSING = object()  # a column the copy as read did not hold: written


def statuses(conn: Connection, ids: list[int]) -> dict[int, AlertStatus]:
    """The stored status of each of the alerts ``ids`` (those that still exist)."""
    found: dict[int, AlertStatus] = {}
    if conn.dialect.name == "sqlite":  # on the driver: a batch under a flood asks for ~10,000 (SQLAlchemy's
        # expanding IN and its rows were most of the cost); the ids are bound, never written into the text
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for chunk in _chunks(ids, 500):
                found.update((row_id, _STATUSES.get(status) or AlertStatus(status)) for row_id, status in cursor.execute(
                    f"SELECT id, status FROM alerts WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        finally:
            cursor.close()
        return found
    for chunk in _chunks(ids, 500):
        found.update((row_id, AlertStatus(status)) for row_id, status in conn.execute(
            select(alerts.c.id, alerts.c.status).where(alerts.c.id.in_(chunk))))
    return found


_STATUSES = {str(s): s for s in AlertStatus}


INCIDENT_COLUMNS = ("id", "source", "severity", "status", "kinds", "alert_count", "summary", "first_seen",
                    "last_seen")  # for exports


def find_incidents(conn: Connection, *, since: datetime | None = None, limit: int = 100,
                   offset: int = 0) -> list[dict[str, Any]]:
    stmt = select(incidents).order_by(incidents.c.last_seen.desc(), incidents.c.id.desc()).limit(limit).offset(offset)
    if since is not None:
        stmt = stmt.where(incidents.c.last_seen >= since)
    return [{str(k): v for k, v in r._mapping.items()} for r in conn.execute(stmt)]


# -- detector state -------------------------------------------------------------------------------

def save_state(conn: Connection, name: str, state: dict[str, Any]) -> None:
    values = {"name": name, "state": orjson.dumps(state, default=str).decode(),
              "saved": datetime.now(timezone.utc)}
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        stmt = mysql.insert(detector_state).values(**values)
        stmt = stmt.on_duplicate_key_update(state=stmt.inserted.state, saved=stmt.inserted.saved)
    else:
        ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = ins(detector_state).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=[detector_state.c.name],
                                          set_={"state": stmt.excluded.state, "saved": stmt.excluded.saved})
    conn.execute(stmt)


def load_state(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(detector_state.c.state).where(detector_state.c.name == name)).first()
    if row is None:
        return None
    try:
        return orjson.loads(row.state)
    except orjson.JSONDecodeError:
        return None
