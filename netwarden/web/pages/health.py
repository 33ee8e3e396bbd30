"""``/metrics`` (Prometheus text format), ``/healthz`` (the process answers) and ``/readyz`` (it can do its
work: the database answers, and the bus when one is configured).

They need no login, as monitoring systems expect; they show counts only, never log text, and the web server
is meant to be reachable from the site's own network only (docs/deploy.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from netwarden import metrics

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def prometheus_metrics() -> Response:
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


@router.get("/healthz")
def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    problems = metrics.readiness()
    problem = request.app.state.db.ping()
    if problem:
        problems["database"] = problem
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})
