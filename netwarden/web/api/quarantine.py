"""``/api/v1/quarantine``: input lines that could not become events, with their reason; counts per reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from netwarden.store import quarantine as store
from netwarden.store.database import Database
from netwarden.web.auth import Principal, require
from netwarden.web.deps import fast_json, get_db
from netwarden.web.export import EXPORT_RESPONSES, Export, export_request

router = APIRouter(tags=["quarantine"])
QUARANTINE_COLUMNS = list(store.EXPORT_COLUMNS)


def _all(db: Database, reason: str | None) -> Iterator[dict[str, Any]]:
    with db.engine.connect() as conn:
        yield from store.iter_recent(conn, reason=reason)


@router.get("/quarantine", responses=EXPORT_RESPONSES, response_model=dict[str, Any])
def list_quarantine(reason: str | None = Query(None, max_length=32, description="only this reason"),
                    before_id: int | None = Query(None, ge=1, le=2**63 - 1, description="the next page: "
                                                  "lines older than this id"),
                    limit: int = Query(50, ge=1, le=500), db: Database = Depends(get_db),
                    export: Export = Depends(export_request),
                    who: Principal = Depends(require("viewer"))) -> Response:
    """The newest quarantined lines and the counts per reason (``format=csv|jsonl``: every line)."""
    if export.fmt:
        return export.response("quarantine", QUARANTINE_COLUMNS, _all(db, reason))
    with db.engine.connect() as conn:
        rows = store.recent(conn, limit, reason=reason or None, before_id=before_id)
        counts = store.counts_by_reason(conn)
    return fast_json({"counts": counts, "lines": [{k: r[k] for k in QUARANTINE_COLUMNS} for r in rows]})
