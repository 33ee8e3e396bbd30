"""Daily operations: what happened on the network in the last day, for the people who run it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from netwarden.report import charts, data
from netwarden.report.kinds import report_kind
from netwarden.report.render import Job

NAME = "daily"
TITLE = "Daily operations report"
DESCRIPTION = "events, alerts by severity and kind, top sources, targets and countries, blocks, incidents, " \
              "quarantine and the health of the inputs"
DEFAULT_SINCE = timedelta(days=1)
TEMPLATE = "daily.html"
VARIABLES = {
    "events": "events stored in the period (from the per-minute rollups)",
    "traffic": "the analysis data of the period: volume.points, protocols (transports, ports, kinds), "
               "talkers.rows, destinations.rows (address, events, bytes), http; *.sampled when the lists "
               "were read from the newest 500,000 events only",
    "alerts": "alert counts: total, by_severity {critical, high, medium, low}, by_kind [{kind, alerts}]",
    "top_alerts": "the most serious alerts (id, kind, subkind, severity, confidence, source, target, count, "
                  "first_seen, last_seen, status, recommendation, evidence)",
    "blocks": "blocks made in the period (network, reason, created, expires, created_by, state, mode, level, "
              "times_blocked)",
    "incidents": "incidents active in the period (id, source, severity, status, kinds, alert_count, summary, "
                 "first_seen, last_seen)",
    "quarantine": "quarantined lines by reason {reason: count}",
    "inputs": "every input (name, format, lines, events, quarantined, updated, stale, bad_share)",
    "countries": "top sources by country (country, name, events, addresses); empty without a geo database",
    "charts": "SVG charts: volume, severity, kinds, sources (embed with |svg_uri)",
}


def volume_series(traffic: dict[str, Any], period: data.Period) -> tuple[list[datetime], list[int]]:
    """Events per bucket over the whole period, empty buckets as 0 (the store lists only buckets with data)."""
    size = traffic["volume"]["bucket_seconds"]
    found = {int(datetime.fromisoformat(p["start"]).timestamp()) // size: p["events"]
             for p in traffic["volume"]["points"]}
    first, last = int(period.since.timestamp()) // size, (int(period.until.timestamp()) - 1) // size
    buckets = range(first, last + 1)
    return [datetime.fromtimestamp(b * size, timezone.utc) for b in buckets], [found.get(b, 0) for b in buckets]


@report_kind
def context(job: Job) -> dict[str, Any]:
    conn, period = job.conn, job.period
    traffic = data.traffic(conn, period)
    alerts = data.alert_counts(conn, period)
    blocks = data.blocks_in(conn, period)
    locator = job.locator()
    talkers = traffic["talkers"]["rows"]
    times, counts = volume_series(traffic, period)
    return {
        "events": traffic["protocols"]["total"], "traffic": traffic, "alerts": alerts,
        "top_alerts": data.top_alerts(conn, period), "blocks": blocks,
        "incidents": data.incidents_in(conn, period), "quarantine": data.quarantine_counts(conn, period),
        "inputs": data.inputs_health(conn, period),
        "countries": data.countries(talkers, locator) if locator else [],
        "charts": {
            "volume": charts.line([period.local(t) for t in times], counts, label="events"),
            "severity": charts.severity_bars(alerts["by_severity"]),
            "kinds": charts.bars([k["kind"] for k in alerts["by_kind"]], [k["alerts"] for k in alerts["by_kind"]],
                                 xlabel="alerts", width=3.2),
            "sources": charts.bars([t["address"] for t in talkers], [t["events"] for t in talkers], xlabel="events"),
        },
    }
