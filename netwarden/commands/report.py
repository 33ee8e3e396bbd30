"""``netwarden report generate|list|schedule|template``: PDF reports, their archive and schedules."""

from __future__ import annotations

import getpass
import shutil
from datetime import datetime, timezone
from pathlib import Path

import click
from rich.text import Text

from netwarden.commands.shared.context import Context, parse_when
from netwarden.commands.shared.terminal import answered_without_table, fail, out, plain_table, safe


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@click.group("report")
def report_group() -> None:
    """PDF reports: generate one, list the kinds and the archive, schedule them (e-mailed by `serve`)."""


@report_group.command("generate")
@click.argument("kind")
@click.option("--since", metavar="WHEN", help="Start of the period (1d, 7d, or ISO time; default: the kind's).")
@click.option("--until", metavar="WHEN", help="End of the period (default: now).")
@click.option("--incident", type=click.IntRange(1, 2**63 - 1), help="incident: which one (default: the latest).")
@click.option("--model", metavar="NAME[:VERSION]", help="model: which one (default: the newest active).")
@click.option("-o", "--output", metavar="FILE", help="Write the PDF here (default: KIND-DATE.pdf).")
@click.option("--html", "as_html", is_flag=True, help="Write the HTML instead of the PDF (to check a template).")
@click.option("--no-archive", is_flag=True, help="Do not keep a copy in the archive.")
@click.pass_obj
def generate_command(obj: Context, kind: str, since: str | None, until: str | None, incident: int | None,
                     model: str | None, output: str | None, as_html: bool, no_archive: bool) -> None:
    """Generate a report now: daily, weekly, incident, blocked, model (`netwarden report list`)."""
    from netwarden.report import archive
    from netwarden.report.data import Period
    from netwarden.report.kinds import UnknownReport, get_kind
    from netwarden.report.render import ReportError, render_html, to_pdf

    try:
        kind_module = get_kind(kind)
    except UnknownReport as exc:
        fail(str(exc), 2)
    settings = obj.settings
    end = parse_when(until, settings) if until else datetime.now(timezone.utc)
    start = parse_when(since, settings) if since else end - kind_module.DEFAULT_SINCE
    if start >= end:
        fail("--since must be before --until", 2)
    options = {k: v for k, v in (("incident", incident), ("model", model)) if v}
    db = obj.database()
    try:
        with db.engine.connect() as conn:
            report = render_html(conn, settings, kind, Period(start, end, settings.site_tz()), options)
        target = Path(output or f"{kind}-{end.astimezone(settings.site_tz()):%Y%m%d-%H%M}.{'html' if as_html else 'pdf'}")
        if as_html:
            target.write_text(report.html, encoding="utf-8")
        else:
            to_pdf(report, settings)
            target.write_bytes(report.pdf)
            if not no_archive:
                with db.engine.begin() as conn:
                    archived = archive.save(conn, report, by=_user())
                out.print(Text(f"archived as #{archived}", style="dim"))
    except ReportError as exc:
        fail(str(exc), 1)
    except OSError as exc:
        fail(f"{output}: {exc.strerror}", 1)
    finally:
        db.close()
    out.print(Text(f"{safe(report.title)}: {target} ({target.stat().st_size:,} bytes)"))


@report_group.command("list")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_obj
def list_command(obj: Context, limit: int) -> None:
    """The report kinds, and the archive of generated reports (newest first)."""
    from netwarden.report import archive
    from netwarden.report.kinds import kinds

    for name, k in kinds().items():
        out.print(Text.assemble((f"{name:<10}", "bold cyan"), f"{k.DESCRIPTION}"))
    rows = obj.in_database(lambda conn: archive.listing(conn, limit))
    out.print()
    if answered_without_table(rows, False, dict, "the archive is empty (`netwarden report generate daily`)"):
        return
    zone = obj.settings.site_tz()
    table = plain_table()
    for column in ("id", "created", "kind", "period", "by", "size", "title"):
        table.add_column(column, no_wrap=column != "title")
    for r in rows:
        table.add_row(str(r["id"]), f"{r['created'].astimezone(zone):%Y-%m-%d %H:%M}", r["kind"],
                      f"{r['period_start'].astimezone(zone):%m-%d %H:%M} – {r['period_end'].astimezone(zone):%m-%d %H:%M}",
                      Text(safe(r["created_by"])), f"{r['size']:,}", Text(safe(r["title"])))
    out.print(table)


@report_group.group("schedule")
def schedule_group() -> None:
    """Reports that `netwarden serve` generates at set times (site's zone) and e-mails as PDF."""


@schedule_group.command("add")
@click.argument("kind")
@click.option("--cron", required=True, metavar="EXPR", help='minute hour day month weekday, e.g. "0 7 * * MON".')
@click.option("--email", "emails", multiple=True, metavar="ADDRESS", help="Send it here (repeat for more).")
@click.option("--since", default="", metavar="PERIOD", help="The period before each run: 12h, 1d, 2w "
              "(default: the kind's).")
@click.option("--incident", type=click.IntRange(1, 2**63 - 1))
@click.option("--model", metavar="NAME[:VERSION]")
@click.pass_obj
def schedule_add(obj: Context, kind: str, cron: str, emails: tuple[str, ...], since: str, incident: int | None,
                 model: str | None) -> None:
    """Schedule a report."""
    from netwarden.report import archive
    from netwarden.report.kinds import UnknownReport, get_kind
    from netwarden.report.schedule import ScheduleError, check_cron, check_emails, next_run, parse_since

    try:
        get_kind(kind)
        expression = check_cron(cron)
        check_emails(list(emails))
        if since:
            parse_since(since)
    except (UnknownReport, ScheduleError) as exc:
        fail(str(exc), 2)
    zone = obj.settings.site_tz()
    first = next_run(expression, zone, datetime.now(timezone.utc))
    options = {k: v for k, v in (("incident", incident), ("model", model)) if v}
    new = obj.in_database(lambda conn: archive.add_schedule(
        conn, kind=kind, cron=expression, since=since, emails=list(emails), options=options, by=_user(),
        next_run=first), write=True)
    out.print(Text(f"schedule #{new}: {kind} at \"{expression}\" ({zone}); first run "
                   f"{first.astimezone(zone):%Y-%m-%d %H:%M %Z}" + (f", to {', '.join(emails)}" if emails else "")))
    if emails and not obj.settings.notify.smtp.host:
        out.print(Text("note: no e-mail server is set ([notify.smtp] host); the report will only be archived",
                       style="yellow"))


@schedule_group.command("list")
@click.pass_obj
def schedule_list(obj: Context) -> None:
    """The schedules, with their next run and the last error."""
    from netwarden.report import archive

    rows = obj.in_database(archive.schedules)
    if answered_without_table(rows, False, dict,
                              "no schedules (`netwarden report schedule add weekly --cron \"0 7 * * MON\" --email ...`)"):
        return
    zone = obj.settings.site_tz()
    table = plain_table()
    for column in ("id", "kind", "cron", "period", "next run", "last run", "e-mail", "last error"):
        table.add_column(column, no_wrap=column not in ("e-mail", "last error"))
    for r in rows:
        table.add_row(str(r["id"]), r["kind"], r["cron"], r["since"] or "default",
                      f"{r['next_run'].astimezone(zone):%Y-%m-%d %H:%M %Z}",
                      f"{r['last_run'].astimezone(zone):%Y-%m-%d %H:%M}" if r["last_run"] else "-",
                      Text(safe(", ".join(r["emails"]) or "-")), Text(safe(r["last_error"] or "")))
    out.print(table)


@schedule_group.command("remove")
@click.argument("schedule_id", type=click.IntRange(1, 2**63 - 1))
@click.pass_obj
def schedule_remove(obj: Context, schedule_id: int) -> None:
    """Remove a schedule (its archived reports stay)."""
    from netwarden.report import archive

    gone = obj.in_database(lambda conn: archive.remove_schedule(conn, schedule_id), write=True)
    if not gone:
        fail(f"no schedule #{schedule_id}", 1)
    out.print(f"schedule #{schedule_id} removed")


@report_group.group("template")
def template_group() -> None:
    """The report templates, to copy and edit ([report] templates_dir)."""


@template_group.command("copy")
@click.argument("kind")
@click.argument("folder", required=False)
@click.pass_obj
def template_copy(obj: Context, kind: str, folder: str | None) -> None:
    """Copy a kind's built-in template (and the shared base.html, _macros.html) into FOLDER (default: the
    templates_dir setting) to edit it; files already there are kept."""
    from netwarden.report.kinds import UnknownReport, get_kind
    from netwarden.report.render import BUILTIN

    try:
        template = get_kind(kind).TEMPLATE
    except UnknownReport as exc:
        fail(str(exc), 2)
    target = Path(folder or obj.settings.report.templates_dir or "")
    if not str(target) or str(target) == ".":
        fail("give a FOLDER or set [report] templates_dir", 2)
    target.mkdir(parents=True, exist_ok=True)
    for name in (template, "base.html", "_macros.html"):
        if (target / name).exists():
            out.print(f"kept {target / name} (already there)")
        else:
            shutil.copyfile(BUILTIN / name, target / name)
            out.print(f"copied {target / name}")
    if Path(obj.settings.report.templates_dir or "/nonexistent").resolve() != target.resolve():
        out.print(Text(f'set [report] templates_dir = "{target.resolve()}" for NetWarden to use them', style="yellow"))
