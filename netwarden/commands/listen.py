"""``netwarden listen``: live collectors that receive data from devices over the network."""

from __future__ import annotations

import click

from netwarden.cli import cli


@cli.group()
def listen() -> None:
    """Receive logs and flows from devices over the network (syslog, NetFlow ...) until Ctrl-C."""
