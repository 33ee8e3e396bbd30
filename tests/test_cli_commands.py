"""The root group imports a command's module only when it runs; these check that what it knows without
importing (names, short help) is what the commands themselves say, and that every command answers --help."""

from __future__ import annotations

import importlib
import pkgutil

import click
from click.testing import CliRunner

import netwarden.commands
from netwarden.cli import COMMANDS, cli, load_command


def _reachable(command: click.Command) -> list[click.Command]:
    subs = command.commands.values() if isinstance(command, click.Group) else ()
    return [command, *(c for sub in subs for c in _reachable(sub))]


def test_the_short_help_kept_in_the_table_is_the_commands_own() -> None:
    for name, (_, _, short) in COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        stand_in = click.Command(name, help=short)
        for limit in range(20, 200, 7):  # what a narrow or wide terminal shows
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


def test_root_help_lists_what_the_loaded_commands_would() -> None:
    ctx = click.Context(cli, info_name="netwarden")
    for width in (60, 100):
        lazy, loaded = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
        cli.format_commands(ctx, lazy)
        click.Group.format_commands(cli, ctx, loaded)  # click's own: imports every command
        assert lazy.getvalue() == loaded.getvalue()
        assert all(f"  {name} " in lazy.getvalue() for name in COMMANDS)


def test_every_command_of_every_module_is_registered() -> None:
    registered = {id(c) for name in COMMANDS for c in _reachable(load_command(name))}
    defined = []
    for info in pkgutil.iter_modules(netwarden.commands.__path__):
        module = importlib.import_module(f"netwarden.commands.{info.name}")
        defined += [f"{info.name}.{attr}" for attr, value in vars(module).items()
                    if isinstance(value, click.Command) and id(value) not in registered
                    and value.callback is not None and value.callback.__module__ == module.__name__]
    assert defined == []


def test_every_command_and_subcommand_answers_help() -> None:
    runner = CliRunner()
    for name in COMMANDS:
        command = load_command(name)
        paths = [([name], command)]
        if isinstance(command, click.Group):
            paths += [([name, sub_name], sub) for sub_name, sub in command.commands.items()]
        for path, leaf in paths:
            result = runner.invoke(cli, [*path, "--help"], catch_exceptions=False)
            assert result.exit_code == 0, (path, result.output)
            assert result.output.startswith(f"Usage: cli {' '.join(path)}"), (path, result.output[:200])
            # --db after the command's name, as before it (a group passes it on to its commands)
            assert isinstance(leaf, click.Group) or "--db URL" in result.output, path


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["evnets"])
    assert result.exit_code == 2 and "No such command 'evnets'" in result.output
