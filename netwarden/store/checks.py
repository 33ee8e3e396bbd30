"""The history of ``POST /api/v1/check``: each user's own checks, the newest ``kept`` of them."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, TypedDict

from sqlalchemy import Connection, delete, insert, select

from netwarden.store.schema_web import check_history


class CheckRecord(TypedDict):
    id: int
    at: datetime
    input: dict[str, Any]  # what was asked: {"connection": {...}} or {"line": ..., "format": ...}
    verdict: str
    severity: str
    score: float


def remember_check(conn: Connection, user: str, asked: dict[str, Any], verdict: str, severity: str, score: float,
                   kept: int) -> int:
    """Store one check in the user's history and drop what is older than their newest ``kept``; its id."""
    name = user[:64]
    new_id = int(conn.execute(insert(check_history).values(
        user_name=name, at=datetime.now(timezone.utc), input=json.dumps(asked)[:70000],
        verdict=verdict, severity=severity, score=score)).inserted_primary_key[0])
    old = select(check_history.c.id).where(check_history.c.user_name == name) \
        .order_by(check_history.c.id.desc()).offset(kept).limit(1)
    cutoff = conn.execute(old).scalar()
    if cutoff is not None:
        conn.execute(delete(check_history).where(check_history.c.user_name == name, check_history.c.id <= cutoff))
    return new_id


def checks_of(conn: Connection, user: str, limit: int = 50) -> list[CheckRecord]:
    """The user's checks, newest first."""
    rows = conn.execute(select(check_history).where(check_history.c.user_name == user[:64])
                        .order_by(check_history.c.id.desc()).limit(limit)).all()
    return [CheckRecord(id=r.id, at=r.at, input=json.loads(r.input), verdict=r.verdict, severity=r.severity,
                        score=r.score) for r in rows]
