"""Keyset pagination for the lists shown newest first by a time and the id (events, alerts, incidents, blocks).

A page ends with a cursor naming its last row's (time, id); the next page asks for the rows after it. The database
then seeks on the time's index to where the previous page ended, so page 10,000 costs what page 1 costs (an OFFSET
reads and drops every row before it), and rows added meanwhile do not shift a page's rows onto the next. The id
breaks ties, so rows with the same time are neither repeated nor skipped across a page's end.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, or_


class CursorError(ValueError):
    """A cursor this server did not give out (the web app answers 400)."""


def encode_cursor(when: datetime, ident: int) -> str:
    raw = f"{when.astimezone(timezone.utc).isoformat()}|{ident}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        ts = datetime.fromisoformat(when)
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=timezone.utc)
        number = int(ident)
        if not 0 <= number < 2**63 or not 1970 <= ts.year < 2200:
            raise ValueError(cursor)
        return ts, number
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise CursorError("cursor: not a cursor this server gave out") from None


def after(time_col: Any, id_col: Any, when: datetime, ident: int, *, newest_first: bool = True) -> ColumnElement[bool]:
    """Rows after (``when``, ``ident``) in (time, id) order. Written as a range on the time (which the index seeks
    to) with the tie broken by the id: the equal ``time < t OR (time = t AND id < i)`` makes SQLite walk the time
    index from its start to every page."""
    if newest_first:
        return and_(time_col <= when, or_(time_col < when, id_col < ident))
    return and_(time_col >= when, or_(time_col > when, id_col > ident))


def page(conn: Connection, stmt: Select, time_col: Any, id_col: Any, *, limit: int,
         cursor: str | None = None) -> tuple[list[Row[Any]], str | None]:
    """One page of ``stmt`` (filtered, not ordered) newest first from ``cursor`` on, and the next page's cursor
    (None on the last page). Raises :class:`CursorError` for a cursor this server did not give out."""
    if cursor:
        stmt = stmt.where(after(time_col, id_col, *decode_cursor(cursor)))
    rows = list(conn.execute(stmt.order_by(time_col.desc(), id_col.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]._mapping
    return rows, encode_cursor(last[time_col.name], last[id_col.name])


def every(connect: Callable[[], Any], stmt: Select, time_col: Any, id_col: Any, *,
          chunk: int = 2000) -> Iterator[Row[Any]]:
    """Every row of ``stmt``, newest first, read in keyset pages (for exports: memory stays flat). ``connect``
    gives a connection context per page, so a slow download holds none between pages."""
    cursor: str | None = None
    while True:
        with connect() as conn:
            rows, cursor = page(conn, stmt, time_col, id_col, limit=chunk, cursor=cursor)
        yield from rows
        if cursor is None:
            return
