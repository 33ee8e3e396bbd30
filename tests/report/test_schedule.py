"""Scheduled reports: cron read in the site's zone across daylight-saving changes, run at their time by a
controllable clock, archived, and e-mailed as a PDF to a real SMTP server (aiosmtpd); the CLI commands."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.report import archive
from netwarden.report.schedule import ReportScheduler, ScheduleError, check_cron, next_run
from netwarden.store.database import Database
from tests.notify.conftest import PASSWORD, USER
from tests.report.demo import demo_settings, demo_start, fill_demo

PRAGUE = ZoneInfo("Europe/Prague")
UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_daily_time_across_both_daylight_saving_changes() -> None:
    # 2027-03-28: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist: it runs at 03:30 CEST (01:30 UTC)
    assert next_run("30 2 * * *", PRAGUE, utc(2027, 3, 27, 12)) == utc(2027, 3, 28, 1, 30)
    assert next_run("30 2 * * *", PRAGUE, utc(2027, 3, 28, 1, 30)) == utc(2027, 3, 29, 0, 30)  # 02:30 CEST
    # 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice: it runs once, at the first
    first = next_run("30 2 * * *", PRAGUE, utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)
    assert next_run("30 2 * * *", PRAGUE, first) == utc(2026, 10, 26, 1, 30)  # not again at 01:30 UTC that day
    # Monday 07:00 on the wall clock stays 07:00: 06:00 UTC in winter, 05:00 UTC in summer
    assert next_run("0 7 * * MON", PRAGUE, utc(2027, 3, 20)) == utc(2027, 3, 22, 6)
    assert next_run("0 7 * * MON", PRAGUE, utc(2027, 3, 23)) == utc(2027, 3, 29, 5)


def test_bad_cron_expressions_are_refused() -> None:
    for bad in ("", "* * *", "61 * * * *", "0 7 * * FUNDAY", "0 7 * * MON *"):
        with pytest.raises(ScheduleError):
            check_cron(bad)
    assert check_cron(" 0  7 * * MON ") == "0 7 * * MON"


def test_a_schedule_fires_at_its_time_and_the_pdf_arrives_by_email(tmp_path, smtp_starttls) -> None:  # type: ignore[no-untyped-def]
    controller, mailbox, cert = smtp_starttls
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    settings = demo_settings()
    start = demo_start()
    fill_demo(db, settings, start)
    smtp = settings.notify.smtp
    smtp.host, smtp.port, smtp.username, smtp.password = "127.0.0.1", controller.port, USER, PASSWORD
    smtp.ca_file, smtp.sender = str(cert), "netwarden@example.org"
    # a weekly report at Monday 07:00 Prague time; the clock starts on the Sunday before a DST change
    clock = [utc(2027, 3, 28, 0, 0)]
    with db.engine.begin() as conn:
        first = next_run("0 7 * * MON", PRAGUE, clock[0])
        sid = archive.add_schedule(conn, kind="daily", cron="0 7 * * MON", since="2d", emails=["boss@example.org"],
                                   options={}, by="admin", next_run=first)
    assert first == utc(2027, 3, 29, 5)  # 07:00 CEST
    scheduler = ReportScheduler(db, settings, clock=lambda: clock[0])
    clock[0] = utc(2027, 3, 29, 4, 59)
    assert scheduler.run_due() == []  # a minute early: nothing
    assert mailbox.messages == []
    clock[0] = utc(2027, 3, 29, 5, 0, 20)
    made = scheduler.run_due()
    assert len(made) == 1
    assert scheduler.run_due() == []  # not twice
    [message] = mailbox.wait(1)
    assert message["To"] == "boss@example.org" and "Daily operations report" in message["Subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF")
    with db.engine.connect() as conn:
        stored = archive.get(conn, made[0])
        [schedule] = archive.schedules(conn)
    assert stored["pdf"] == pdf and stored["schedule_id"] == sid and stored["created_by"] == "schedule"
    assert stored["period_end"] - stored["period_start"] == timedelta(days=2)
    assert schedule["last_error"] == "" and schedule["next_run"] == utc(2027, 4, 5, 5)
    db.close()


def test_a_failing_delivery_is_recorded_and_the_next_run_still_planned(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database.open(f"sqlite:///{tmp_path / 'nw.db'}")
    settings = demo_settings()
    settings.notify.smtp.host, settings.notify.smtp.port = "127.0.0.1", 9  # nothing listens there
    settings.notify.smtp.timeout = 2
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        archive.add_schedule(conn, kind="blocked", cron="0 * * * *", since="", emails=["a@example.org"], options={},
                             by="admin", next_run=now - timedelta(minutes=1))
    assert len(ReportScheduler(db, settings, clock=lambda: now).run_due()) == 1  # archived all the same
    with db.engine.connect() as conn:
        [schedule] = archive.schedules(conn)
    assert "DeliveryError" in schedule["last_error"] and schedule["next_run"] > now
    db.close()


def run(db_url: str, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_report_cli(db: Database, db_url: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NETWARDEN_REPORT_TIMEZONE", "Europe/Prague")
    target = tmp_path / "daily.pdf"
    said = run(db_url, "report", "generate", "daily", "--since", "1d", "-o", str(target))
    assert target.read_bytes().startswith(b"%PDF") and "archived as #1" in said
    listed = run(db_url, "report", "list")
    assert "weekly" in listed and "model" in listed and "Daily operations report" in listed
    assert "no report 'yearly'" in run(db_url, "report", "generate", "yearly", code=2)
    assert "no model has been trained" in run(db_url, "report", "generate", "model", "-o", str(tmp_path / "m.pdf"),
                                              code=1)
    added = run(db_url, "report", "schedule", "add", "weekly", "--cron", "0 7 * * MON", "--email", "boss@example.org")
    assert "schedule #1: weekly" in added and "Europe/Prague" in added
    assert "not 'minute hour" in run(db_url, "report", "schedule", "add", "weekly", "--cron", "7 * *", code=2)
    assert "not an address" in run(db_url, "report", "schedule", "add", "weekly", "--cron", "0 7 * * MON",
                                   "--email", "boss", code=2)
    listed = run(db_url, "report", "schedule", "list")
    assert "0 7 * * MON" in listed and "boss@example.org" in listed and "07:00" in listed
    assert "removed" in run(db_url, "report", "schedule", "remove", "1")
    assert "no schedule #1" in run(db_url, "report", "schedule", "remove", "1", code=1)
    assert "no schedules" in run(db_url, "report", "schedule", "list")
    copied = run(db_url, "report", "template", "copy", "weekly", str(tmp_path / "tpl"))
    assert (tmp_path / "tpl" / "weekly.html").exists() and (tmp_path / "tpl" / "base.html").exists() and copied
