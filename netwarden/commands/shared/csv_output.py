"""``--csv`` / ``--bom`` for the list commands: the list streamed to standard output as spreadsheet-safe CSV
(see :mod:`netwarden.report.export`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from netwarden.report.export import csv_stream, driver_csv
from netwarden.store.driver_rows import Plan


def csv_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--bom", is_flag=True, help="With --csv: start with a UTF-8 byte-order mark (Excel).")(
        command)
    return click.option("--csv", "as_csv", is_flag=True,
                        help="CSV (every matching row unless --limit is given; formula-like cells escaped).")(command)


def write_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]], *, bom: bool = False) -> None:
    _write(csv_stream(columns, rows, bom=bom))


def write_driver_csv(plan: Plan, rows: Iterable[Sequence[Any]], *, bom: bool = False) -> None:
    _write(driver_csv(plan, rows, bom=bom))


def _write(pieces: Iterable[bytes]) -> None:
    out = sys.stdout.buffer
    for piece in pieces:
        out.write(piece)
    out.flush()
