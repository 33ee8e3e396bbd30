"""The ``netwarden`` command: the root group, its global options, and the list of every command.

The commands live in :mod:`netwarden.commands`, one module per command or group of commands, and what
they share in :mod:`netwarden.commands.shared`. Imports point one way: this module imports the commands,
no command imports this module. A new command is a new module there plus one line in ``COMMANDS``.
"""

from __future__ import annotations

import click

from netwarden import __version__
from netwarden.commands import (alerts, analysis, backtest, block, capture, demo, evaluate, events, follow, formats,
                                ingest, intel, listen, model, notify, report, rules, serve, simulate, status, user,
                                worker)
from netwarden.commands.shared.context import Context
from netwarden.commands.shared.terminal import fail
from netwarden.config import ConfigError

COMMANDS: tuple[click.Command, ...] = (
    # reading input
    ingest.ingest, follow.follow, listen.listen, capture.capture, formats.formats,
    # what the store holds
    events.events, analysis.analysis, status.status, status.quarantine, status.retention,
    # detection and response
    alerts.alerts_command, alerts.alert_group, alerts.incidents_command, alerts.detectors_command,
    block.block_group, intel.intel, notify.notify_group, evaluate.evaluate_command, backtest.backtest,
    model.model_group, report.report_group, rules.rules_group,
    # the server, its users, and traffic to try it with
    serve.serve, user.user, demo.demo, simulate.simulate,
    # the scale-out on a bus ([bus] url)
    worker.worker, worker.publish,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="netwarden")
@click.option("--config", "config", metavar="PATH", help="TOML settings file (default: ./netwarden.toml).")
@click.option("--db", "db_url", metavar="URL", envvar="NETWARDEN_DATABASE_URL", show_envvar=True,
              help="Database URL: sqlite:///netwarden.db (default), mysql://..., postgresql://...")
@click.pass_context
def cli(ctx: click.Context, config: str | None, db_url: str | None) -> None:
    """NetWarden: watch your network's logs and flows for attacks."""
    ctx.obj = Context(config, db_url)


def _set_global(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    obj = ctx.find_object(Context)
    if value is not None and obj is not None:
        if param.name == "db_url":
            obj.use_database(value)
        else:
            obj.use_config(value)


def _with_global_options(command: click.Command) -> None:
    """``--db`` and ``--config`` also after every command's name (``netwarden events --db URL``), as before it."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_global_options(sub)
        return
    names = {p.name for p in command.params}
    # a command's own --config (backtest: the candidate settings) keeps its meaning there
    opts = {o for p in command.params for o in p.opts}
    if "db_url" not in names and "--db" not in opts:
        command.params.append(click.Option(["--db", "db_url"], metavar="URL", expose_value=False,
                                           callback=_set_global, help="Database URL (overrides settings)."))
    if "config" not in names and "--config" not in opts:
        command.params.append(click.Option(["--config", "config"], metavar="PATH", expose_value=False,
                                           callback=_set_global, help="TOML settings file."))


for _command in COMMANDS:
    _with_global_options(_command)
    cli.add_command(_command)


def main() -> None:
    try:
        cli(prog_name="netwarden")
    except ConfigError as exc:
        fail(str(exc), 2)


if __name__ == "__main__":
    main()
