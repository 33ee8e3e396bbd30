"""Every report kind rendered to PDF on demo data (the office simulator through the real pipeline): the
PDF's text (pdftotext) holds the figures the database holds, pdfinfo reads it, its pages turned to PNG
(pdftoppm) are not blank; log text is escaped; administrators' templates replace the built-in ones."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from netwarden.report.data import Period
from netwarden.report.kinds import kinds
from netwarden.report.render import ReportError, generate, render_html
from netwarden.store.schema import alerts, events, incidents, quarantine
from netwarden.store.schema_learn import models
from netwarden.store.schema_respond import blocks
from tests.report.demo import HOSTILE, pdf_text

REPO = Path(__file__).resolve().parents[2]


def count(conn, table, *where) -> int:  # type: ignore[no-untyped-def]
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_every_kind_is_registered_and_documented() -> None:
    doc = (REPO / "docs" / "reports.md").read_text()
    assert set(kinds()) == {"daily", "weekly", "incident", "blocked", "model"}
    for name, kind in kinds().items():
        assert f"`{name}`" in doc
        for variable in kind.VARIABLES:
            assert f"`{variable}`" in doc, (name, variable)


def test_daily_report_figures_equal_the_database(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, settings, period = demo
    with db.engine.connect() as conn:
        report = generate(conn, settings, "daily", period)
        n_events = count(conn, events, events.c.timestamp >= period.since, events.c.timestamp < period.until)
        n_alerts = count(conn, alerts, alerts.c.last_seen >= period.since, alerts.c.first_seen < period.until)
        serious = count(conn, alerts, alerts.c.last_seen >= period.since, alerts.c.severity.in_(["critical", "high"]))
        n_blocks = count(conn, blocks, blocks.c.created >= period.since, blocks.c.state != "refused")
        n_incidents = count(conn, incidents, incidents.c.last_seen >= period.since)
        n_bad = count(conn, quarantine, quarantine.c.received >= period.since)
        kinds_seen = [k for (k,) in conn.execute(select(alerts.c.kind).distinct())]
    assert n_events > 5000 and n_alerts > 3 and n_blocks == 3 and n_bad == 2
    text = pdf_text(report.pdf, tmp_path)
    cards = text.split("Traffic")[0]
    assert "EVENTS ALERTS SERIOUS BLOCKS INCIDENTS QUARANTINED" in cards  # serious: high or critical
    assert f"{n_events:,} {n_alerts:,} {serious:,} {n_blocks:,} {n_incidents:,} {n_bad:,}" in cards
    for kind in kinds_seen:
        assert kind in text
    assert "203.0.113.50" in text and "198.51.100.23" in text
    assert "Town Hall IT" in text and "CET" in text  # the site's zone (Europe/Prague)


def test_every_template_renders_on_demo_data(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, settings, period = demo
    week = Period(period.until - timedelta(days=7), period.until, period.zone)
    with db.engine.connect() as conn:
        newest = conn.execute(select(incidents).order_by(incidents.c.last_seen.desc(), incidents.c.id.desc())).first()
        incident_alerts = [r.id for r in conn.execute(select(alerts.c.id).where(alerts.c.incident_id == newest.id))]
        reports = {kind: generate(conn, settings, kind, week if kind in ("weekly", "blocked") else period)
                   for kind in kinds()}
    texts = {kind: pdf_text(report.pdf, tmp_path) for kind, report in reports.items()}
    for kind, report in reports.items():
        assert report.title.split(":")[0] in texts[kind], kind
    assert "&lt;script&gt;" in reports["daily"].html and "<script>alert" not in reports["daily"].html
    assert "The main risks" in texts["weekly"] and "Recommendations" in texts["weekly"]
    assert "Repeat offenders" in texts["weekly"]
    assert f"Incident #{newest.id}: {newest.source}" in texts["incident"]
    for alert_id in incident_alerts:
        assert f"alert #{alert_id}" in texts["incident"]
    assert "203.0.113.50 2" in texts["blocked"]  # blocked twice: a repeat offender
    with db.engine.connect() as conn:
        metrics = conn.execute(select(models.c.metrics)).scalar_one()
    model = texts["model"]
    assert f"{metrics['precision'] * 100:.1f}%" in model and f"{metrics['roc_auc']:.3f}" in model
    tn, fp = metrics["confusion"]["matrix"][0]
    assert f"normal {tn} {fp}" in model


def test_reports_ask_for_what_they_need(demo) -> None:  # type: ignore[no-untyped-def]
    db, settings, period = demo
    with db.engine.connect() as conn:
        with pytest.raises(ReportError, match="no incident with id 999"):
            render_html(conn, settings, "incident", period, {"incident": 999})
        with pytest.raises(ReportError, match="no model 'nope'"):
            render_html(conn, settings, "model", period, {"model": "nope"})
        with pytest.raises(LookupError, match="no report 'yearly'"):
            render_html(conn, settings, "yearly", period)


def test_an_administrators_template_replaces_the_built_in_one(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, settings, period = demo
    folder = tmp_path / "mine"
    folder.mkdir()
    builtin = (REPO / "netwarden" / "report" / "templates" / "daily.html").read_text()
    (folder / "daily.html").write_text(builtin.replace("<h2>Traffic</h2>", "<h2>Our own traffic heading</h2>"))
    custom = settings.model_copy(deep=True)
    custom.report.templates_dir = str(folder)
    with db.engine.connect() as conn:
        html = render_html(conn, custom, "daily", period).html
    assert "Our own traffic heading" in html and HOSTILE not in html


def test_resources_come_from_the_template_folders_only(tmp_path: Path) -> None:
    from netwarden.report.render import BUILTIN, _fetcher

    fetch = _fetcher([BUILTIN])
    for url in ("http://127.0.0.1:9/x.png", "https://example.org/x.css", "file:///etc/passwd"):
        with pytest.raises(ValueError):
            fetch(url)
