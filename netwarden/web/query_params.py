"""Query parameters of the hot list endpoints, read in one pass instead of one FastAPI ``Query`` each.

FastAPI inspects every declared ``Query`` parameter's annotation and validates it on every request, present or
not: for the events list's 16 parameters that was about half the CPU of an uncached answer. A ``QueryParams``
reads only the parameters present, checks each with the same pydantic constraints (so a bad value is the same
422, ``query.port: Input should be less than or equal to 65535``) and describes them all in the OpenAPI
document through the route's ``openapi_extra``:

    EVENT_PARAMS = QueryParams(Param("port", int, ge=0, le=65535), ...)

    @router.get("/events", openapi_extra=EVENT_PARAMS.openapi())
    async def list_events(request: Request) -> Response:
        values = EVENT_PARAMS.read(request)   # {"port": 22, "address": None, ...}

An empty value (``?port=``) counts as absent, as the list pages' forms send empty fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError


@dataclass(frozen=True)
class Param:
    """One query parameter: its type (str, int, bool, datetime ...), default and constraints."""

    name: str
    type: Any = str
    default: Any = None
    max_length: int | None = None
    ge: int | None = None
    le: int | None = None
    pattern: str | None = None
    description: str | None = None

    def adapter(self) -> TypeAdapter:
        constraints = {k: v for k, v in (("max_length", self.max_length), ("ge", self.ge), ("le", self.le),
                                          ("pattern", self.pattern)) if v is not None}
        return TypeAdapter(Annotated[self.type, Field(**constraints)] if constraints else self.type)


class QueryParams:
    """A set of query parameters read together (see the module's description)."""

    def __init__(self, *params: Param) -> None:
        self.params = params
        self._checks = [(p.name, p.default, p.adapter()) for p in params]

    def read(self, request: Request) -> dict[str, Any]:
        """Every parameter's value (its default when absent or empty); RequestValidationError (422) naming
        each bad one."""
        query = request.query_params
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for name, default, check in self._checks:
            raw = query.get(name)
            if not raw:
                values[name] = default
                continue
            try:
                values[name] = check.validate_strings(raw)
            except ValidationError as exc:
                errors += [{**e, "loc": ("query", name)} for e in exc.errors(include_url=False)]
        if errors:
            raise RequestValidationError(errors)
        return values

    def openapi(self) -> dict[str, Any]:
        """The parameters for a route's ``openapi_extra`` (FastAPI adds them to the ones it declares itself)."""
        described = []
        for p, (_, _, check) in zip(self.params, self._checks):
            schema = check.json_schema()
            if p.default is not None:
                schema["default"] = p.default
            entry = {"name": p.name, "in": "query", "required": False, "schema": schema}
            if p.description:
                entry["description"] = p.description
            described.append(entry)
        return {"parameters": described}


CURSOR = Param("cursor", max_length=200, description="the next_cursor of the previous page")
LIMIT = Param("limit", int, 50, ge=1, le=500)
