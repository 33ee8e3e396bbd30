"""JSON lines: one object per row, values keep their JSON types (no spreadsheet escapes needed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from netwarden.report.export import driver_jsonl, jsonl_stream
from netwarden.report.exporters import EXPORTERS, Exporter
from netwarden.store.driver_rows import Plan


@EXPORTERS.register
class JsonLines(Exporter):
    name = "jsonl"
    media_type = "application/x-ndjson"
    accepts = ("application/x-ndjson", "application/jsonl")

    @staticmethod
    def rows(columns: Sequence[str], rows: Iterable[dict[str, Any]], *, bom: bool = False) -> Iterator[bytes]:
        return jsonl_stream(columns, rows)  # a BOM is for Excel's CSV import only

    @staticmethod
    def driver_rows(plan: Plan, rows: Iterable[Sequence[Any]], *, bom: bool = False) -> Iterator[bytes]:
        return driver_jsonl(plan, rows)

    @staticmethod
    def read(data: bytes) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in data.splitlines() if line]
