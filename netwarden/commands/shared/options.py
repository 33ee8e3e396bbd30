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


def event_range_options(command: C) -> C:
    """--since/--until and the address, port and kind filters of the events (``events``, ``analysis``)."""
    for option in reversed((
            click.option("--since", metavar="WHEN", help="From (30m, 2h, 7d, 2w, 1y, or ISO time)."),
            click.option("--until", metavar="WHEN", help="Until (exclusive)."),
            click.option("--src", metavar="ADDR|NET", help="Source address or network (10.0.0.0/8)."),
            click.option("--dst", metavar="ADDR|NET", help="Destination address or network."),
            click.option("--addr", metavar="ADDR|NET", help="Either side."),
            click.option("--port", type=click.IntRange(0, 65535), help="Source or destination port."),
            click.option("--kind", metavar="KIND", help="Source kind: access_log, auth, firewall, zeek ..."))):
        command = option(command)
    return command
