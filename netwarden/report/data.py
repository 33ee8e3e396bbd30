"""The figures reports show, read from the store for one period. Report kinds combine these; every figure
comes from one query here, so the tests can check a PDF against the same database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from sqlalchemy import Connection, func, select

from netwarden.records import Severity
from netwarden.store import analysis
from netwarden.store.alerts import AlertFilter, row_to_alert
from netwarden.store.schema import alerts, incidents, ingest_sources, quarantine
from netwarden.store.schema_respond import blocks

SEVERITIES = [str(s) for s in sorted(Severity, key=lambda s: -s.rank)]  # critical first
STALE_AFTER = timedelta(hours=24)  # an input silent this long is shown as a problem


@dataclass(frozen=True)
class Period:
    """A half-open time range [since, until) and the site's zone it is shown in."""

    since: datetime
    until: datetime
    zone: tzinfo = timezone.utc

    def previous(self) -> Period:
        return Period(self.since - (self.until - self.since), self.since, self.zone)

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.zone)

    @property
    def label(self) -> str:
        a, b = self.local(self.since), self.local(self.until)
        return f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M} ({a.tzname()})"


def traffic(conn: Connection, period: Period, limit: int = 10) -> dict[str, Any]:
    """Events over time, by protocol/port/kind, top sources and destinations (the analysis page's data:
    totals from the per-minute rollups, exact; top lists from at most the newest 500,000 events)."""
    return analysis.overview(conn, analysis.Query(since=period.since, until=period.until, limit=limit))


def _alert_where(period: Period) -> list:
    return AlertFilter(since=period.since, until=period.until).clauses()


def alert_counts(conn: Connection, period: Period) -> dict[str, Any]:
    """Alerts active in the period (seen in it): by severity, by kind, and in total."""
    where = _alert_where(period)
    by_severity = dict(conn.execute(select(alerts.c.severity, func.count()).where(*where)
                                    .group_by(alerts.c.severity)).all())
    by_kind = conn.execute(select(alerts.c.kind, func.count()).where(*where).group_by(alerts.c.kind)
                           .order_by(func.count().desc(), alerts.c.kind)).all()
    return {"total": sum(by_severity.values()), "by_severity": {s: int(by_severity.get(s, 0)) for s in SEVERITIES},
            "by_kind": [{"kind": k, "alerts": int(n)} for k, n in by_kind]}


def top_alerts(conn: Connection, period: Period, limit: int = 15) -> list[Any]:
    """The most serious alerts of the period: severity, then confidence, then count."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    rows = [row_to_alert(r) for r in conn.execute(select(alerts).where(*_alert_where(period)))]
    rows.sort(key=lambda a: (rank.get(str(a.severity), 9), -a.confidence, -a.count))
    return rows[:limit]


def blocks_in(conn: Connection, period: Period) -> list[dict[str, Any]]:
    """Blocks made in the period, newest first, each with how often its network was blocked up to then
    (refused decisions were never in effect: not counted)."""
    real = blocks.c.state != "refused"
    rows = [dict(r._mapping) for r in conn.execute(
        select(blocks).where(blocks.c.created >= period.since, blocks.c.created < period.until, real)
        .order_by(blocks.c.created.desc(), blocks.c.id.desc()))]
    if rows:
        earlier = dict(conn.execute(select(blocks.c.network, func.count()).where(
            blocks.c.network.in_({r["network"] for r in rows}), blocks.c.created < period.until, real)
            .group_by(blocks.c.network)).all())
        for r in rows:
            r["times_blocked"] = int(earlier.get(r["network"], 1))
    return rows


def repeat_offenders(block_rows: list[dict[str, Any]], least: int = 2) -> list[dict[str, Any]]:
    """Networks blocked at least ``least`` times (up to the period's end), most often first."""
    seen: dict[str, dict[str, Any]] = {}
    for r in block_rows:
        if r["times_blocked"] >= least and r["network"] not in seen:
            seen[r["network"]] = {"network": r["network"], "times_blocked": r["times_blocked"],
                                  "last_reason": r["reason"], "last_blocked": r["created"], "level": r["level"]}
    return sorted(seen.values(), key=lambda o: (-o["times_blocked"], o["network"]))


def incidents_in(conn: Connection, period: Period) -> list[dict[str, Any]]:
    stmt = select(incidents).where(incidents.c.last_seen >= period.since, incidents.c.first_seen < period.until) \
        .order_by(incidents.c.last_seen.desc(), incidents.c.id.desc())
    return [dict(r._mapping) for r in conn.execute(stmt)]


def quarantine_counts(conn: Connection, period: Period) -> dict[str, int]:
    rows = conn.execute(select(quarantine.c.reason, func.count()).where(
        quarantine.c.received >= period.since, quarantine.c.received < period.until)
        .group_by(quarantine.c.reason).order_by(func.count().desc())).all()
    return {reason: int(n) for reason, n in rows}


def inputs_health(conn: Connection, period: Period) -> list[dict[str, Any]]:
    """Every input (file or listener) with its totals and whether it has gone quiet."""
    out = []
    for r in conn.execute(select(ingest_sources).order_by(ingest_sources.c.updated.desc())):
        m = dict(r._mapping)
        m["stale"] = m["updated"] < period.until - STALE_AFTER
        m["bad_share"] = m["quarantined"] / m["lines"] if m["lines"] else 0.0
        out.append(m)
    return out


def countries(rows: list[dict[str, Any]], locator: Any) -> list[dict[str, Any]]:
    """Events of the given address rows (top sources) by country, most first."""
    found: dict[str, dict[str, Any]] = {}
    for r in rows:
        place = locator.lookup(r["address"])
        entry = found.setdefault(place.country, {"country": place.country, "name": place.name, "events": 0,
                                                 "addresses": 0})
        entry["events"] += r["events"]
        entry["addresses"] += 1
    return sorted(found.values(), key=lambda c: -c["events"])


def change(now: float, before: float) -> str:
    """The change from ``before`` to ``now`` in words a manager reads: "+25%", "−10%", "new", "unchanged"."""
    if before == now:
        return "unchanged"
    if not before:
        return "new"
    pct = (now - before) / before * 100
    return f"{'+' if pct > 0 else '−'}{abs(pct):.0f}%"
