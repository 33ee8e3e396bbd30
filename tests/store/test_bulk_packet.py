"""MariaDB's bulk INSERTs on a server whose ``max_allowed_packet`` is smaller than the statements they make by
default (up to ~4 MB of binary values, ~1 MB of text): the server refused those with error 1153 and dropped the
connection, failing the import. They are made to fit instead, and every row is stored as it went in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.pool import NullPool

from netwarden.records import Event
from netwarden.store.database import Database, normalise_url
from netwarden.store.events import EventWriter
from netwarden.store.schema import events
from tests.store.test_event_bulk import on_mariadb

pytestmark = pytest.mark.engines

T0 = datetime(2026, 12, 5, tzinfo=timezone.utc)


@contextmanager
def connection_with_packet(url: str, size: int) -> Iterator[Connection]:
    """A connection whose session has ``max_allowed_packet`` = ``size`` (read-only in a session: it takes the
    global value when it connects). The global value is lowered only while it connects, then restored: other
    connections to the shared test server keep theirs."""
    admin = create_engine(normalise_url(url), poolclass=NullPool)
    engine = create_engine(normalise_url(url), poolclass=NullPool)
    try:
        with admin.connect() as control:
            before = control.execute(text("SELECT @@global.max_allowed_packet")).scalar_one()
            control.execute(text("SET GLOBAL max_allowed_packet = :n"), {"n": size})
            try:
                conn = engine.connect()
            finally:
                control.execute(text("SET GLOBAL max_allowed_packet = :n"), {"n": before})
        try:
            assert conn.execute(text("SELECT @@session.max_allowed_packet")).scalar_one() == size
            conn.rollback()
            yield conn
        finally:
            conn.close()
    finally:
        engine.dispose()
        admin.dispose()


def _events(count: int, length: int) -> list[Event]:
    # distinct texts, some with 4-byte characters (4 bytes each in a packet)
    return [Event(timestamp=T0 + timedelta(seconds=i), source_kind="access_log", src_ip="203.0.113.9",
                  http_method="GET", http_status=200, url=f"/{i}/" + ("a😀" if i % 3 else "bc") * (length // 2),
                  user_agent=f"agent {i}") for i in range(count)]


@on_mariadb
@pytest.mark.parametrize(("count", "length"), [
    (900, 3_000),  # 300 rows' binary values (~1.5 MB) are more than a packet: text statements, cut to fit
    (30_000, 20),  # small rows: binary executions that fit, the rest in text statements that fit
    (4, 150_000),  # a text whose hex form alone is more than a packet: quoted (as before hex), one row a statement
])
def test_rows_fit_a_small_max_allowed_packet(db: Database, count: int, length: int) -> None:
    evs = _events(count, length)
    writer = EventWriter(db.engine.dialect)
    with connection_with_packet(str(db.engine.url.render_as_string(hide_password=False)), 512 * 1024) as conn:
        with conn.begin():
            writer.insert(conn, writer.rows(evs, None, list(range(1, count + 1))))
    with db.engine.connect() as conn:
        got = conn.execute(select(events.c.line_no, events.c.url, events.c.user_agent)
                           .order_by(events.c.line_no)).all()
    assert [tuple(r) for r in got] == [(i + 1, e.url, e.user_agent) for i, e in enumerate(evs)]
