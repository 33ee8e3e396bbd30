"""The ``netwarden`` command: the root group, its global options, and the list of every command.

The commands live in :mod:`netwarden.commands`, one module per command or group of commands, and what
they share in :mod:`netwarden.commands.shared`. Imports point one way: this module imports the commands,
no command imports this module. A new command is a new module there plus one line in ``COMMANDS``.

A command's module is imported only when that command runs (or its ``--help`` is asked): importing all of
them cost every start-up about 0.1-0.2 CPU s (web, detectors, reports ...) that ``events --csv`` or
``--version`` never use. ``netwarden --help`` lists the commands from the short help kept here, which a
test checks against each command's own.
"""

from __future__ import annotations

import importlib
import click

from netwarden import __version__

# name -> (module in netwarden.commands, attribute, short help as the command itself gives it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    # reading input
    "ingest": ("ingest", "ingest", "Read log files (plain or .gz; - for standard input) into the store."),
    "follow": ("follow", "follow",
               "Follow growing log files (like tail -F) and store each new line as it is written."),
    "listen": ("listen", "listen",
               "Receive logs and flows from devices over the network (syslog, NetFlow ...) until Ctrl-C."),
    "capture": ("capture", "capture", "Capture packets on an interface and store them as flows, live (runs "
                "tcpdump; needs root or cap_net_raw)."),
    "formats": ("formats", "formats", "List the input formats with an example line each."),
    # what the store holds
    "events": ("events", "events", "List stored events, newest first."),
    "analysis": ("analysis", "analysis", "One table of the analysis page over the last hour unless --since "
                 "(JSON lines, or CSV with --csv)."),
    "status": ("status", "status", "Where the store is, its schema version, and what it holds."),
    "quarantine": ("status", "quarantine", "Show quarantined input lines and counts per reason."),
    "retention": ("status", "retention",
                  "Delete raw events and quarantined lines older than N days; per-minute rollups are kept."),
    # detection and response
    "alerts": ("alerts", "alerts_command", "List alerts, most recent first."),
    "alert": ("alerts", "alert_group", "Look at one alert, or change its status."),
    "incidents": ("alerts", "incidents_command",
                  "Incidents: the alerts of one source linked together, most recent first."),
    "detectors": ("alerts", "detectors_command", "The detectors, what they look for, and their settings "
                  "([detect.<name>] in the configuration)."),
    "block": ("block", "block_group",
              "Block addresses by hand, unblock them, and list every block (automatic or manual)."),
    "intel": ("intel", "intel", "Threat-intelligence feeds: list them, check addresses, validate files."),
    "notify": ("notify", "notify_group", "E-mail and webhook notifications ([notify] settings)."),
    "evaluate": ("evaluate", "evaluate_command", "Run the detectors over labelled input and print, per alert "
                 "kind, true/false positives and negatives, precision, recall and false-positive rate (per "
                 "event)."),
    "backtest": ("backtest", "backtest", "Replay stored events through candidate detectors and models, store "
                 "nothing, and show what would change: alerts and blocks gained and lost, by kind and source, "
                 "with examples."),
    "model": ("model", "model_group", "Train, compare and put to work machine-learning models."),
    "report": ("report", "report_group", "PDF reports: generate one, list the kinds and the archive, schedule "
               "them (e-mailed by `serve`)."),
    "rules": ("rules", "rules_group", "Sigma rules and threshold rules ([detect.sigma], [detect.threshold]; "
              "the web app's Rules page)."),
    # the server, its users, and traffic to try it with
    "serve": ("serve", "serve", "Run the web application with the syslog and NetFlow listeners and detection, "
              "until Ctrl-C."),
    "user": ("user", "user", "Manage the users of the web application (roles: admin, analyst, viewer)."),
    "demo": ("demo", "demo", "Start NetWarden with a built-in traffic simulator: a small office's benign "
             "traffic and, now and then, attacks (scans, brute force, SQL injection, traversal, exfiltration, "
             "listed addresses, floods)."),
    "simulate": ("simulate", "simulate", "Send simulated traffic in real time to a NetWarden server's syslog "
                 "and NetFlow listeners."),
    # the scale-out on a bus ([bus] url)
    "worker": ("worker", "worker", "Read partitions of the bus, detect and store into the shared database, "
               "until Ctrl-C or SIGTERM."),
    "publish": ("worker", "publish",
                "Parse log files here and publish them to the bus, for the workers to detect and store."),
}


def load_command(name: str) -> click.Command:
    """Import the module of the command ``name`` and give its command, with the global options added."""
    module, attribute, _ = COMMANDS[name]
    command: click.Command = getattr(importlib.import_module(f"netwarden.commands.{module}"), attribute)
    _with_global_options(command)  # adds nothing the second time: the options are then there
    return command


class LazyGroup(click.Group):
    """The root group: it knows the commands by name and imports one only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # the list click would write, shortened the same way, without importing any command
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="netwarden")
@click.option("--config", "config", metavar="PATH", help="TOML settings file (default: ./netwarden.toml).")
@click.option("--db", "db_url", metavar="URL", envvar="NETWARDEN_DATABASE_URL", show_envvar=True,
              help="Database URL: sqlite:///netwarden.db (default), mysql://..., postgresql://...")
@click.pass_context
def cli(ctx: click.Context, config: str | None, db_url: str | None) -> None:
    """NetWarden: watch your network's logs and flows for attacks."""
    from netwarden.commands.shared.context import Context

    ctx.obj = Context(config, db_url)


def _set_global(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from netwarden.commands.shared.context import Context

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


def main() -> None:
    try:
        cli(prog_name="netwarden")
    except Exception as exc:
        from netwarden.commands.shared.terminal import fail
        from netwarden.config import ConfigError

        if not isinstance(exc, ConfigError):
            raise
        fail(str(exc), 2)


if __name__ == "__main__":
    main()
