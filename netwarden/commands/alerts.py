"""``netwarden alerts``, ``alert show|ack|resolve|false-positive``, ``incidents``, ``detectors``."""

from __future__ import annotations

import sys
from itertools import islice
from typing import Any

import click
import orjson
from rich.text import Text

from netwarden.commands.shared.context import Context, checked, parse_when
from netwarden.commands.shared.csv_output import csv_options, write_csv
from netwarden.commands.shared.terminal import answered_without_table, fail, json_line, list_table, out, safe
from netwarden.records import Alert, AlertStatus, Severity
from netwarden.text import plural

ALERT_COLUMNS = ("id", "kind", "subkind", "severity", "confidence", "factors", "source", "target", "first_seen",
                 "last_seen", "count", "status", "recommendation", "evidence", "detector", "signature", "incident_id",
                 "history")
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def alert_dict(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id, "kind": alert.kind, "subkind": alert.subkind, "severity": str(alert.severity),
        "confidence": alert.confidence, "factors": [f.to_dict() for f in alert.factors],
        "source": alert.source, "target": alert.target, "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(), "count": alert.count, "status": str(alert.status),
        "recommendation": alert.recommendation, "evidence": alert.evidence, "detector": alert.detector,
        "signature": alert.signature, "incident_id": alert.incident_id, "history": alert.history,
    }


@click.command("alerts")
@click.option("--since", metavar="WHEN", help="Seen since (2h, 7d, or ISO time).")
@click.option("--kind", metavar="KIND", help="web_attack, port_scan, brute_force, dos, exfiltration, intel ...")
@click.option("--severity", type=click.Choice([str(s) for s in Severity]), help="This severity or worse.")
@click.option("--status", type=click.Choice([str(s) for s in AlertStatus]))
@click.option("--source", metavar="ADDR|NET", help="Source address or network.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), metavar="C")
@click.option("--limit", "-n", type=click.IntRange(1, 100_000), help="At most N (default: 50; all with --csv).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@csv_options
@click.pass_obj
def alerts_command(obj: Context, since: str | None, kind: str | None, severity: str | None, status: str | None,
                   source: str | None, min_confidence: float | None, limit: int | None, as_json: bool,
                   as_csv: bool, bom: bool) -> None:
    """List alerts, most recent first."""
    from netwarden.store.alerts import AlertFilter, every_alert, find_alerts

    flt = AlertFilter(since=parse_when(since, obj.settings) if since else None, kind=kind, severity=severity,
                      status=status, source=source, min_confidence=min_confidence)
    checked(flt)
    db = obj.database()
    if as_csv:
        write_csv(ALERT_COLUMNS, islice(map(alert_dict, every_alert(db.engine.connect, flt)), limit), bom=bom)
        db.close()
        return
    with db.engine.connect() as conn:
        found = find_alerts(conn, flt, limit=limit or 50)
    db.close()
    if answered_without_table(found, as_json, alert_dict, "no matching alerts"):
        return
    table = list_table("id", "last seen (UTC)", "severity", "conf", "kind", "source", "count", "status",
                       text="why")
    for a in found:
        table.add_row(str(a.id), a.last_seen.strftime("%Y-%m-%d %H:%M:%S"),
                      Text(str(a.severity), style=SEVERITY_STYLE[str(a.severity)]), f"{a.confidence:.2f}",
                      Text(safe(f"{a.kind}/{a.subkind}" if a.subkind else a.kind)), Text(safe(a.source or "-")),
                      f"{a.count:,}", f"{a.status}{' (history)' if a.history else ''}",
                      Text(safe(a.factors[0].detail if a.factors else "")))
    out.print(table)


@click.group("alert")
def alert_group() -> None:
    """Look at one alert, or change its status."""


@alert_group.command("show")
@click.argument("alert_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(obj: Context, alert_id: int, as_json: bool) -> None:
    """Everything about one alert: why, evidence, what to do."""
    from netwarden.store.alerts import get_alert

    db = obj.database()
    with db.engine.connect() as conn:
        alert = get_alert(conn, alert_id)
    db.close()
    if alert is None:
        fail(f"no alert with id {alert_id}")
    if as_json:
        sys.stdout.write(json_line(alert_dict(alert)))
        return
    title = f"alert #{alert.id}  {alert.kind}/{alert.subkind}  {alert.severity}  confidence {alert.confidence:.2f}"
    out.print(Text(safe(title), style=SEVERITY_STYLE[str(alert.severity)]))
    for label, value in (("source", alert.source), ("target", alert.target), ("status", alert.status),
                         ("first seen", alert.first_seen.isoformat()), ("last seen", alert.last_seen.isoformat()),
                         ("count", f"{alert.count:,}"), ("detector", alert.detector),
                         ("incident", alert.incident_id), ("signature", alert.signature)):
        out.print(Text(f"  {label:<11}{safe(value if value is not None else '-')}"))
    if alert.history:
        out.print(Text("  history    yes: raised from old events; no automatic block or notification", style="yellow"))
    out.print(Text("why", style="bold"))
    for f in alert.factors:
        out.print(Text(f"  {f.weight:.2f}  {safe(f.name)}: {safe(f.detail)}"))
    out.print(Text("what to do", style="bold"))
    out.print(Text("  " + safe(alert.recommendation)))
    out.print(Text("evidence", style="bold"))
    for key, value in alert.evidence.items():
        if key == "samples":
            continue
        out.print(Text(f"  {safe(key)}: {safe(orjson.dumps(value, default=str).decode())[:500]}"))
    for sample in alert.evidence.get("samples", []):
        out.print(Text("  sample: " + safe(sample.get("raw") or orjson.dumps(sample, default=str).decode())[:500]))


def _set_status(obj: Context, alert_id: int, status: AlertStatus, note: str) -> None:
    from netwarden.store.alerts import set_status

    db = obj.database()
    try:
        with db.engine.begin() as conn:
            alert = set_status(conn, alert_id, status, by="cli", note=note)
    except LookupError as exc:
        fail(str(exc))
    finally:
        db.close()
    message = f"alert #{alert_id} is now {status}"
    if status == AlertStatus.FALSE_POSITIVE:
        message += (f"; {alert.kind} alerts matching '{alert.signature or 'any pattern'}' from "
                    f"{alert.source or 'any source'} will no longer be raised")
    out.print(Text(safe(message)))


@alert_group.command("ack")
@click.argument("alert_id", type=int)
@click.pass_obj
def ack(obj: Context, alert_id: int) -> None:
    """Mark an alert as acknowledged (someone is on it)."""
    _set_status(obj, alert_id, AlertStatus.ACKNOWLEDGED, "")


@alert_group.command("resolve")
@click.argument("alert_id", type=int)
@click.pass_obj
def resolve(obj: Context, alert_id: int) -> None:
    """Mark an alert as resolved."""
    _set_status(obj, alert_id, AlertStatus.RESOLVED, "")


@alert_group.command("false-positive")
@click.argument("alert_id", type=int)
@click.option("--note", default="", help="Why (kept with the suppression).")
@click.pass_obj
def false_positive(obj: Context, alert_id: int, note: str) -> None:
    """Mark an alert as a false positive: that pattern from that source will not alert again."""
    _set_status(obj, alert_id, AlertStatus.FALSE_POSITIVE, note)


@click.command("incidents")
@click.option("--since", metavar="WHEN")
@click.option("--limit", "-n", type=click.IntRange(1, 100_000), help="At most N (default: 50; all with --csv).")
@click.option("--json", "as_json", is_flag=True)
@csv_options
@click.pass_obj
def incidents_command(obj: Context, since: str | None, limit: int | None, as_json: bool, as_csv: bool,
                      bom: bool) -> None:
    """Incidents: the alerts of one source linked together, most recent first."""
    from netwarden.store.alerts import INCIDENT_COLUMNS, find_incidents
    from netwarden.store.incidents import every_incident

    after = parse_when(since, obj.settings) if since else None
    db = obj.database()
    if as_csv:
        write_csv(INCIDENT_COLUMNS, islice(every_incident(db.engine.connect, since=after), limit), bom=bom)
        db.close()
        return
    with db.engine.connect() as conn:
        rows = find_incidents(conn, since=after, limit=limit or 50)
    db.close()
    if answered_without_table(rows, as_json, dict, "no incidents"):
        return
    for row in rows:
        out.print(Text.assemble((f"#{row['id']} ", "bold"), (f"{row['severity']:<9}", SEVERITY_STYLE[row["severity"]]),
                                f"{row['last_seen']:%Y-%m-%d %H:%M}  {plural(row['alert_count'], 'alert')}  ",
                                safe(row["summary"])))


@click.command("detectors")
def detectors_command() -> None:
    """The detectors, what they look for, and their settings ([detect.<name>] in the configuration)."""
    from netwarden.detect.engine import load_detectors

    for name, cls in load_detectors().items():
        out.print(Text.assemble((name, "bold cyan"), "  ", safe(cls.description)))
        for field, info in cls.Settings.model_fields.items():
            out.print(Text(f"    {field} = {safe(repr(info.get_default(call_default_factory=True)))}"))
