"""``netwarden user add|passwd|list|remove``: the web application's users."""

from __future__ import annotations

import click

from netwarden.cli import cli


@cli.group()
def user() -> None:
    """Manage the users of the web application (roles: admin, analyst, viewer)."""


def _password(prompt: bool, given: str | None) -> str:
    if given:
        return given
    return click.prompt("Password", hide_input=True, confirmation_prompt=True) if prompt else ""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "analyst", "viewer"]), default="viewer", show_default=True)
@click.option("--password", "password_stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--one-time", is_flag=True, help="Generate a one-time password (printed) that must be changed at first login.")
@click.pass_obj
def user_add(obj, name, role, password_stdin, one_time) -> None:  # type: ignore[no-untyped-def]
    """Add a user; asks for the password unless --one-time or --password (stdin)."""
    import secrets
    import sys

    from netwarden.cli import fail, out, safe
    from netwarden.accounts.users import AccountError, add_user

    db = obj.database()
    try:
        if one_time:
            password = secrets.token_urlsafe(12)
        elif password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = _password(True, None)
        add_user(db, name, password, role, must_change=one_time)
    except AccountError as exc:
        fail(str(exc), 2)
    finally:
        db.close()
    out.print(f"added {safe(name)} ({role})")
    if one_time:
        out.print(f"one-time password: {password}")


@user.command("passwd")
@click.argument("name")
@click.option("--password", "password_stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--one-time", is_flag=True, help="Generate a one-time password that must be changed at next login.")
@click.pass_obj
def user_passwd(obj, name, password_stdin, one_time) -> None:  # type: ignore[no-untyped-def]
    """Set a user's password (their sessions end)."""
    import secrets
    import sys

    from netwarden.cli import fail, out, safe
    from netwarden.accounts.users import AccountError, set_password

    db = obj.database()
    try:
        if one_time:
            password = secrets.token_urlsafe(12)
        elif password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = _password(True, None)
        set_password(db, name, password, must_change=one_time)
    except AccountError as exc:
        fail(str(exc), 2)
    finally:
        db.close()
    out.print(f"password of {safe(name)} changed")
    if one_time:
        out.print(f"one-time password: {password}")


@user.command("list")
@click.pass_obj
def user_list(obj) -> None:  # type: ignore[no-untyped-def]
    """List users with their role, second factor and last login."""
    from netwarden.cli import out, plain_table, safe
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
def user_remove(obj, name) -> None:  # type: ignore[no-untyped-def]
    """Remove a user (with their sessions and API tokens). The last admin cannot be removed."""
    from netwarden.cli import fail, out, safe
    from netwarden.accounts.users import AccountError, remove_user

    db = obj.database()
    try:
        remove_user(db, name)
    except AccountError as exc:
        fail(str(exc), 2)
    finally:
        db.close()
    out.print(f"removed {safe(name)}")
