"""The export format contract, checked for EVERY registered format (parametrised over ``EXPORTERS``).

Promised by all, along both paths (rows as dicts, and rows straight from the database driver with a Plan):

1. a list whose cells are hostile text (formula starts, quotes, separators, CR/LF, NUL, markup, non-Latin
   scripts, a leading apostrophe) reads back exactly as it went in, with or without a BOM;
2. the writer streams: the first piece comes out before the rows are all read;
3. the name, the download's media type and the ``Accept:`` types it answers to are set and fit a URL and a
   file name; a name nobody registered is refused with the known ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from netwarden.report.export import ExportError, driver_stream, stream
from netwarden.report.exporters import EXPORTERS, by_media_type
from netwarden.store.driver_rows import Plan

HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1:A2)", "\tx", "\rcarriage", "'already quoted",
           "a,b;c\td", 'say "hi"', "two\nlines", "crlf\r\nline", "nul\x00byte", "<script>alert(1)</script>",
           "Příliš žluťoučký kůň", "日本語", "", " padded ", "=" * 5000]
COLUMNS = ("first", "second", "third")


def _rows() -> list[dict[str, str]]:
    # every hostile value in every column, shifted so each row differs
    return [{c: HOSTILE[(i + j) % len(HOSTILE)] for j, c in enumerate(COLUMNS)} for i in range(len(HOSTILE))]


@pytest.mark.parametrize("name", EXPORTERS.names())
@pytest.mark.parametrize("bom", [False, True])
def test_hostile_cells_round_trip_along_both_paths(name: str, bom: bool) -> None:
    exporter = EXPORTERS.get(name)
    rows = _rows()
    written = b"".join(stream(name, COLUMNS, iter(rows), bom=bom))
    assert exporter.read(written) == rows
    plan = Plan(COLUMNS, text=tuple(range(len(COLUMNS))), times=(), json=())
    from_driver = b"".join(driver_stream(name, plan, (tuple(r[c] for c in COLUMNS) for r in rows), bom=bom))
    assert from_driver == written  # the fast path writes the very same bytes


@pytest.mark.parametrize("name", EXPORTERS.names())
def test_the_writer_streams(name: str) -> None:
    taken = 0
    total = 200_000

    def rows() -> Iterator[dict[str, str]]:
        nonlocal taken
        for i in range(total):
            taken += 1
            yield {"first": f"row {i}", "second": HOSTILE[i % len(HOSTILE)][:40], "third": ""}

    first = next(stream(name, COLUMNS, rows()))
    assert first and taken < total  # a piece of the answer, written before the last row was read


@pytest.mark.parametrize("name", EXPORTERS.names())
def test_names_and_media_types(name: str) -> None:
    exporter = EXPORTERS.get(name)
    assert re.fullmatch(r"[a-z0-9]+", name) and name != "json"  # ?format=NAME and the file's suffix
    assert re.fullmatch(r"[a-z]+/[a-z0-9.+-]+(; ?charset=utf-8)?", exporter.media_type)
    assert exporter.accepts and all(by_media_type()[media] == name for media in exporter.accepts)


def test_an_unknown_format_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ExportError, match="'xlsx' is not one of " + ", ".join(EXPORTERS.names())):
        b"".join(stream("xlsx", COLUMNS, iter(_rows())))
