"""``netwarden backtest``: what a change would have done on the stored history, before it is enabled."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from netwarden.commands.shared.context import Context, parse_when
from netwarden.commands.shared.terminal import err, fail, json_line, out, safe


@click.command("backtest")
@click.option("--since", default="30d", show_default=True, metavar="WHEN", help="Replay from (30d, 2h, or ISO time).")
@click.option("--until", metavar="WHEN", help="Replay until (default: now).")
@click.option("--config", "candidate_config", type=click.Path(dir_okay=False), metavar="CANDIDATE.toml",
              help="Candidate settings ([detect.*], [respond]) instead of the current ones (which come from "
                   "`netwarden --config CURRENT.toml backtest ...`).")
@click.option("--set", "assignments", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Change one setting of the candidate, e.g. detect.port_scan.vertical_ports=30 (repeatable).")
@click.option("--model", metavar="NAME[:VERSION]", help="Replay with this model active (instead of other versions of it).")
@click.option("--threshold", type=click.FloatRange(0, 1), metavar="T", help="The --model's alert threshold.")
@click.option("--json", "as_json", is_flag=True, help="The comparison as one JSON object.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.pass_obj
def backtest(obj: Context, since: str, until: str | None, candidate_config: str | None, assignments: tuple[str, ...],
             model: str | None, threshold: float | None, as_json: bool, progress: bool | None) -> None:
    """Replay stored events through candidate detectors and models, store nothing, and show what would
    change: alerts and blocks gained and lost, by kind and source, with examples."""
    from netwarden.backtest import Backtest, BacktestError, apply_sets
    from netwarden.config import ConfigError, load_settings

    if threshold is not None and model is None:
        raise click.UsageError("--threshold goes with --model NAME[:VERSION]")
    start = parse_when(since, obj.settings)
    end = parse_when(until, obj.settings) if until else None
    base = obj.settings
    if candidate_config:
        try:
            base = load_settings(candidate_config, environ={})
        except ConfigError as exc:
            fail(str(exc), 2)
        base.database = obj.settings.database
        base.learn = obj.settings.learn  # the models live where the store says
    describe: dict[str, Any] = {"config": candidate_config or obj.settings.source, "set": list(assignments),
                                "model": model, "threshold": threshold}
    db = obj.database()
    try:
        candidate = apply_sets(base, assignments)
        runner = Backtest(db, candidate, current=obj.settings, since=start, until=end, model=model, threshold=threshold,
                          describe=describe)
        show = err.is_terminal if progress is None else progress
        if show and not as_json:
            columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns, console=err, transient=True) as bar:
                task = bar.add_task("replay", total=None)
                result = runner.run(lambda done, total: bar.update(task, completed=done, total=total))
        else:
            result = runner.run()
    except BacktestError as exc:
        fail(str(exc), 2)
    finally:
        db.close()
    if as_json:
        sys.stdout.write(json_line(result.to_dict()))
        return
    print_result(result.to_dict())


def print_result(r: dict[str, Any]) -> None:
    cand = r["candidate"]
    parts = [cand.get("config") or "", *cand.get("set", [])]
    if cand.get("model"):
        parts.append(f"model {cand['model']}" + (f" at threshold {cand['threshold']}"
                                                 if cand.get("threshold") is not None else ""))
    what = ", ".join(p for p in parts if p)
    out.print(Text(safe(f"candidate: {what}")))
    out.print(f"replayed {r['events']:,} events from {r['since'][:19]} to {r['until'][:19]} UTC in "
              f"{r['seconds']:.1f} s ({r['events_per_second']:,} events/s); nothing was stored")
    for name in ("alerts", "blocks"):
        c = r[name]
        out.print(Text(f"{name}: {c['stored']:,} stored, {c['candidate']:,} with the candidate: "
                       f"+{c['gained_count']:,} gained, -{c['lost_count']:,} lost", style="bold"))
        if c["by_kind"]:
            out.print(Text("  by kind:   " + safe(", ".join(f"{k} +{v['gained']} -{v['lost']}"
                                                          for k, v in c["by_kind"].items()))))
        if c["by_source"]:
            out.print(Text("  by source: " + safe(", ".join(f"{k} +{v['gained']} -{v['lost']}"
                                                          for k, v in c["by_source"].items()))))
        for sign, side in (("+", "gained"), ("-", "lost")):
            for ex in c[side]:
                out.print(Text("  " + safe(f"{sign} {_describe(name, ex)}")))


def _describe(name: str, ex: dict[str, Any]) -> str:
    if name == "blocks":
        return f"{ex['network']}: {ex['reason']} ({ex['when'][:19]})"
    kind = f"{ex['kind']}/{ex['subkind']}" if ex["subkind"] else ex["kind"]
    alert = f" #{ex['id']}" if ex.get("id") else ""
    return (f"{kind}{alert} from {ex['source'] or '-'}: {ex['severity']}, confidence {ex['confidence']:.2f}, "
            f"{ex['count']:,} events, {ex['first_seen'][:19]} – {ex['last_seen'][:19]}; {ex['why']}")
