"""``netwarden block add|remove|list|sync``: blocks by hand, and the record of every block."""

from __future__ import annotations

import getpass
from itertools import islice
from typing import TYPE_CHECKING

import click
from rich.text import Text

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.csv_output import csv_options, write_csv
from netwarden.commands.shared.terminal import answered_without_table, fail, list_table, out, safe

if TYPE_CHECKING:
    from netwarden.respond.responder import Responder
    from netwarden.store.database import Database


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _responder(obj: Context) -> tuple[Database, Responder]:
    from netwarden.respond.responder import Responder

    db = obj.database()
    responder = Responder.from_settings(db, obj.settings)
    responder.sweep()  # what ran out is marked expired before anything else is decided
    return db, responder


def _finish(db: Database, responder: Responder) -> None:
    if not responder.flush(60):
        out.print("warning: the firewall did not answer within 60 s; see the log")
    responder.close()
    db.close()


@click.group("block")
def block_group() -> None:
    """Block addresses by hand, unblock them, and list every block (automatic or manual)."""


@block_group.command("add")
@click.argument("address", required=False, metavar="[ADDRESS|NETWORK]")
@click.option("--alert", "alert_id", type=int, metavar="ID", help="Block the source of this alert.")
@click.option("--for", "duration", metavar="DURATION", help="How long: 10m, 1h, 1d (default: the escalation steps).")
@click.option("--permanent", is_flag=True, help="Until removed by hand.")
@click.option("--reason", default="", help="Why (kept with the block).")
@click.option("--by", "by", default=None, help="Who decides (default: cli:<login name>).")
@click.option("--force", is_flag=True, help="Confirm a network wider than /24 (IPv4) or /48 (IPv6).")
@click.pass_obj
def add(obj: Context, address: str | None, alert_id: int | None, duration: str | None, permanent: bool,
        reason: str, by: str | None, force: bool) -> None:
    """Block an address or network, or the source of an alert (--alert ID).

    The never-block list is checked first; IPv6 addresses are blocked by their prefix (/64 by default).
    A network wider than /24 (IPv4) or /48 (IPv6) needs --force. An active block that lasts longer than
    the one asked for is kept (and said so).
    """
    from netwarden.durations import parse_duration
    from netwarden.networks import AddressError
    from netwarden.respond.refusals import BlockRefused, LongerBlockKept, WideBlockNeedsForce
    from netwarden.store.alerts import get_alert
    from netwarden.store.blocks import BlockState, get_block

    if (address is None) == (alert_id is None):
        raise click.UsageError("give an ADDRESS or --alert ID (one of them)")
    if duration and permanent:
        raise click.UsageError("--for and --permanent exclude each other")
    try:
        length = parse_duration(duration) if duration else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--for") from None
    db, responder = _responder(obj)
    try:
        if alert_id is not None:
            with db.engine.connect() as conn:
                alert = get_alert(conn, alert_id)
            if alert is None or not alert.source:
                fail(f"no alert with id {alert_id}" if alert is None else f"alert #{alert_id} has no source address")
            address = alert.source
            reason = reason or f"manual block from {alert.kind} alert #{alert_id} (confidence {alert.confidence:.2f})"
        block = responder.block(address or "", reason=reason or "manual block", by=by or _user(),
                                alert_id=alert_id, duration=length, permanent=permanent, force=force)
    except LongerBlockKept as exc:
        responder.close()
        db.close()
        out.print(Text(safe(str(exc)), style="yellow"))  # still blocked, for longer: no error
        return
    except (BlockRefused, AddressError) as exc:
        responder.close()
        db.close()
        fail(f"not blocked: {exc}" + (" (add --force)" if isinstance(exc, WideBlockNeedsForce) else ""))
    responder.flush(60)
    with db.engine.connect() as conn:
        stored = get_block(conn, block.id) if block.id is not None else None
    _finish(db, responder)
    if stored is not None and stored.state == BlockState.FAILED:
        fail(f"block #{block.id} of {block.network} failed: {stored.detail}")
    until = block.expires.strftime("%Y-%m-%d %H:%M:%S UTC") if block.expires else "removed by hand"
    mode = "" if block.mode == "enforce" else "  [dry-run: recorded, firewall untouched; set [respond] mode = \"enforce\"]"
    out.print(Text(safe(f"block #{block.id}: {block.network} blocked until {until} ({block.backend}){mode}")))


@block_group.command("remove")
@click.argument("target", metavar="ADDRESS|NETWORK|ID")
@click.option("--by", "by", default=None, help="Who decides (default: cli:<login name>).")
@click.pass_obj
def remove(obj: Context, target: str, by: str | None) -> None:
    """Unblock: end the block with this id, or every active block covering this address or network."""
    from netwarden.networks import AddressError

    db, responder = _responder(obj)
    try:
        ended = responder.unblock(int(target) if target.isdigit() else target, by=by or _user())
    except AddressError as exc:
        responder.close()
        db.close()
        fail(str(exc))
    _finish(db, responder)
    if not ended:
        fail(f"no active block matches {target}")
    for b in ended:
        out.print(Text(safe(f"block #{b.id}: {b.network} unblocked")))


@block_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Ended blocks too (expired, removed, failed).")
@click.option("--state", type=click.Choice(["active", "expired", "removed", "failed", "refused"]))
@click.option("--refused", is_flag=True, help="Blocks the never-block list or the cap refused (same as --state refused).")
@click.option("--address", metavar="ADDR|NET", help="Blocks that cover or lie in this address/network.")
@click.option("--limit", "-n", type=click.IntRange(1, 100_000), help="At most N (default: 100; all with --csv).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@csv_options
@click.pass_obj
def list_command(obj: Context, show_all: bool, state: str | None, refused: bool, address: str | None,
                 limit: int | None, as_json: bool, as_csv: bool, bom: bool) -> None:
    """Blocks with reason, who, when and until when; active ones unless --all, --state or --refused."""
    from netwarden.store.blocks import BLOCK_COLUMNS, every_block, list_blocks

    if refused:
        if state not in (None, "refused"):
            raise click.UsageError("--refused and --state exclude each other")
        state = "refused"

    db, responder = _responder(obj)
    responder.close()
    wanted = state or (None if show_all else "active")
    try:
        with db.engine.connect() as conn:
            found = list_blocks(conn, state=wanted, address=address, limit=1 if as_csv else limit or 100)
        if as_csv:
            rows = (b.to_dict() for b in every_block(db.engine.connect, state=wanted, address=address))
            write_csv(BLOCK_COLUMNS, islice(rows, limit), bom=bom)
            db.close()
            return
    except ValueError as exc:
        db.close()
        raise click.BadParameter(str(exc), param_hint="--address") from None
    db.close()
    if answered_without_table(found, as_json, lambda b: b.to_dict(),
                              "no blocks" if show_all or state else "no active blocks (--all shows ended ones)"):
        return
    table = list_table("id", "network", "state", "mode", "created (UTC)", "expires (UTC)", "by", "alert",
                       text="reason")
    for b in found:
        until = "-" if b.state == "refused" else b.expires.strftime("%Y-%m-%d %H:%M:%S") if b.expires else "permanent"
        table.add_row(str(b.id), Text(safe(b.network)), str(b.state), b.mode, b.created.strftime("%Y-%m-%d %H:%M:%S"),
                      until, Text(safe(b.created_by)),
                      f"#{b.alert_id}" if b.alert_id else "-",
                      Text(safe(b.reason + (f" [{b.detail}]" if b.detail else ""))))
    out.print(table)


@block_group.command("sync")
@click.pass_obj
def sync(obj: Context) -> None:
    """Bring the firewall in line with the record: expire what ran out, re-apply active blocks, remove strays."""
    db, responder = _responder(obj)
    responder.reconcile()
    active = len(responder._active)
    _finish(db, responder)
    out.print(f"{active} active block{'s' if active != 1 else ''}"
              + ("" if obj.settings.respond.mode == "enforce" else " (dry-run: firewall untouched)"))
