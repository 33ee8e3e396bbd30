"""Blocked addresses: who was blocked, why, when, until when, and the repeat offenders."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from netwarden.report import charts, data
from netwarden.report.kinds import report_kind
from netwarden.report.render import Job

NAME = "blocked"
TITLE = "Blocked addresses"
DESCRIPTION = "who was blocked, why, when, until when; repeat offenders"
DEFAULT_SINCE = timedelta(days=7)
TEMPLATE = "blocked.html"
VARIABLES = {
    "blocks": "blocks made in the period (network, reason, alert_id, created, expires, created_by, state, mode, "
              "level, times_blocked)",
    "by_state": "{state: count}",
    "by_who": "{created_by: count} (auto = the responder)",
    "repeat_offenders": "networks blocked more than once (network, times_blocked, last_reason, last_blocked, level)",
    "still_active": "how many of them are still blocked",
    "charts": "SVG: per_day (blocks per day)",
}


@report_kind
def context(job: Job) -> dict[str, Any]:
    rows = data.blocks_in(job.conn, job.period)
    days: Counter = Counter(job.period.local(r["created"]).date() for r in rows)
    start = job.period.local(job.period.since).date()
    end = job.period.local(job.period.until).date()
    span = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return {
        "blocks": rows, "by_state": dict(Counter(r["state"] for r in rows).most_common()),
        "by_who": dict(Counter(r["created_by"] for r in rows).most_common()),
        "repeat_offenders": data.repeat_offenders(rows),
        "still_active": sum(1 for r in rows if r["state"] == "active"),
        "charts": {"per_day": charts.bars([d.isoformat() for d in span], [days.get(d, 0) for d in span],
                                          xlabel="blocks")},
    }
