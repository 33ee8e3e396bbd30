"""Small dependencies every route may use: ``Depends(get_db)``, ``Depends(get_runtime)``.

A dependency that does no I/O is ``async def``: FastAPI runs a plain ``def`` one in a worker thread, and the
hand-over to the thread and back cost more than the function (a fifth of an uncached answer's CPU when an
events page had three such dependencies)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

import orjson
from fastapi import HTTPException, Path, Request, Response

from netwarden.store.database import Database
from netwarden.web.runtime import Runtime


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def get_settings(request: Request) -> Any:
    return request.app.state.settings


# a row id in a path: bounded, so that a huge number is a 422, not a driver overflow (500)
MAX_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="row id")]


def checked_time(value: datetime | None, name: str) -> datetime | None:
    """A query's time, aware (UTC when no zone is given) and within what the store can hold, else a 400."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    if not 1970 <= value.year < 2200:
        raise HTTPException(400, f"{name}: the year must be between 1970 and 2199")
    return value


def json_bytes(data: Any) -> bytes:
    """The body ``fast_json`` sends (reader processes encode their answers with it)."""
    return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)


def fast_json(data: Any, status_code: int = 200) -> Response:
    """JSON for the large answers (event and alert lists): orjson directly. FastAPI's generic encoder spends
    ~10 ms on 50 events, more than the query."""
    return json_response(json_bytes(data), status_code)


def json_response(body: bytes, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, media_type="application/json")
