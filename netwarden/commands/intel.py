"""``netwarden intel``: the threat-intelligence feeds — what is loaded, and who lists an address."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.terminal import fail, out, plain_table, safe
from netwarden.text import plural

if TYPE_CHECKING:
    from netwarden.enrich.intel import IntelIndex

_FEED_OPTION = click.option("--feed", "feeds", multiple=True, metavar="PATH",
                            help="Feed file (repeatable); default: the [intel] feeds setting.")


def _index(obj: Context, feeds: tuple[str, ...]) -> IntelIndex:
    from netwarden.enrich.feed_fetch import feed_paths
    from netwarden.enrich.intel import IntelIndex

    settings = obj.settings.intel
    return IntelIndex(list(feeds) or feed_paths(settings), min_score=settings.min_score,
                      flag_private=settings.flag_private, reload_every=settings.reload_every)


def _print_feeds(index: IntelIndex) -> int:
    table = plain_table()
    for column in ("feed", "entries", "networks", "IPv4 addresses", "below min", "bad lines", "loaded", "path"):
        table.add_column(column, justify="right" if column in ("entries", "networks", "IPv4 addresses", "below min",
                                                               "bad lines") else "left")
    problems = 0
    for status in index.status.values():
        table.add_row(safe(status.name), f"{status.entries:,}", f"{status.networks:,}", f"{status.addresses:,}",
                      f"{status.skipped:,}", f"{status.errors:,}",
                      status.loaded_at.strftime("%Y-%m-%d %H:%M:%S") if status.loaded_at else "-", safe(status.path))
    out.print(table)
    for status in index.status.values():
        if status.problem:
            problems += 1
            out.print(f"  {safe(status.name)}: {safe(status.problem)}")
        for example in status.error_examples[:5]:
            out.print(f"  {safe(status.name)}: {safe(example)}")
        if status.errors > 5:
            out.print(f"  {safe(status.name)}: ... {status.errors - 5:,} more bad lines")
    out.print(f"{plural(len(index.status), 'feed')}, {plural(index.entries, 'entry', 'entries')}, "
              f"{plural(index.intervals, 'interval')} in the lookup table, {plural(index.errors, 'bad line')}")
    return problems


@click.group()
def intel() -> None:
    """Threat-intelligence feeds: list them, check addresses, validate files."""


@intel.command()
@click.pass_obj
def refresh(obj: Context) -> None:
    """Download the feeds given by URL now (exit status 1 when one failed; the last copy stays in use)."""
    from netwarden.enrich.feed_fetch import FeedRefresher

    results = FeedRefresher(obj.settings.intel).refresh()
    if not results:
        out.print("no feed is given by URL ([intel] feeds)")
    failed = 0
    for r in results:
        if r["last_error"]:
            failed += 1
            out.print(f"{safe(r['url'])}: failed: {safe(r['last_error'])}")
        else:
            out.print(f"{safe(r['url'])}: {r['bytes']:,} bytes at {r['last_update']}")
    if failed:
        raise SystemExit(1)


@intel.command("list")
@_FEED_OPTION
@click.pass_obj
def list_feeds(obj: Context, feeds: tuple[str, ...]) -> None:
    """The configured feeds: entries, networks, when loaded, bad lines."""
    _print_feeds(_index(obj, feeds))


@intel.command()
@click.argument("addresses", nargs=-1, required=True, metavar="ADDRESS...")
@_FEED_OPTION
@click.pass_obj
def check(obj: Context, addresses: tuple[str, ...], feeds: tuple[str, ...]) -> None:
    """Which feeds list each address (exit status 1 when none is listed)."""
    from netwarden.enrich.intel import not_flagged

    index = _index(obj, feeds)
    listed = 0
    for address in addresses:
        try:
            match = index.check(address)
        except ValueError as exc:
            fail(str(exc), 2)
        if match is None:
            out.print(f"{safe(address)}: not listed")
            continue
        note = ""
        if not index.flag_private and not_flagged(address):
            note = " — private/reserved address: listed (bogons) but never flagged"
        else:
            listed += 1
        out.print(f"{safe(address)}: {safe(match.describe())}{note}")
        for entry in match.listings:
            extra = "".join((f" score {entry.score:g}" if entry.score is not None else "",
                             f" {entry.category}" if entry.category else ""))
            out.print(f"  {safe(entry.feed)}: {safe(entry.network)}{safe(extra)}")
    raise SystemExit(0 if listed else 1)


@intel.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.pass_obj
def load(obj: Context, paths: tuple[str, ...]) -> None:
    """Validate feed files and report what they hold (exit status 1 if one cannot be read or has no entries)."""
    from netwarden.enrich.intel import IntelIndex

    settings = obj.settings.intel
    index = IntelIndex(paths, min_score=settings.min_score, flag_private=settings.flag_private)
    problems = _print_feeds(index)
    empty = sum(1 for s in index.status.values() if not s.entries and not s.problem)
    raise SystemExit(1 if problems or empty else 0)
