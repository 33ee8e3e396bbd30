"""``netwarden rules``: user rules — import Sigma rule files, list the Sigma and threshold rules in force."""

from __future__ import annotations

import click

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.terminal import fail, out, plain_table, safe


@click.group("rules")
def rules_group() -> None:
    """Sigma rules and threshold rules ([detect.sigma], [detect.threshold]; the web app's Rules page)."""


@rules_group.command("import-sigma")
@click.argument("paths", nargs=-1, required=True, metavar="FILE_OR_FOLDER...")
@click.option("--check", is_flag=True, help="Only compile the rules and list them; copy nothing.")
@click.pass_obj
def import_sigma_command(obj: Context, paths: tuple[str, ...], check: bool) -> None:
    """Compile Sigma rules with pySigma and copy them into the folder of imported rules
    ([detect.sigma] imported, default netwarden-rules/sigma). All or nothing: one bad rule imports none."""
    from netwarden.rules import RuleError, check_sigma, describe, import_sigma, sigma_folder

    folder = sigma_folder(obj.settings)
    try:
        rules = [describe(r) for r in check_sigma(list(paths))] if check else import_sigma(list(paths), folder)
    except RuleError as exc:
        fail(str(exc), 2)
    table = plain_table("rule", "level", "ATT&CK", "file")
    for rule in rules:
        table.add_row(safe(rule["title"]), rule["level"], safe(", ".join(rule["attack"]) or "-"), safe(rule["file"]))
    out.print(table)
    verb = "compiled (nothing copied)" if check else f"imported into {folder}"
    out.print(f"{len(rules)} rule{'s' if len(rules) != 1 else ''} {verb}; a running server picks them up on "
              "its next start or when the Rules page applies a change")


@rules_group.command("list")
@click.pass_obj
def list_command(obj: Context) -> None:
    """The Sigma rules (configured files and imported ones) and the threshold rules of the settings."""
    from netwarden.detect.sigma import SigmaRules
    from netwarden.rules import RuleError, check_sigma, describe

    sigma = SigmaRules.Settings.model_validate(obj.settings.detect.get("sigma", {}))
    paths = SigmaRules(sigma).paths if sigma.rules or sigma.imported else []
    try:
        rules = [describe(r) for r in check_sigma(paths)] if paths else []
    except RuleError as exc:
        fail(str(exc), 2)
    table = plain_table("kind", "rule", "level", "tags", "where")
    for rule in rules:
        table.add_row("sigma", safe(rule["title"]), rule["level"], safe(", ".join(rule["tags"]) or "-"),
                      safe(rule["file"]))
    for rule in obj.settings.detect.get("threshold", {}).get("rules", []):
        table.add_row("threshold", safe(rule.get("name")), str(rule.get("severity", "medium")),
                      safe(", ".join(rule.get("tags", [])) or "-"), f"count {rule.get('count')} in {rule.get('window', '5m')}")
    out.print(table)
