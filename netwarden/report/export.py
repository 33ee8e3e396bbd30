"""What the export formats share (the formats themselves: netwarden.report.exporters): CSV and JSON-lines
exports of any list, streamed in chunks so that memory stays flat on millions of rows.

Spreadsheet safety: a text cell that starts with ``= + - @``, a tab or a carriage return would be read by
Excel/LibreOffice as a formula (CSV injection, OWASP); it is written with a leading ``'``, which spreadsheets
show as text. A cell that itself starts with ``'`` gets one more, so :func:`unescape_cell` restores every
value exactly. Numbers are written as they are (``-5`` stays a number).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import orjson

from netwarden.store.driver_rows import Plan, driver_time

if TYPE_CHECKING:
    from netwarden.report.exporters import Exporter

BOM = "\ufeff"  # makes Excel read the file as UTF-8
_RISKY = frozenset("=+-@\t\r'")
_CHUNK = 1 << 16  # bytes collected before one piece of the stream is handed out


class ExportError(ValueError):
    pass


def exporter(fmt: str) -> type[Exporter]:
    """The registered export format ``fmt`` (netwarden.report.exporters: one module per format)."""
    from netwarden.report.exporters import EXPORTERS

    if fmt not in EXPORTERS:
        raise ExportError(f"format: {fmt!r} is not one of {', '.join(EXPORTERS)}")
    return EXPORTERS.get(fmt)


def cell(value: Any) -> Any:
    """One value as a CSV cell: text escaped for spreadsheets, times in ISO 8601, structures as JSON."""
    kind = type(value)
    if kind is str:
        return "'" + value if value and value[0] in _RISKY else value
    if value is None:
        return ""
    if kind is int or kind is float:
        return value
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, Enum):
        return cell(str(value.value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return cell(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return cell(str(value))


def unescape_cell(text: str) -> str:
    """The value :func:`cell` wrote (as text): its spreadsheet escape removed."""
    return text[1:] if text[:1] == "'" else text


def csv_stream(columns: Sequence[str], rows: Iterable[dict[str, Any]], *, bom: bool = False) -> Iterator[bytes]:
    """A header and one line per row, in pieces of about 64 KiB (RFC 4180: CRLF, quoted when needed)."""
    return _csv_lines(columns, ([cell(row.get(c)) for c in columns] for row in rows), bom)


def _csv_lines(columns: Sequence[str], cells: Iterable[Sequence[Any]], bom: bool) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bom:
        buffer.write(BOM)
    writer.writerow(columns)
    write = writer.writerow
    for row in cells:
        write(row)
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue().encode("utf-8", "surrogateescape")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8", "surrogateescape")


def jsonl_stream(columns: Sequence[str] | None, rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """One JSON object per line (only ``columns`` when given), in pieces of about 64 KiB."""
    dumps, option = orjson.dumps, orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
    parts: list[bytes] = []
    size = 0
    for row in rows:
        line = dumps({c: row.get(c) for c in columns} if columns else row, default=str, option=option)
        parts.append(line)
        size += len(line)
        if size >= _CHUNK:
            yield b"".join(parts)
            parts, size = [], 0
    yield b"".join(parts)


def stream(fmt: str, columns: Sequence[str], rows: Iterable[dict[str, Any]], *, bom: bool = False) -> Iterator[bytes]:
    return exporter(fmt).rows(columns, rows, bom=bom)


def _json_text(value: Any) -> str | None:
    if isinstance(value, str):  # SQLite, MariaDB: the JSON text
        return None if value == "null" else value
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_value(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def driver_csv(plan: Plan, rows: Iterable[Sequence[Any]], *, bom: bool = False) -> Iterator[bytes]:
    """CSV of driver rows (see :class:`Plan`): the same cells :func:`cell` makes, without a call per cell."""
    text, times, json_cols = plan.text, plan.times, plan.json

    def cells() -> Iterator[list[Any]]:
        for row in rows:
            row = list(row)
            for i in text:
                v = row[i]
                if v and v[0] in _RISKY:
                    row[i] = "'" + v
            for i in times:
                if row[i] is not None:
                    row[i] = driver_time(row[i])
            for i in json_cols:
                if row[i] is not None:
                    value = _json_text(row[i])
                    row[i] = "'" + value if value and value[0] in _RISKY else value
            yield row

    return _csv_lines(plan.names, cells(), bom)


def driver_jsonl(plan: Plan, rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    names, times, json_cols = plan.names, plan.times, plan.json

    def objects() -> Iterator[dict[str, Any]]:
        for row in rows:
            row = list(row)
            for i in times:
                if row[i] is not None:
                    row[i] = driver_time(row[i])
            for i in json_cols:
                if row[i] is not None:
                    row[i] = _json_value(row[i])
            yield dict(zip(names, row))

    return jsonl_stream(None, objects())


def driver_stream(fmt: str, plan: Plan, rows: Iterable[Sequence[Any]], *, bom: bool = False) -> Iterator[bytes]:
    return exporter(fmt).driver_rows(plan, rows, bom=bom)


def read_csv(data: bytes | str) -> list[dict[str, str]]:
    """An export read back: rows of text with the spreadsheet escapes removed (for tests and scripts)."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    text = text.removeprefix(BOM)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return [{k: unescape_cell(v) for k, v in row.items()} for row in reader]
