"""``netwarden evaluate``: how good are the detectors on labelled input."""

from __future__ import annotations

import ipaddress
import sys

import click
import orjson
from rich.table import Table
from rich.text import Text

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.options import format_option, paths_argument
from netwarden.commands.shared.terminal import fail, out, safe


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@click.command("evaluate")
@paths_argument
@format_option()
@click.option("--attacker", "attackers", multiple=True, metavar="ADDR[=KIND]",
              help="Ground truth for unlabelled input: events from/to ADDR are this kind of attack "
                   "(default kind: any); all other events are benign. Repeatable.")
@click.option("--benign", is_flag=True, help="Every event of the input is normal traffic.")
@click.option("--detector", "only", multiple=True, metavar="NAME",
              help="Only these detectors (repeatable); `ml` runs the active models of the model registry.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def evaluate_command(obj: Context, paths: tuple[str, ...], fmt: str, attackers: tuple[str, ...], benign: bool,
                     only: tuple[str, ...], as_json: bool) -> None:
    """Run the detectors over labelled input and print, per alert kind, true/false positives and
    negatives, precision, recall and false-positive rate (per event). Nothing is stored."""
    from netwarden.collect.files import InputError
    from netwarden.detect.base import SettingsError
    from netwarden.enrich.assets import Assets
    from netwarden.evaluate import evaluate_paths
    from netwarden.parse import UnknownFormat

    truth: dict[str, str] = {}
    for item in attackers:
        address, _, kind = item.partition("=")
        try:
            truth[str(ipaddress.ip_address(address.strip()))] = kind.strip() or "attack"
        except ValueError:
            raise click.BadParameter(f"{address!r} is not an IP address", param_hint="--attacker") from None
    settings = obj.settings
    db = registry = None
    if "ml" in only:  # the models live in the configured database's registry; the events stay in memory
        from netwarden.learn.registry import open_registry

        db = obj.database()
        registry = open_registry(db, settings)
        if not registry.active():
            db.close()
            fail("--detector ml: no active model (netwarden model activate NAME)", 2)
    try:
        result = evaluate_paths(paths, fmt=fmt, detect_config=settings.detect, attackers=truth,
                                all_benign=benign, assets=Assets(settings.network.home), only=only or None,
                                registry=registry)
    except (InputError, UnknownFormat, SettingsError) as exc:
        fail(str(exc), 2)
    finally:
        if db is not None:
            db.close()
    if as_json:
        sys.stdout.write(orjson.dumps({"events": result.events, "labelled": result.labelled,
                                       "attacks": result.attacks, "alerts": result.alerts,
                                       "kinds": result.rows()}).decode() + "\n")
        return
    out.print(f"events {result.events:,}, labelled {result.labelled:,}, attacks {result.attacks:,}, "
              f"alerts {result.alerts:,}")
    if result.labelled == 0:
        out.print("no ground truth: the input has no labels (use --attacker or --benign)")
    table = Table(show_edge=False, box=None, header_style="bold")
    for column in ("kind", "TP", "FP", "FN", "TN", "precision", "recall", "FP rate"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for row in result.rows():
        table.add_row(Text(safe(row["kind"])), f"{row['tp']:,}", f"{row['fp']:,}", f"{row['fn']:,}", f"{row['tn']:,}",
                      _pct(row["precision"]), _pct(row["recall"]), _pct(row["fpr"]))
    out.print(table)
    if result.unlabelled_alert_kinds:
        out.print("alerts on events without a label: " + ", ".join(
            f"{k} {n:,}" for k, n in sorted(result.unlabelled_alert_kinds.items())))
