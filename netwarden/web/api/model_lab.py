"""``/api/v1/models/{ref}/data`` and ``/models/{ref}/test``: the model lab's Data view and Test tab.

- Data: the preprocessed features of recent stored events as the model sees them (and a sequence model's
  windows), plus how often the model flags recent traffic against its calibrated rate (a warning past 2x),
  both re-scored now and as the ml detector counted it live, hour by hour, over the last day.
- Test: score a model on an uploaded labelled file: confusion matrix, metrics, recall per label, testing
  time; every row's verdict stays downloadable as CSV (``/models/tests/{id}/rows.csv``) for a while.

An upload is read by NetWarden's parsers as text (never unpickled), at most ``[web] max_upload_mib``.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import Response

from netwarden.learn import data as learn_data
from netwarden.learn import lab, live
from netwarden.learn.base import ModelError
from netwarden.learn.preview import preview
from netwarden.web.api.models import Ref, _get, _save_upload, max_upload, registry_of
from netwarden.web.auth import Principal, require
from netwarden.web.jobs import KeptTexts

router = APIRouter(tags=["models"])
RECENT_EVENTS = 5_000  # newest stored events read for the Data view and the drift check
LIVE_HOURS = 24  # the hours of live counts (what the ml detector judged while the model was active) shown


def _recent(db: Any, limit: int) -> list[Any]:
    from netwarden.store.events import EventFilter, find_events, row_to_event

    with db.engine.connect() as conn:
        rows = find_events(conn, EventFilter(), limit=limit, newest_first=True)
    return [row_to_event(r) for r in reversed(rows)]


@router.get("/models/{ref}/data")
def models_data(request: Request, ref: Ref, rows: int = Query(10, ge=1, le=50),
                who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The model's input for the newest stored events it can judge, and its recent alert rate."""
    registry = registry_of(request)
    record = _get(registry, ref)
    try:
        model = registry.load(record)
    except ModelError as exc:
        raise HTTPException(409, str(exc)) from None
    db = request.app.state.db
    events = _recent(db, RECENT_EVENTS)
    since = datetime.now(UTC) - timedelta(hours=LIVE_HOURS)
    return {"model": record.ref, "preview": preview(model, events, rows),
            "drift": lab.drift(model, record.metrics, events) if events else None,
            "live": lab.live_drift(model, record.metrics, record.ref, live.load(db), since)}


def _tests(request: Request) -> KeptTexts:
    return request.app.state.runtime.model_tests


@router.post("/models/{ref}/test")
def models_test(request: Request, ref: Ref, data: UploadFile = File(..., description="labelled test file"),
                who: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Score the model on an uploaded labelled file (NetWarden JSON lines with a label, a dataset, a CSV with
    a label column): metrics, confusion matrix, recall per label, testing time, and a link to every row."""
    registry = registry_of(request)
    record = _get(registry, ref)
    workdir = Path(tempfile.mkdtemp(prefix="netwarden-test-"))
    try:
        path = workdir / "upload"
        _save_upload(data, path, max_upload(request.app.state.settings))
        model = registry.load(record)
        loaded = learn_data.load_file(path)
        unlabelled = sum(1 for e in loaded.events if e.label is None)
        if unlabelled:
            raise ModelError(f"{unlabelled:,} of {len(loaded.events):,} rows carry no label; a test needs labels")
        metrics, scores = lab.measure_scores(model, loaded.events)
        key = _tests(request).keep_text(lab.rows_csv(model, loaded.events, scores))
    except ModelError as exc:
        raise HTTPException(400, str(exc).replace(str(path), "the upload")) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"model": record.ref, "format": loaded.format, "skipped": loaded.skipped, "problems": loaded.problems,
            "metrics": metrics, "rows_url": f"/api/v1/models/tests/{key}/rows.csv"}


@router.get("/models/tests/{key}/rows.csv")
def models_test_rows(request: Request, key: str = PathParam(pattern=r"^[0-9a-f]{32}$"),
                     who: Principal = Depends(require("viewer"))) -> Response:
    text = _tests(request).rows.get(key)
    if text is None:
        raise HTTPException(404, "no such test (only the latest few are kept): run the test again")
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="model-test-rows.csv"'})
