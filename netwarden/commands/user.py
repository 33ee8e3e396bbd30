"""``netwarden user add|passwd|list|remove``: the web application's users."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.terminal import fail, out, plain_table, safe

if TYPE_CHECKING:
    from netwarden.store.database import Database


@click.group()
def user() -> None:
    """Manage the users of the web application (roles: admin, analyst, viewer)."""


def _new_password(one_time: bool, from_stdin: bool) -> str:
    """A generated one-time password, one line of standard input, or asked for twice on the terminal."""
    if one_time:
        return secrets.token_urlsafe(12)
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _change(obj: Context, change: Callable[[Database], object]) -> None:
    """One change to the users; a refused one (unknown user, the last admin, a weak password) exits with 2."""
    from netwarden.accounts.users import AccountError

    db = obj.database()
    try:
        change(db)
    except AccountError as exc:
        fail(str(exc), 2)
    finally:
        db.close()


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "analyst", "viewer"]), default="viewer", show_default=True)
@click.option("--password", "password_stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--one-time", is_flag=True, help="Generate a one-time password (printed) that must be changed at first login.")
@click.pass_obj
def user_add(obj: Context, name: str, role: str, password_stdin: bool, one_time: bool) -> None:
    """Add a user; asks for the password unless --one-time or --password (stdin)."""
    from netwarden.accounts.users import add_user

    password = _new_password(one_time, password_stdin)
    _change(obj, lambda db: add_user(db, name, password, role, must_change=one_time))
    out.print(f"added {safe(name)} ({role})")
    if one_time:
        out.print(f"one-time password: {password}")


@user.command("passwd")
@click.argument("name")
@click.option("--password", "password_stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--one-time", is_flag=True, help="Generate a one-time password that must be changed at next login.")
@click.pass_obj
def user_passwd(obj: Context, name: str, password_stdin: bool, one_time: bool) -> None:
    """Set a user's password (their sessions end)."""
    from netwarden.accounts.users import set_password

    password = _new_password(one_time, password_stdin)
    _change(obj, lambda db: set_password(db, name, password, must_change=one_time))
    out.print(f"password of {safe(name)} changed")
    if one_time:
        out.print(f"one-time password: {password}")


@user.command("list")
@click.pass_obj
def user_list(obj: Context) -> None:
    """List users with their role, second factor and last login."""
    from netwarden.accounts.users import list_users

    db = obj.database()
    try:
        users = list_users(db)
    finally:
        db.close()
    table = plain_table("user", "role", "2FA", "last login", "note")
    for u in users:
        table.add_row(safe(u.name), str(u.role), "on" if u.totp else "off",
                      u.last_login.strftime("%Y-%m-%d %H:%M") if u.last_login else "never",
                      "must change password" if u.must_change else "")
    out.print(table)


@user.command("remove")
@click.argument("name")
@click.pass_obj
def user_remove(obj: Context, name: str) -> None:
    """Remove a user (with their sessions and API tokens). The last admin cannot be removed."""
    from netwarden.accounts.users import remove_user

    _change(obj, lambda db: remove_user(db, name))
    out.print(f"removed {safe(name)}")
