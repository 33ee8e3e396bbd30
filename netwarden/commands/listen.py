"""``netwarden listen``: live collectors that receive data from devices over the network."""

from __future__ import annotations

import click

from netwarden.commands.listen_netflow import listen_netflow
from netwarden.commands.listen_syslog import listen_syslog


@click.group()
def listen() -> None:
    """Receive logs and flows from devices over the network (syslog, NetFlow ...) until Ctrl-C."""


listen.add_command(listen_syslog)
listen.add_command(listen_netflow)
