"""``POST /api/v1/intake``: events as JSON lines (NetWarden's own format), through the pipeline with detection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from netwarden.web.auth import Principal, require

router = APIRouter(tags=["intake"])
MAX_BODY = 16 << 20  # bytes per request; send more in several requests


@router.post("/intake", openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {
    "schema": {"type": "string"}, "example": '{"timestamp": "2026-01-01T00:00:00Z", "source_kind": "access_log", '
                                             '"src_ip": "203.0.113.7", "url": "/login"}\n'}}}},
             responses={202: {"description": "with a [bus]: published; workers detect and store the events"},
                        503: {"description": "with a [bus]: the bus stayed full, some events were dropped"}})
async def intake(request: Request, who: Principal = Depends(require("analyst"))) -> Any:
    """One event per line, as ``netwarden`` JSON lines (``Event.to_dict``; only ``source_kind`` is required).
    Bad lines are quarantined (see ``netwarden quarantine``) and counted by reason; good ones are stored and
    go through detection. With a ``[bus]``, the lines are parsed here and published: the answer is 202 with
    the events ``queued`` (workers detect and store them), or 503 with ``Retry-After`` and the count
    ``dropped`` when the bus stayed full."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"the body is larger than {MAX_BODY >> 20} MiB; send it in parts")
    text = body.decode("utf-8", "backslashreplace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise HTTPException(400, "no events: send one JSON object per line")
    runtime = request.app.state.runtime
    pipeline = runtime.intake_pipeline()
    result = await run_in_threadpool(pipeline.ingest_lines, lines, "netwarden", source=f"api/intake/{who.name}")
    counts = {"lines": result.lines, "quarantined": result.quarantined_total,
              "quarantined_by_reason": dict(result.quarantined)}
    if runtime.intake is None:
        return {**counts, "stored": result.events}
    # with a [bus]: published for the workers, stored by them shortly (202); a bus that stayed full for
    # [bus] max_wait dropped part of it: 503, so that the sender slows down and knows what was lost
    dropped = result.dropped
    body = {**counts, "queued": result.events - dropped, "dropped": dropped}
    if dropped:
        return JSONResponse({**body, "detail": f"the bus is full: {dropped} of {result.events} events dropped; "
                                               "send them again later"},
                            status_code=503, headers={"Retry-After": "30"})
    return JSONResponse(body, status_code=202)
