"""The host page's one statement: every part of what the store knows of one address in a single query.

Five statements (first and last seen, the newest events from and to the address, its alerts, its blocks) cost
five times SQLAlchemy's work of running one (~40-60 µs each on SQLite), more than the database's own work
for an address with a few events. They are now branches of one ``UNION ALL``: each branch is the same index
search as before, its rows tagged with the part they belong to (``part``) and laid out on shared columns
("slots") that hold a value of the same type in every branch (a timestamp, an integer, text, JSON ...), NULL
where a part has nothing to put.

The order of a ``UNION ALL``'s rows is not defined: the caller sorts each part (all are small and bounded).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Integer,
    LargeBinary,
    Text,
    bindparam,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from netwarden.store.addresses import V4_MAPPED
from netwarden.store.blocks import prefix_starts
from netwarden.store.schema import UtcDateTime, alerts, events
from netwarden.store.schema_respond import blocks

FIRST_LAST, SENT, RECEIVED, ALERT, BLOCK = range(5)  # the ``part`` of a row
HOST_ALERTS = 50
HOST_BLOCKS = 50
# an address's blocks are found by its prefixes' first addresses (netwarden.store.blocks.prefix_starts), 33 at
# most for IPv4 (popcount + 1, ~17 on average), 129 for IPv6; a fixed number of bound values, padded with
# repeats, keeps the statement a few compiled forms (an expanding IN list rewrites the whole statement at
# each run), and the fewer values bound the cheaper a run
STARTS = (17, 33, 129)

# slot -> its type; every branch puts a value of this type there or NULL
SLOTS: dict[str, Any] = {
    "id": BigInteger(), "t1": UtcDateTime(), "t2": UtcDateTime(), "t3": UtcDateTime(),
    **{f"s{i}": Text() for i in range(10)}, **{f"n{i}": BigInteger() for i in range(3)},
    "f0": Float(), "j0": JSON(), "j1": JSON(), "b0": Boolean(),
}


V4_LOW_STARTS = prefix_starts(V4_MAPPED + bytes(4))[:-1]  # ::, ::8000:0:0, ... ::fffe:0:0


class _Blob(ColumnElement):
    """A constant address key written into the statement (``X'...'``; ``'\\x...'::bytea`` on PostgreSQL)."""

    inherit_cache = True
    _traverse_internals = [("value", InternalTraversal.dp_plain_obj)]  # in the statement's cache key

    def __init__(self, value: bytes) -> None:
        self.value = value
        self.type = LargeBinary()


@compiles(_Blob)
def _blob_default(element: Any, compiler: Any, **kw: Any) -> str:
    return f"X'{element.value.hex()}'"


@compiles(_Blob, "postgresql")
def _blob_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    return f"'\\x{element.value.hex()}'::bytea"


class _typed_null(FunctionElement):
    """NULL of a given type: PostgreSQL resolves the types of a UNION's columns branch by branch, and an
    untyped NULL in the first two branches would make a column text there (``UNION types text and timestamp
    cannot be matched``); SQLite and MariaDB take a bare NULL."""

    inherit_cache = True

    def __init__(self, type_: Any) -> None:
        super().__init__()
        self.type = type_


@compiles(_typed_null)
def _null_default(element: Any, compiler: Any, **kw: Any) -> str:
    return "NULL"


@compiles(_typed_null, "postgresql")
def _null_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST(NULL AS {compiler.dialect.type_compiler_instance.process(element.type)})"


def _fixed(n: int) -> Any:
    """A LIMIT or OFFSET written into the statement: fewer values to bind at each run (~1 µs each)."""
    return literal_column(str(int(n)), Integer())


def _branch(part: int, source: Any, **values: ColumnElement) -> Any:
    """One part's rows on the shared slots (``values``: slot -> column of ``source``)."""
    unknown = set(values) - set(SLOTS)
    assert not unknown, unknown
    columns = [literal_column(str(part), Integer()).label("part")]
    columns += [(values[name] if name in values else _typed_null(type_)).label(name)
                for name, type_ in SLOTS.items()]
    return select(*columns).select_from(source)


def _newest_events(column: Any) -> Any:
    """The newest ``scan`` events in [since, until) of one side (``column`` = ``key``), through that side's
    (address, timestamp) index."""
    c = events.c
    return select(c.id, c.timestamp, c.src_ip, c.dst_ip, c.bytes_out, c.bytes_in, c.transport, c.dst_port,
                  c.source_kind, c.user_agent) \
        .where(c.timestamp >= bindparam("since"), c.timestamp < bindparam("until"), column == bindparam("key")) \
        .order_by(c.timestamp.desc(), c.id.desc()).limit(bindparam("scan")).offset(_fixed(0)).subquery()


def host_statement(starts: int) -> Any:
    """The statement, for ``starts`` bound prefix starts (``start0`` ...)."""
    c, a, b = events.c, alerts.c, blocks.c
    branches = []
    # first and last seen on either side: the ends of each side's (address, timestamp) index, four seeks
    # (min() and max() over an address's events read them all: seconds for one with millions)
    for column in (c.src_addr, c.dst_addr):
        for order in (c.timestamp.asc(), c.timestamp.desc()):
            end = select(c.timestamp).where(column == bindparam("key")).order_by(order) \
                .limit(_fixed(1)).offset(_fixed(0)).subquery()
            branches.append(_branch(FIRST_LAST, end, t1=end.c.timestamp))
    for part, column in ((SENT, c.src_addr), (RECEIVED, c.dst_addr)):
        newest = _newest_events(column)
        e = newest.c
        branches.append(_branch(part, newest, id=e.id, t1=e.timestamp, s0=e.src_ip, s1=e.dst_ip, s2=e.transport,
                                s3=e.source_kind, s4=e.user_agent, n0=e.bytes_out, n1=e.bytes_in, n2=e.dst_port))
    # find_alerts(AlertFilter(source=address)): one address is an equality on its (source_addr, last_seen) index
    newest_alerts = select(alerts).where(a.source_addr == bindparam("key")) \
        .order_by(a.last_seen.desc(), a.id.desc()).limit(_fixed(HOST_ALERTS)).offset(_fixed(0)).subquery()
    al = newest_alerts.c
    branches.append(_branch(ALERT, newest_alerts, id=al.id, t1=al.first_seen, t2=al.last_seen, s0=al.kind,
                            s1=al.subkind, s2=al.severity, s3=al.source, s4=al.target, s5=al.recommendation,
                            s6=al.detector, s7=al.signature, s8=al.status, s9=al.model_version, n0=al.count,
                            n1=al.incident_id, f0=al.confidence, j0=al.factors, j1=al.evidence, b0=al.history))
    # list_blocks(address=...) of one address: the blocks starting at one of its prefixes' first addresses and
    # reaching it (netwarden.store.blocks.overlapping), by seeks on their (addr_lo, created) index; an IPv4
    # address's prefixes shorter than /96 start at the same 16 addresses below ::ffff:0:0 whatever the address
    # (IPv6 networks holding IPv4 space: ::/0 and the like): written into the statement, not bound
    bound = [bindparam(f"start{i}", type_=b.addr_lo.type) for i in range(starts)]
    fixed = [_Blob(s) for s in V4_LOW_STARTS] if starts < STARTS[-1] else []
    # (``addr_lo <= key``: the fixed starts may lie above an IPv6 address below ::ffff:0:0)
    of_address = select(blocks).where(b.addr_lo.in_(bound + fixed), b.addr_lo <= bindparam("key"),
                                      b.addr_hi >= bindparam("key")) \
        .order_by(b.created.desc(), b.id.desc()).limit(_fixed(HOST_BLOCKS)).offset(_fixed(0)).subquery()
    bl = of_address.c
    branches.append(_branch(BLOCK, of_address, id=bl.id, t1=bl.created, t2=bl.expires, t3=bl.ended,
                            s0=bl.network, s1=bl.reason, s2=bl.backend, s3=bl.mode, s4=bl.created_by, s5=bl.state,
                            s6=bl.ended_by, s7=bl.detail, n0=bl.alert_id, n1=bl.level))
    return union_all(*branches)


STATEMENTS = {n: host_statement(n) for n in STARTS}  # built once, run with the address's values
_START_NAMES = {n: [f"start{i}" for i in range(n)] for n in STARTS}


def statement_for(key: bytes) -> tuple[Any, dict[str, bytes]]:
    """The statement with room for the prefix starts of the address ``key`` and their bound values (padded
    with repeats)."""
    if key.startswith(V4_MAPPED):  # the starts from ::ffff:0:0 on (the 16 below are in the statement)
        v4 = int.from_bytes(key[12:], "big")
        ends = [v4]
        while v4:
            v4 &= v4 - 1
            ends.append(v4)
        starts = [V4_MAPPED + end.to_bytes(4, "big") for end in ends]
    else:
        starts = prefix_starts(key)
    room = next(n for n in STARTS if n >= len(starts))
    padded = starts + [starts[-1]] * (room - len(starts))
    return STATEMENTS[room], dict(zip(_START_NAMES[room], padded))


class _Prepared:
    """A statement compiled once for one SQLite dialect and run on the DBAPI cursor: SQLAlchemy's execution
    context (the statement's cache key and lookup, its parameters' dictionaries, the result's metadata and row
    objects) cost more than SQLite's own work for an address with a few events. The values are bound and the
    rows typed by SQLAlchemy's own processors for the statement's types, so the rows hold what
    ``conn.execute`` gives, as tuples."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        assert compiled.positional and not (compiled.literal_execute_params or compiled.post_compile_params)
        self.sql = compiled.string
        binds = compiled._bind_processors
        # every bound value is one of the caller's values, by its name (no default or generated one)
        assert all(compiled.binds[name].key == name and compiled.binds[name].value is None
                   for name in compiled.positiontup)
        self.binds = [(name, binds.get(name)) for name in compiled.positiontup]
        self.results = [(i, p) for i, p in enumerate(c[3]._cached_result_processor(dialect, None)
                                                     for c in compiled._result_columns) if p is not None]

    def rows(self, conn: Any, values: dict[str, Any]) -> list[tuple]:
        bound = [values[name] if p is None or values[name] is None else p(values[name]) for name, p in self.binds]
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            raw = cursor.execute(self.sql, bound).fetchall()
        finally:
            cursor.close()
        out = []
        results = self.results
        for row in raw:
            row = list(row)
            for i, p in results:
                if row[i] is not None:
                    row[i] = p(row[i])
            out.append(row)
        return out


_PREPARED: dict[tuple[int, int], _Prepared] = {}


def host_rows(conn: Any, statement: Any, values: dict[str, Any]) -> Any:
    """The statement's rows: on SQLite past SQLAlchemy's execution (``_Prepared``), elsewhere by it."""
    dialect = conn.dialect
    if dialect.name != "sqlite":
        return conn.execute(statement, values)
    key = (id(statement), id(dialect))
    prepared = _PREPARED.get(key)
    if prepared is None:
        prepared = _PREPARED[key] = _Prepared(statement, dialect)
    return prepared.rows(conn, values)
