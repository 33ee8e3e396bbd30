"""Scheduled reports: cron expressions read in the site's zone, run by ``netwarden serve``, e-mailed as PDF.

Daylight saving: the cron expression is matched against the site's wall clock. A time that does not exist
(02:30 on the night clocks go forward) runs at the same moment an hour later on the wall clock (03:30), as
cron does; a time that happens twice (02:30 on the night they go back) runs once, at the first.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from croniter import croniter

from netwarden.report import archive
from netwarden.report.data import Period
from netwarden.report.kinds import get_kind
from netwarden.report.render import generate

log = logging.getLogger(__name__)
_SINCE = re.compile(r"^(\d{1,4})\s*([hdw])$")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


class ScheduleError(ValueError):
    pass


def check_cron(expression: str) -> str:
    expression = " ".join(expression.split())
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ScheduleError(f"cron: {expression!r} is not 'minute hour day month weekday' (e.g. \"0 7 * * MON\")")
    return expression


def check_emails(addresses: list[str]) -> list[str]:
    for a in addresses:
        if not _EMAIL.match(a):
            raise ScheduleError(f"email: {a!r} is not an address")
    return addresses


def parse_since(text: str) -> timedelta:
    m = _SINCE.match(text.strip())
    if not m:
        raise ScheduleError(f"since: {text!r} is not a period like 12h, 1d or 2w")
    return timedelta(**{{"h": "hours", "d": "days", "w": "weeks"}[m.group(2)]: int(m.group(1))})


def next_run(expression: str, zone: tzinfo, after: datetime) -> datetime:
    """The first time after ``after`` (UTC) at which the site's wall clock matches ``expression``."""
    local = after.astimezone(zone).replace(tzinfo=None)
    times = croniter(expression, local)
    for _ in range(1000):  # a few iterations at most: only a DST fold can give a time not after ``after``
        wall = times.get_next(datetime)
        when = wall.replace(tzinfo=zone).astimezone(timezone.utc)  # fold=0: the first of twice, the gap's start
        if when > after:
            return when
    raise ScheduleError(f"cron: {expression!r} gives no future time")


def period_for(kind_name: str, since: str, end: datetime, zone: tzinfo) -> Period:
    length = parse_since(since) if since else get_kind(kind_name).DEFAULT_SINCE
    return Period(end - length, end, zone)


def report_email(smtp: Any, recipients: list[str], title: str, period: Period, pdf: bytes, filename: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[NetWarden] {title}"
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="netwarden")
    msg.set_content(f"{title}\n{period.label}\n\nThe report is attached as a PDF.\n-- NetWarden")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return msg


class ReportScheduler:
    """Runs the due schedules: ``run_due()`` once (tests drive it with their own clock), or ``start()`` a
    thread that checks every ``[report] check_seconds``."""

    def __init__(self, db: Any, settings: Any, *, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_due(self) -> list[int]:
        """Generate, archive and e-mail every due report; returns the archive ids made."""
        from netwarden.notify.channels import DeliveryError, deliver

        now = self.clock()
        zone = self.settings.site_tz()
        made = []
        with self.db.engine.connect() as conn:
            todo = archive.due(conn, now)
        for s in todo:
            error = ""
            try:
                with self.db.engine.connect() as conn:
                    report = generate(conn, self.settings, s["kind"], period_for(s["kind"], s["since"], now, zone),
                                      s["options"], now=now)
                with self.db.engine.begin() as conn:
                    made.append(archive.save(conn, report, by="schedule", schedule_id=s["id"]))
                if s["emails"]:
                    smtp = self.settings.notify.smtp
                    if not smtp.host:
                        raise DeliveryError("no e-mail server: set [notify.smtp] host")
                    name = f"netwarden-{report.kind}-{now.astimezone(zone):%Y%m%d-%H%M}.pdf"
                    deliver(smtp, report_email(smtp, s["emails"], report.title, report.period, report.pdf, name))
            except Exception as exc:  # one bad schedule must not stop the others; the error is kept
                error = f"{type(exc).__name__}: {exc}"
                log.warning("report schedule #%s: %s", s["id"], error)
            with self.db.engine.begin() as conn:
                archive.mark_run(conn, s["id"], ran=now, next_run=next_run(s["cron"], zone, now), error=error)
        return made

    def start(self) -> ReportScheduler:
        self._thread = threading.Thread(target=self._loop, name="report-scheduler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.report.check_seconds):
            try:
                self.run_due()
            except Exception:  # the database may be away for a moment; try again next time
                log.exception("report scheduler")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None
