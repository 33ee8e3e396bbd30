"""Incident report: one incident's timeline, the evidence with the matched text, and the actions taken."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select

from netwarden.report.kinds import report_kind
from netwarden.report.render import Job, ReportError
from netwarden.store.alerts import row_to_alert
from netwarden.store.incidents import get_incident, timeline
from netwarden.store.schema import alerts, incidents
from netwarden.store.schema_respond import blocks

NAME = "incident"
TITLE = "Incident report"
DESCRIPTION = "one incident (--incident ID; default: the latest of the period): timeline, evidence, actions"
DEFAULT_SINCE = timedelta(days=7)
TEMPLATE = "incident.html"
VARIABLES = {
    "incident": "the incident: id, source, severity, status, kinds, alert_count, summary, first_seen, last_seen",
    "timeline": "its alerts and its source's events, oldest first: {type: alert|event, time, ...}",
    "events_cut": "true when only the first 200 events are in the timeline",
    "alerts": "its alerts (id, kind, subkind, severity, confidence, factors, evidence, recommendation, status ...)",
    "evidence": "per alert: {alert, text} — the evidence (matched text, counts, samples) as readable text",
    "actions": "blocks of its source or its alerts (network, reason, created, expires, created_by, state, mode)",
}


def _pick(job: Job) -> dict[str, Any]:
    wanted = job.options.get("incident")
    if wanted:
        found = get_incident(job.conn, int(wanted))
        if found is None:
            raise ReportError(f"no incident with id {wanted}")
        return found
    row = job.conn.execute(select(incidents.c.id).where(incidents.c.last_seen >= job.period.since,
                                                        incidents.c.first_seen < job.period.until)
                           .order_by(incidents.c.last_seen.desc(), incidents.c.id.desc()).limit(1)).first()
    if row is None:
        raise ReportError("no incident in this period: give one with --incident ID")
    found = get_incident(job.conn, row.id)
    if found is None:  # deleted by retention between the two reads
        raise ReportError(f"no incident with id {row.id}")
    return found


@report_kind
def context(job: Job) -> dict[str, Any]:
    incident = _pick(job)
    items, cut = timeline(job.conn, incident)
    found = [row_to_alert(r) for r in job.conn.execute(
        select(alerts).where(alerts.c.incident_id == incident["id"]).order_by(alerts.c.first_seen))]
    ids = [a.id for a in found]
    acted = job.conn.execute(select(blocks).where(or_(blocks.c.network == incident["source"],
                                                      blocks.c.alert_id.in_(ids or [-1])))
                             .order_by(blocks.c.created)).all()
    return {
        "title": f"Incident #{incident['id']}: {incident['source']}",
        "incident": incident, "timeline": items, "events_cut": cut, "alerts": found,
        "evidence": [{"alert": a, "text": json.dumps(a.evidence, indent=1, ensure_ascii=False, default=str)}
                     for a in found if a.evidence],
        "actions": [dict(r._mapping) for r in acted],
    }
