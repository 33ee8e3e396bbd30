"""Small dependencies every route may use: ``Depends(get_db)``, ``Depends(get_runtime)``."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from netwarden.store.database import Database
from netwarden.web.runtime import Runtime


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_settings(request: Request) -> Any:
    return request.app.state.settings
