"""Users: argon2 passwords, roles, TOTP, the first admin, and lockout after failed logins.

Shared by the web application (login, account and settings pages) and ``netwarden user``:

>>> add_user(db, "alice", "a long passphrase", "analyst")   # doctest: +SKIP
>>> check_login(db, "alice", "a long passphrase", "192.0.2.1", settings.web)   # doctest: +SKIP

A change here is stored at once; the web application checks its callers again after any request that
changes something, and another process's change (this CLI) applies there within a few seconds.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Protocol

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update

from sqlalchemy.engine import Connection, Row

from netwarden.store.database import Database
from netwarden.store.schema_web import login_failures, sessions, users

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# checked against when the user does not exist, so that a wrong name costs as much time as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
NAME_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 10
ISSUER = "NetWarden"


class LockoutPolicy(Protocol):
    """How many failed logins lock a user name or an address out, and for how long ([web] settings)."""

    lockout_minutes: float
    lockout_failures: int
    lockout_address_failures: int


class Role(IntEnum):
    """Ordered: a role may do everything the ones below it may."""

    VIEWER = 1  # reads everything
    ANALYST = 2  # also changes alerts, sends events
    ADMIN = 3  # also users, tokens, settings

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.upper()]
        except KeyError:
            raise AccountError(f"unknown role {value!r}: use admin, analyst or viewer") from None

    def __str__(self) -> str:
        return self.name.lower()


class AccountError(ValueError):
    """A request about users that cannot be done; the message says why."""


@dataclass
class User:
    id: int
    name: str
    role: Role
    must_change: bool
    totp: bool
    created: datetime
    last_login: datetime | None

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": str(self.role), "must_change": self.must_change,
                "totp": self.totp, "created": self.created, "last_login": self.last_login}


def _user(row: Row) -> User:
    return User(row.id, row.name, Role.parse(row.role), bool(row.must_change), bool(row.totp_secret),
                row.created, row.last_login)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("the password is too long (1024 characters at most)")


def check_name(name: str) -> None:
    if not NAME_SHAPE.fullmatch(name):
        raise AccountError("a user name is 1-64 letters, digits and . _ @ - (starting with a letter or digit)")


def add_user(db: Database, name: str, password: str, role: str | Role, *, must_change: bool = False) -> User:
    check_name(name)
    check_password_rules(password)
    role = role if isinstance(role, Role) else Role.parse(role)
    with db.engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first():
            raise AccountError(f"user {name!r} already exists")
        conn.execute(insert(users).values(name=name, password_hash=_hasher.hash(password), role=str(role),
                                          must_change=must_change, created=datetime.now(timezone.utc)))
    found = get_user(db, name)
    assert found is not None
    return found


def get_user(db: Database, name: str | None = None, *, user_id: int | None = None) -> User | None:
    where = users.c.name == name if user_id is None else users.c.id == user_id
    with db.engine.connect() as conn:
        row = conn.execute(select(users).where(where)).first()
    return _user(row) if row else None


def list_users(db: Database) -> list[User]:
    with db.engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]


def count_users(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def set_password(db: Database, name: str, password: str, *, must_change: bool = False) -> None:
    check_password_rules(password)
    with db.engine.begin() as conn:
        done = conn.execute(update(users).where(users.c.name == name).values(
            password_hash=_hasher.hash(password), must_change=must_change)).rowcount
        if not done:
            raise AccountError(f"no user {name!r}")
        # a new password ends every session of that user: whoever knew the old one is out
        user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar_one()
        conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def set_role(db: Database, name: str, role: str | Role) -> None:
    role = role if isinstance(role, Role) else Role.parse(role)
    with db.engine.begin() as conn:
        current = conn.execute(select(users.c.role).where(users.c.name == name)).first()
        if current is None:
            raise AccountError(f"no user {name!r}")
        if current.role == "admin" and role != Role.ADMIN and _admins(conn) <= 1:
            raise AccountError("this is the last admin; make another user admin first")
        conn.execute(update(users).where(users.c.name == name).values(role=str(role)))


def remove_user(db: Database, name: str) -> None:
    with db.engine.begin() as conn:
        current = conn.execute(select(users.c.role).where(users.c.name == name)).first()
        if current is None:
            raise AccountError(f"no user {name!r}")
        if current.role == "admin" and _admins(conn) <= 1:
            raise AccountError("this is the last admin; make another user admin first")
        conn.execute(delete(users).where(users.c.name == name))  # sessions and tokens go with it (cascade)


def _admins(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users).where(users.c.role == "admin")).scalar_one())


def ensure_first_admin(db: Database, name: str = "admin") -> str | None:
    """With no user at all, create ``admin`` with a random one-time password (returned, to be printed once;
    it must be changed at first login). Returns None when users exist."""
    if count_users(db):
        return None
    password = secrets.token_urlsafe(12)
    add_user(db, name, password, Role.ADMIN, must_change=True)
    return password


# -- TOTP -------------------------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def verify_totp(secret: str, code: str) -> bool:
    code = code.strip().replace(" ", "")
    return bool(code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1))


def set_totp(db: Database, user_id: int, secret: str | None) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(totp_secret=secret))


def totp_secret(db: Database, user_id: int) -> str | None:
    with db.engine.connect() as conn:
        return conn.execute(select(users.c.totp_secret).where(users.c.id == user_id)).scalar_one_or_none()


# -- logging in ---------------------------------------------------------------------------------------

_RESERVE = threading.Lock()  # one web process checks and reserves one login attempt at a time (a few ms)


class LockedOut(AccountError):
    """Too many failed logins for this user name or from this address; try again later."""


def check_login(db: Database, name: str, password: str, address: str, web: LockoutPolicy) -> User | None:
    """The user if the password is right; None if not (and the failure is counted). Raises LockedOut while
    the user name or the address has too many recent failures — even for a right password, so that guessing
    on gains nothing.

    Each attempt first reserves its place as a failure (count and insert under one lock), then checks the
    password, and removes the reservation if it was right: so concurrent guesses cannot all pass the count
    before any of them is recorded (60 at once got 16 password checks against a limit of 5)."""
    now = datetime.now(timezone.utc)
    since = now - timedelta(minutes=web.lockout_minutes)
    name = name[:64]
    address = address[:45]
    fails = login_failures.c
    with _RESERVE, db.engine.begin() as conn:
        by_user = conn.execute(select(func.count()).select_from(login_failures).where(
            fails.user_name == name, fails.at >= since)).scalar_one()
        by_address = conn.execute(select(func.count()).select_from(login_failures).where(
            fails.address == address, fails.at >= since)).scalar_one()
        if by_user >= web.lockout_failures or by_address >= web.lockout_address_failures:
            raise LockedOut(f"too many failed logins; try again in {web.lockout_minutes:g} minutes")
        reserved = conn.execute(insert(login_failures).values(user_name=name, address=address, at=now)) \
            .inserted_primary_key[0]
    with db.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        ok = row is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        return None  # the reservation stays: it is the failure
    with db.engine.begin() as conn:
        conn.execute(delete(login_failures).where(fails.user_name == name, fails.id <= reserved))
        conn.execute(delete(login_failures).where(fails.at < now - timedelta(days=1)))  # keep the table small
        values: dict = {"last_login": now}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = _hasher.hash(password)
        conn.execute(update(users).where(users.c.id == row.id).values(**values))
    return _user(row)


def locked_out(db: Database, name: str, web: LockoutPolicy) -> bool:
    """Whether the user name has too many recent failures (logins or second factors) to try again now."""
    since = datetime.now(timezone.utc) - timedelta(minutes=web.lockout_minutes)
    with db.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(login_failures).where(
            login_failures.c.user_name == name[:64], login_failures.c.at >= since)).scalar_one()
    return int(count) >= web.lockout_failures


def verify_password(db: Database, user_id: int, password: str) -> bool:
    with db.engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar_one_or_none()
    try:
        return stored is not None and _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def record_failure(db: Database, name: str, address: str) -> None:
    """A failed second factor counts like a failed password (so codes cannot be guessed either)."""
    with db.engine.begin() as conn:
        conn.execute(insert(login_failures).values(user_name=name[:64], address=address[:45],
                                                   at=datetime.now(timezone.utc)))
