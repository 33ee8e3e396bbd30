"""``netwarden model threshold|predict|evaluate``: a stored model at work on records, and where it alerts."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.text import Text

from netwarden.commands.model_output import open_lab, print_by_label, print_metrics
from netwarden.commands.shared.context import Context, parse_when
from netwarden.commands.shared.terminal import err, fail, json_line, out, safe

SHOWN_AS_TEXT = 1000  # rows printed as text by `model predict` (--json prints every one)


@click.command("threshold")
@click.argument("ref")
@click.argument("value", type=click.FloatRange(0, 1, min_open=True), required=False)
@click.option("--fpr", type=click.FloatRange(0, 0.5, min_open=True), help="Operating point: this false-positive rate.")
@click.option("--precision", type=click.FloatRange(0, 1, min_open=True), help="Operating point: this precision "
              "(needs --data with attacks).")
@click.option("--data", "data", type=click.Path(dir_okay=False), help="Labelled file to choose the threshold on.")
@click.pass_obj
def threshold_command(obj: Context, ref: str, value: float | None, fpr: float | None, precision: float | None,
                      data: str | None) -> None:
    """Change the score above which a model raises an alert: a VALUE, or an operating point (--fpr or
    --precision). Unsupervised models take --fpr from their calibration; with --data the threshold is chosen
    on that labelled file (recent normal traffic, and attacks for a precision target)."""
    from netwarden.learn import data as learn_data
    from netwarden.learn import lab
    from netwarden.learn.base import ModelError

    if sum(x is not None for x in (value, fpr, precision)) != 1:
        raise click.UsageError("give one of VALUE, --fpr or --precision")
    db, registry = open_lab(obj)
    note = ""
    try:
        if value is None:
            model = registry.load(ref)
            if data:
                events = learn_data.load_file(Path(data)).events
                labelled = [e for e in events if e.label is not None]
                point = lab.operating_point(model.score(labelled), [not learn_data.is_normal(e.label)
                                                                    for e in labelled], fpr=fpr, precision=precision)
                value = point["threshold"]
                lo, hi = point["fpr_95"]
                note = (f" (on {point['normal_rows']:,} normal and {point['attack_rows']:,} attack rows: FPR "
                        f"{point['fpr']:.2%}, 95 % interval {lo:.2%}-{hi:.2%}, precision {point['precision']:.4f})")
            elif fpr is not None and not model.supervised:
                value = 1.0 - fpr  # calibrated scores: the share of held-back normal traffic scoring lower
                note = " (from the model's calibration on held-back normal traffic)"
            else:
                raise ModelError("this operating point needs labelled data: add --data FILE")
        record = registry.set_threshold(ref, value)
    except ModelError as exc:
        db.close()
        fail(str(exc), 2)
    db.close()
    out.print(f"{safe(record.ref)}: threshold {record.threshold:.4f}{note}")


@click.command("predict")
@click.argument("ref")
@click.option("--data", "data", type=click.Path(dir_okay=False), help="A file of records (any known format or CSV).")
@click.option("--format", "-f", "fmt", metavar="NAME")
@click.option("--since", metavar="WHEN", help="Score stored events since (2h, 7d, ISO time) instead of a file.")
@click.option("--until", metavar="WHEN")
@click.option("--limit", "-n", type=click.IntRange(1), default=100_000, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Print every record, not only those above the threshold.")
@click.option("--top", type=click.IntRange(1, 20), default=3, show_default=True, help="Features per explanation.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def predict_command(obj: Context, ref: str, data: str | None, fmt: str | None, since: str | None, until: str | None,
                    limit: int, show_all: bool, top: int, as_json: bool) -> None:
    """Score records with a model and explain the suspicious ones."""
    from netwarden.learn import data as learn_data
    from netwarden.learn import lab
    from netwarden.learn.base import ModelError

    if bool(data) == bool(since):
        raise click.UsageError("give either --data FILE or --since WHEN")
    db, registry = open_lab(obj)
    try:
        model = registry.load(ref)
        if data:
            events = learn_data.load_file(Path(data), fmt, limit=limit).events
        else:
            events = learn_data.load_stored(db, parse_when(since, obj.settings),
                                            parse_when(until, obj.settings) if until else None, limit=limit)
        scores = model.score(events)
        chosen = [i for i, s in enumerate(scores) if show_all or s >= model.threshold]
        cap = len(chosen) if as_json else SHOWN_AS_TEXT  # a script asked for every row: give every row
        if model.params.get("view") == "host":  # window features need the other events of the window
            verdicts = lab.predict(model, events, top)
            shown = [verdicts[i] for i in chosen[:cap]]
        else:
            shown = lab.predict(model, [events[i] for i in chosen[:cap]], top) if chosen else []
    except ModelError as exc:
        db.close()
        fail(str(exc))
    db.close()
    for i, verdict in zip(chosen, shown):
        if as_json:
            sys.stdout.write(json_line({"row": i + 1, **verdict, "truth": events[i].label}))
            continue
        why = ", ".join(f"{c['feature']}={c['value']} ({c['contribution']:+.3f})" for c in verdict["explanation"])
        out.print(Text(safe(f"row {i + 1}: {verdict['label']} score {verdict['score']:.3f}  {why}")))
    if len(events) >= limit:  # said on stderr: a script reading --json lines still gets only rows
        err.print(Text(f"stopped at --limit {limit:,} records: the rest was not read", style="yellow"))
    flagged = int((scores >= model.threshold).sum()) if len(scores) else 0
    if not as_json:
        out.print(f"{len(events):,} records, {flagged:,} above the threshold {model.threshold:.3f}"
                  + (f" (first {len(shown):,} shown)" if len(chosen) > len(shown) else ""))


@click.command("evaluate")
@click.argument("ref")
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False),
              help="A labelled file (NetWarden JSON lines with a label, a dataset, a CSV with a label column).")
@click.option("--format", "-f", "fmt", metavar="NAME")
@click.option("--label-column", metavar="COLUMN", help="Label column of a generic CSV.")
@click.option("--limit", "-n", type=click.IntRange(1), metavar="N", help="Read at most N rows.")
@click.option("--rows", "rows_csv", type=click.Path(dir_okay=False), help="Also write every row's verdict as CSV.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def evaluate_command(obj: Context, ref: str, data: str, fmt: str | None, label_column: str | None, limit: int | None,
                     rows_csv: str | None, as_json: bool) -> None:
    """Score a stored model on a labelled file: metrics, confusion matrix, recall per label, testing time."""
    from netwarden.learn import data as learn_data
    from netwarden.learn import lab
    from netwarden.learn.base import ModelError

    db, registry = open_lab(obj)
    try:
        model = registry.load(ref)
        record = registry.get(ref)
        loaded = learn_data.load_file(Path(data), fmt, limit=limit, label_column=label_column)
        unlabelled = sum(1 for e in loaded.events if e.label is None)
        if unlabelled:
            raise ModelError(f"{data}: {unlabelled:,} of {len(loaded.events):,} rows carry no label; "
                             "evaluation needs labelled rows (`model predict` scores unlabelled ones)")
        metrics, scores = lab.measure_scores(model, loaded.events)
        if rows_csv:
            Path(rows_csv).write_text(lab.rows_csv(model, loaded.events, scores), encoding="utf-8")
    except (ModelError, OSError) as exc:
        db.close()
        fail(str(exc), 2)
    db.close()
    report = {"model": record.ref, "algorithm": record.algorithm, "file": str(data), "format": loaded.format,
              "skipped": loaded.skipped, **metrics}
    if as_json:
        sys.stdout.write(json_line(report))
        return
    out.print(Text.assemble((record.ref, "bold"), f"  {record.algorithm} on {safe(str(data))} "
                            f"({loaded.format}, {len(loaded.events):,} rows, {loaded.skipped:,} skipped)"))
    print_metrics(metrics)
    print_by_label(metrics.get("by_label") or {})
