"""Weekly management summary: the week against the week before, the main risks in plain words, what was
blocked, and what to do — for readers who do not read alert lists."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from netwarden.report import charts, data
from netwarden.report.kinds.daily import volume_series
from netwarden.report.kinds import report_kind
from netwarden.report.render import Job

NAME = "weekly"
TITLE = "Weekly management summary"
DESCRIPTION = "trends against the previous week, the main risks in plain words, what was blocked, recommendations"
DEFAULT_SINCE = timedelta(days=7)
TEMPLATE = "weekly.html"
VARIABLES = {
    "trends": "rows {label, now, before, change} for events, alerts, high-or-critical alerts, blocks, incidents, "
              "quarantined lines",
    "alerts": "this period's alert counts (total, by_severity, by_kind)",
    "previous_alerts": "the previous period's alert counts",
    "risks": "the main risks, each {title, text, severity} in plain words",
    "blocked": "blocks made in the period (as in the daily report)",
    "repeat_offenders": "networks blocked more than once (network, times_blocked, last_reason, last_blocked)",
    "recommendations": "what to do, as sentences",
    "charts": "SVG charts: volume (this week and, dashed, the week before), kinds",
}

# what each alert kind means to a manager (kinds not listed get a generic sentence)
KIND_WORDS = {
    "brute_force": "password-guessing attacks against logins (SSH, web sign-in)",
    "port_scan": "scans looking for open services on our machines",
    "web_attack": "attacks against our web applications (SQL injection, path traversal and similar)",
    "dos": "floods trying to overload our services",
    "exfiltration": "unusually large transfers out of our network (possible data theft)",
    "intel": "traffic with addresses known to be malicious",
    "ml": "traffic the learned models found unusual",
    "unusual_service": "services reachable from outside that are not expected",
}


def _risks(alerts: dict[str, Any], top: list[Any], blocked: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_kind_severity: dict[str, Counter] = {}
    sources: dict[str, set] = {}
    for a in top:
        by_kind_severity.setdefault(a.kind, Counter())[str(a.severity)] += 1
        sources.setdefault(a.kind, set()).add(a.source)
    blocked_nets = {b["network"] for b in blocked}
    risks = []
    for entry in alerts["by_kind"][:4]:
        kind, n = entry["kind"], entry["alerts"]
        words = KIND_WORDS.get(kind, f"alerts of the kind {kind}")
        srcs = {s for s in sources.get(kind, set()) if s}
        stopped = len([s for s in srcs if s in blocked_nets])
        worst = next((s for s in data.SEVERITIES if by_kind_severity.get(kind, Counter())[s]), "medium")
        text = f"{n:,} alert{'s' if n != 1 else ''} of {words}"
        if srcs:
            text += f", from {len(srcs):,} address{'es' if len(srcs) != 1 else ''} among the most serious ones"
            text += f"; {stopped:,} of them {'was' if stopped == 1 else 'were'} blocked." if stopped else \
                "; none of them was blocked."
        else:
            text += "."
        risks.append({"title": kind.replace("_", " ").capitalize(), "text": text, "severity": worst})
    return risks


def _recommendations(job: Job, alerts: dict[str, Any], top: list[Any], quarantine: dict[str, int],
                     inputs: list[dict[str, Any]]) -> list[str]:
    out = []
    seen = set()
    for a in top:
        if str(a.severity) in ("critical", "high") and a.recommendation and a.recommendation not in seen:
            seen.add(a.recommendation)
            out.append(a.recommendation)
        if len(out) >= 4:
            break
    respond = job.settings.respond
    if respond.mode != "enforce" and alerts["by_severity"]["critical"] + alerts["by_severity"]["high"]:
        out.append("Automatic blocking runs in dry-run (decisions are recorded, the firewall is not changed): "
                   "switch [respond] mode to \"enforce\" once the recorded decisions look right.")
    silent = [s["name"] for s in inputs if s["stale"]]
    if silent:
        out.append(f"{len(silent)} input(s) sent nothing for a day ({', '.join(silent[:3])}): check that logging "
                   "to NetWarden still works, or remove them.")
    if sum(quarantine.values()):
        out.append(f"{sum(quarantine.values()):,} input lines could not be read: `netwarden quarantine` shows why "
                   "(often a device that changed its log format).")
    if not job.settings.notify.smtp.host:
        out.append("No e-mail server is configured: set [notify.smtp] so that serious alerts reach someone at once.")
    return out or ["Nothing needs action this week."]


@report_kind
def context(job: Job) -> dict[str, Any]:
    conn, period = job.conn, job.period
    before = period.previous()
    traffic, old_traffic = data.traffic(conn, period), data.traffic(conn, before)
    alerts, old_alerts = data.alert_counts(conn, period), data.alert_counts(conn, before)
    blocked, old_blocked = data.blocks_in(conn, period), data.blocks_in(conn, before)
    incidents, old_incidents = data.incidents_in(conn, period), data.incidents_in(conn, before)
    quarantine, old_quarantine = data.quarantine_counts(conn, period), data.quarantine_counts(conn, before)
    top = data.top_alerts(conn, period, limit=200)
    inputs = data.inputs_health(conn, period)

    def serious(c: dict[str, Any]) -> int:
        return c["by_severity"]["critical"] + c["by_severity"]["high"]

    figures = [("events", traffic["protocols"]["total"], old_traffic["protocols"]["total"]),
               ("alerts", alerts["total"], old_alerts["total"]),
               ("high or critical alerts", serious(alerts), serious(old_alerts)),
               ("blocks", len(blocked), len(old_blocked)),
               ("incidents", len(incidents), len(old_incidents)),
               ("unreadable input lines", sum(quarantine.values()), sum(old_quarantine.values()))]
    times, counts = volume_series(traffic, period)
    _, old_counts = volume_series(old_traffic, before)
    return {
        "trends": [{"label": label, "now": now, "before": was, "change": data.change(now, was)}
                   for label, now, was in figures],
        "alerts": alerts, "previous_alerts": old_alerts,
        "risks": _risks(alerts, top, blocked), "blocked": blocked,
        "repeat_offenders": data.repeat_offenders(blocked),
        "recommendations": _recommendations(job, alerts, top, quarantine, inputs),
        "charts": {
            "volume": charts.line([period.local(t) for t in times], counts, label="events",
                                  previous=old_counts if len(old_counts) == len(counts) else None),
            "kinds": charts.bars([k["kind"] for k in alerts["by_kind"]], [k["alerts"] for k in alerts["by_kind"]],
                                 xlabel="alerts"),
        },
    }
