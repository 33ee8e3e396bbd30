"""Settings changed in the web app (``setting_changes``): one row per change, the audit trail; the newest row
of a key is its value, ``NULL`` meaning "the file's value again" (see netwarden.web.live_settings)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from netwarden.store.database import Database
from netwarden.store.schema_web import setting_changes


@dataclass
class Stored:
    value: Any
    by: str
    when: datetime


def newest(db: Database) -> dict[str, Stored]:
    """The newest change of each key that still overrides the file (value not NULL)."""
    latest = select(func.max(setting_changes.c.id)).group_by(setting_changes.c.key)
    with db.engine.connect() as conn:
        rows = conn.execute(select(setting_changes).where(setting_changes.c.id.in_(latest))).all()
    return {r.key: Stored(json.loads(r.value), r.changed_by, r.changed) for r in rows if r.value is not None}


def history(db: Database, limit: int, key_prefix: str | None = None) -> list[dict[str, Any]]:
    query = select(setting_changes).order_by(setting_changes.c.id.desc()).limit(limit)
    if key_prefix:
        query = query.where(setting_changes.c.key.startswith(key_prefix, autoescape=True))
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"key": r.key, "old": _loads(r.old), "value": _loads(r.value), "changed_by": r.changed_by,
             "changed": r.changed, "reset": r.value is None} for r in rows]


def record(db: Database, rows: list[dict[str, Any]]) -> None:
    """Store changes: each a dict of key, old, value (None: back to the file's), changed_by, changed."""
    if not rows:
        return
    with db.engine.begin() as conn:
        conn.execute(insert(setting_changes), [
            {"key": r["key"], "old": json.dumps(r["old"]), "changed_by": r["changed_by"][:64],
             "changed": r["changed"], "value": None if r["value"] is None else json.dumps(r["value"])}
            for r in rows])


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
