"""``netwarden model``: the model lab (algorithms, train, list, show, activate, deactivate, delete here; threshold,
predict and evaluate in :mod:`netwarden.commands.model_scoring`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from netwarden.commands.model_output import open_lab, print_by_label, print_metrics
from netwarden.commands.model_scoring import evaluate_command, predict_command, threshold_command
from netwarden.commands.shared.context import Context, parse_when
from netwarden.commands.shared.terminal import answered_without_table, err, fail, json_line, out, plain_table, safe


RECENT_ROWS = 50_000  # stored events `model show` scores to compare with the calibrated rate


@click.group("model")
def model_group() -> None:
    """Train, compare and put to work machine-learning models."""


def _params(values: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--param")
        params[key.strip()] = value.strip()
    return params


@model_group.command("algorithms")
def algorithms_command() -> None:
    """The algorithms you can train, with their parameters and defaults."""
    from netwarden.learn.base import algorithms

    table = plain_table()
    for column in ("algorithm", "family", "description", "parameters (defaults)"):
        table.add_column(column, overflow="fold")
    hints = []
    for name, cls in algorithms().items():
        params = ", ".join(f"{k}={v}" for k, v in cls.default_params.items())
        missing = cls.unavailable()
        if missing and missing not in hints:
            hints.append(missing)
        table.add_row(name, cls.family, ("(not installed, see below) " if missing else "") + cls.description, params)
    out.print(table)
    for hint in hints:
        out.print(Text(hint[0].upper() + hint[1:] + "."))


@model_group.command("train")
@click.option("--data", "data", type=click.Path(dir_okay=False), help="Training file (labelled for supervised models).")
@click.option("--since", metavar="WHEN", help="Learn from stored events since (7d, 2h, ISO time): a period you call normal.")
@click.option("--until", metavar="WHEN", help="End of that period (default: now).")
@click.option("--algorithm", "-a", required=True, metavar="NAME", help="See `netwarden model algorithms`.")
@click.option("--param", "-p", "param", multiple=True, metavar="KEY=VALUE", help="An algorithm parameter (repeatable).")
@click.option("--test", "test", type=click.Path(dir_okay=False), help="Explicit test file (default: a 70/30 split).")
@click.option("--task", type=click.Choice(["binary", "category"]), default="binary", show_default=True)
@click.option("--name", metavar="NAME", help="Registry name (default: the algorithm); each training adds a version.")
@click.option("--format", "-f", "fmt", metavar="NAME", help="Input format (default: recognised; csv for any CSV).")
@click.option("--label-column", metavar="COLUMN", help="Label column of a generic CSV.")
@click.option("--limit", type=click.IntRange(1), metavar="N", help="Read at most N rows.")
@click.option("--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), help="Held-out share.")
@click.option("--activate", is_flag=True, help="Activate the new model (the ml detector runs it).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def train_command(obj: Context, data: str | None, since: str | None, until: str | None, algorithm: str,
                  param: tuple[str, ...], test: str | None, task: str, name: str | None, fmt: str | None,
                  label_column: str | None, limit: int | None, test_size: float | None, activate: bool,
                  as_json: bool) -> None:
    """Train a model on a file (or on stored events of a normal period), evaluate it, and store it in the
    registry."""
    from netwarden.learn import data as learn_data
    from netwarden.learn import lab
    from netwarden.learn.base import ModelError

    if bool(data) == bool(since):
        raise click.UsageError("give either --data FILE or --since WHEN (stored events)")
    params = _params(param)
    db, registry = open_lab(obj)
    settings = obj.settings.learn
    stored = None
    if since:
        start = parse_when(since, obj.settings)
        end = parse_when(until, obj.settings) if until else None
        stored = learn_data.load_stored(db, start, end, limit=limit or 200_000)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err,
                      transient=True, disable=as_json or not err.is_terminal) as bar:
            task_id = bar.add_task("training", total=1.0)

            def progress(stage: str, fraction: float) -> None:
                bar.update(task_id, description=stage, completed=fraction)

            result = lab.train(registry, data=data, algorithm=algorithm, task=task, params=params, test=test,
                               name=name, fmt=fmt, label_column=label_column, limit=limit,
                               test_size=test_size or settings.test_size, seed=settings.seed, progress=progress,
                               events=stored, source=f"stored events since {since}")
        if activate and result.record is not None:
            registry.activate(result.record.id)
            result.record.active = True
    except ModelError as exc:
        db.close()
        fail(str(exc), 2)
    db.close()
    record = result.record
    assert record is not None
    if as_json:
        sys.stdout.write(json_line(record.to_dict()))
        return
    for problem in result.problems:
        err.print(Text(f"skipped {safe(problem)}", style="yellow"))
    out.print(Text.assemble(("trained ", ""), (record.ref, "bold"), f"  ({record.algorithm}, {record.task}"
                            f"{', active' if record.active else ''})"))
    for step in result.steps:
        out.print(Text(f"  - {safe(step)}"))
    print_metrics(record.metrics)


@model_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_command(obj: Context, as_json: bool) -> None:
    """Every stored model version, with its headline figures."""
    db, registry = open_lab(obj)
    records = registry.list()
    db.close()
    if answered_without_table(records, as_json, lambda r: r.to_dict(),
                              "no models yet: train one with `netwarden model train --data FILE --algorithm NAME`"):
        return
    table = plain_table()
    for column in ("model", "algorithm", "task", "active", "accuracy", "F1", "FPR", "AUC", "threshold", "created"):
        table.add_column(column, no_wrap=True)
    for r in records:
        m = r.metrics
        table.add_row(safe(r.ref), r.algorithm, r.task, "yes" if r.active else "", _fmt(m.get("accuracy")),
                      _fmt(m.get("f1")), _fmt(m.get("fpr")), _fmt(m.get("roc_auc")), f"{r.threshold:.3f}",
                      r.created.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@model_group.command("show")
@click.argument("ref")
@click.option("--recent", metavar="WHEN", default="24h", show_default=True,
              help="Compare the alert rate on stored events since WHEN with the calibrated rate.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show_command(obj: Context, ref: str, recent: str, as_json: bool) -> None:
    """One model: its data, parameters, full metrics, and a warning when it flags recent traffic more than
    twice as often as calibrated (REF: name, name:version or id)."""
    from netwarden.learn import data as learn_data
    from netwarden.learn import lab, live
    from netwarden.learn.base import ModelError

    db, registry = open_lab(obj)
    try:
        record = registry.get(ref)
        since = parse_when(recent, obj.settings)
        events = learn_data.load_stored(db, since, limit=RECENT_ROWS)
        model = registry.load(record)
        drift = lab.drift(model, record.metrics, events) if events else None
        counted = lab.live_drift(model, record.metrics, record.ref, live.load(db), since)
    except ModelError as exc:
        db.close()
        fail(str(exc))
    db.close()
    if as_json:
        sys.stdout.write(json_line({**record.to_dict(), "drift": drift, "live": counted}))
        return
    for found in (drift, counted):
        if found and found["warning"]:
            out.print(Text(f"warning: {found['warning']}", style="yellow bold"))
    out.print(Text.assemble((record.ref, "bold"), f"  {record.algorithm} ({record.family}, {record.task})",
                            ("  active" if record.active else "  inactive")))
    out.print(Text(f"data: {safe(orjson.dumps(record.data).decode())}"))
    out.print(Text(f"parameters: {safe(orjson.dumps(record.params).decode())}"))
    out.print(f"threshold: {record.threshold:.4f}   created: {record.created.isoformat()}")
    calibration = record.metrics.get("calibration")
    if calibration:
        lo, hi = calibration["fpr_95"]
        trained_at = calibration.get("threshold")
        moved = f" at the trained threshold {trained_at:.4f}" if trained_at is not None and \
            abs(trained_at - record.threshold) > 1e-6 else ""
        out.print(f"calibration: {calibration['calibration_rows']:,} held-back normal rows, "
                  f"{calibration['calibrated_fpr']:.2%} flagged{moved} (95 % interval {lo:.2%}-{hi:.2%})")
        if calibration.get("fpr_upper") is not None and not moved:  # how sure: the rate new normal traffic stays in
            sure = f"with {calibration['confidence']:.0%} confidence" if calibration.get("confidence") else \
                "point estimate"
            target = f" (target {calibration['fpr_target']:.2%})" if calibration.get("fpr_target") is not None else ""
            rows = f" on {calibration['bound_rows']:,} normal rows" if calibration.get("bound_rows") else ""
            out.print(f"false positives on new normal traffic: at most {calibration['fpr_upper']:.2%} {sure}{rows}"
                      f"{target}")
    if drift and drift["rate"] is not None:
        out.print(f"recent (since {safe(recent)}): {drift['rows']:,} rows, {drift['flagged']:,} flagged "
                  f"({drift['rate']:.2%})")
    _print_live(counted, recent)
    print_metrics(record.metrics)
    print_by_label(record.metrics.get("by_label") or {})


def _print_live(counted: dict[str, Any], recent: str) -> None:
    """What the ml detector counted while the model ran live, hour by hour (the newest 24 hours shown)."""
    if not counted["scored"]:
        out.print(f"live (since {safe(recent)}): nothing judged while active")
        return
    expected = f", calibrated {counted['calibrated']:.2%}" if counted["calibrated"] else ""
    out.print(f"live (since {safe(recent)}): {counted['scored']:,} judged, {counted['flagged']:,} flagged "
              f"({counted['rate']:.2%}{expected}); {counted['hours_over']} of {len(counted['hours'])} hours over 2x")
    table = Table("hour (UTC)", "judged", "flagged", "rate", "")
    for h in counted["hours"][-24:]:
        table.add_row(h["hour"][:16].replace("T", " "), f"{h['scored']:,}", f"{h['flagged']:,}",
                      f"{h['flagged'] / h['scored']:.2%}", "over 2x" if h.get("over") else "")
    out.print(table)


def _change(obj: Context, ref: str, action: str) -> None:
    from netwarden.learn.base import ModelError

    db, registry = open_lab(obj)
    try:
        record = getattr(registry, action)(ref)
    except ModelError as exc:
        db.close()
        fail(str(exc))
    db.close()
    out.print(f"{safe(record.ref)}: {action}d")


@model_group.command("activate")
@click.argument("ref")
@click.pass_obj
def activate_command(obj: Context, ref: str) -> None:
    """Run this model in the pipeline (other versions of the same name stop)."""
    _change(obj, ref, "activate")


@model_group.command("deactivate")
@click.argument("ref")
@click.pass_obj
def deactivate_command(obj: Context, ref: str) -> None:
    """Stop running this model in the pipeline."""
    _change(obj, ref, "deactivate")


@model_group.command("delete")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_obj
def delete_command(obj: Context, ref: str, yes: bool) -> None:
    """Delete a model version and its files."""
    if not yes and not click.confirm(f"delete model {ref}?", err=True):
        return
    _change(obj, ref, "delete")


for _command in (threshold_command, predict_command, evaluate_command):
    model_group.add_command(_command)
