"""Saved state that several processes add to: the workers of a scale-out each add their share of the ml
detector's live counts (netwarden.learn.live). The row is read under a lock and written back in the caller's
transaction, so two workers' additions both count — where ``alerts.save_state`` would keep the last writer's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from netwarden.store.alerts import save_state
from netwarden.store.schema import detector_state


def ensure_state(conn: Connection, name: str) -> None:
    """Create the row ``name`` (an empty state) unless it exists: ``add_to_state`` then always finds a row to
    lock. Called once per process, in a transaction of its own."""
    values = {"name": name, "state": "{}", "saved": datetime.now(timezone.utc)}
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        conn.execute(insert(detector_state).prefix_with("IGNORE").values(**values))
    else:
        ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
        conn.execute(ins(detector_state).values(**values).on_conflict_do_nothing(index_elements=["name"]))


def add_to_state(conn: Connection, name: str, add: Callable[[Any], dict[str, Any]]) -> None:
    """Replace the state ``name`` by ``add(current state or None)``, the row locked until the caller's
    transaction ends (another process adding meanwhile waits and then adds to this result)."""
    row = conn.execute(select(detector_state.c.state).where(detector_state.c.name == name)
                       .with_for_update()).first()
    try:
        current = orjson.loads(row.state) if row is not None else None
    except orjson.JSONDecodeError:
        current = None
    save_state(conn, name, add(current))
