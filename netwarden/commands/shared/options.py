"""Options several commands take, declared once. (``--db`` and ``--config`` are added to every command by
:mod:`netwarden.cli`.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

C = TypeVar("C", bound=Callable[..., Any])

paths_argument = click.argument("paths", nargs=-1, required=True, metavar="PATH...")


def format_option(help_text: str | None = None) -> Callable[[C], C]:
    return click.option("--format", "-f", "fmt", default="auto", show_default=True, metavar="NAME", help=help_text)


def status_every_option(default: float) -> Callable[[C], C]:
    return click.option("--status-every", default=default, show_default=True, type=click.FloatRange(min=0),
                        metavar="SECONDS", help="Print a status line this often (0: never).")
