"""Lists of the API as downloads: ``?format=csv|jsonl`` (or ``Accept: text/csv`` / ``application/x-ndjson``),
``&bom=true`` for Excel. A list route takes ``export: Export = Depends(export_request)`` and, when
``export.fmt`` is set, returns ``export.response(name, columns, rows)`` with ``rows`` an iterator: the answer
streams, so an export of millions of rows holds one chunk in memory at a time. An export holds every row
matching the filters: page parameters (limit, offset) do not apply to it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from datetime import datetime, timezone
from typing import Any

from fastapi import HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from netwarden.report.export import driver_stream, exporter, stream
from netwarden.report.exporters import EXPORTERS, by_media_type
from netwarden.store.driver_rows import Plan
from netwarden.web.query_params import Param

# every registered format (netwarden/report/exporters/): a new one needs no edit here
_ACCEPT = by_media_type()
_FORMATS = "|".join(EXPORTERS.names())

# for a list route's ``responses=``: OpenAPI then names the download types too
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {media: {} for media in _ACCEPT},
          "description": f"the list as JSON, or as a download (format={_FORMATS})"}}


@dataclass
class Export:
    fmt: str | None
    bom: bool = False

    def response(self, name: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> StreamingResponse:
        """The download of ``rows`` (dicts) with these columns."""
        assert self.fmt is not None
        rows = _primed(rows)
        return self._send(name, stream(self.fmt, columns, rows, bom=self.bom))

    def driver_response(self, name: str, plan: Plan, rows: Iterable[Sequence[Any]]) -> StreamingResponse:
        """The download of rows read straight from the driver (see netwarden.store.driver_rows.Plan)."""
        assert self.fmt is not None
        return self._send(name, driver_stream(self.fmt, plan, _primed(rows), bom=self.bom))

    def _send(self, name: str, body: Iterator[bytes]) -> StreamingResponse:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        filename = f"netwarden-{name}-{stamp}.{self.fmt}"
        return StreamingResponse(body, media_type=exporter(self.fmt or "csv").media_type,
                                 headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                          "Cache-Control": "no-store"})


def _primed(rows: Iterable[Any]) -> Iterator[Any]:
    """``rows`` with the first one already read: a bad filter fails here, as a 4xx, before the download."""
    rows = iter(rows)
    first = list(islice(rows, 1))
    return chain(first, rows)


_FORMAT = {"pattern": f"^(json|{_FORMATS})$",
           "description": f"json (default), or a download: {_FORMATS} (every matching row)"}
_BOM = "CSV: start with a UTF-8 byte-order mark (for Excel)"
# for a route that reads its query parameters itself (netwarden.web.query_params)
EXPORT_PARAMS = (Param("format", **_FORMAT), Param("bom", bool, False, description=_BOM))


async def export_request(
    request: Request,
    format: str | None = Query(None, **_FORMAT),  # noqa: A002 - the public parameter name
    bom: bool = Query(False, description=_BOM),
) -> Export:
    return export_choice(request, format, bom)


def export_choice(request: Request, fmt: str | None, bom: bool) -> Export:
    """The download asked by ``format`` or else by the Accept header; none: JSON."""
    if fmt is not None:
        return Export(None if fmt == "json" else fmt, bom)
    accept = request.headers.get("accept", "")
    for media in (part.split(";")[0].strip().lower() for part in accept.split(",")):
        if media in _ACCEPT:
            return Export(_ACCEPT[media], bom)
        if media in ("application/json", "*/*"):
            break
    return Export(None, bom)


def not_exportable() -> None:
    raise HTTPException(400, "format: this answer is not a list; ask one of its tables")
