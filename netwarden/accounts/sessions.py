"""Login sessions and API tokens, both stored only as SHA-256 digests of random secrets."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy import delete, insert, select, update

from netwarden.store.database import Database
from netwarden.store.schema_web import api_tokens, sessions, users

TOKEN_PREFIX = "nwt_"  # recognisable in a script or a leaked log


class SessionPolicy(Protocol):
    """How long a session lives ([web] settings)."""

    session_hours: float
    idle_minutes: float


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Session:
    id: int
    user_id: int
    user_name: str
    role: str
    csrf: str
    second_factor_pending: bool
    must_change: bool


def create_session(db: Database, user_id: int, address: str | None, web: SessionPolicy, *,
                   second_factor_pending: bool = False) -> str:
    """A new session; returns the secret for the cookie."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    with db.engine.begin() as conn:
        conn.execute(insert(sessions).values(
            token_hash=digest(token), user_id=user_id, csrf=secrets.token_urlsafe(32),
            second_factor_pending=second_factor_pending, created=now, last_seen=now,
            expires=now + timedelta(hours=web.session_hours), address=(address or "")[:45]))
        conn.execute(delete(sessions).where(sessions.c.expires < now))
    return token


def find_session(db: Database, token: str, web: SessionPolicy) -> Session | None:
    """The live session for a cookie value (sliding idle timeout), or None."""
    now = datetime.now(timezone.utc)
    s = sessions.c
    with db.engine.begin() as conn:
        row = conn.execute(select(s.id, s.user_id, s.csrf, s.second_factor_pending, s.last_seen, s.expires,
                                  users.c.name, users.c.role, users.c.must_change)
                           .join(users, users.c.id == s.user_id)
                           .where(s.token_hash == digest(token))).first()
        if row is None:
            return None
        if row.expires <= now or row.last_seen + timedelta(minutes=web.idle_minutes) <= now:
            conn.execute(delete(sessions).where(s.id == row.id))
            return None
        if now - row.last_seen > timedelta(seconds=30):  # not a write per request
            conn.execute(update(sessions).where(s.id == row.id).values(last_seen=now))
    return Session(row.id, row.user_id, row.name, row.role, row.csrf, bool(row.second_factor_pending),
                   bool(row.must_change))


def complete_second_factor(db: Database, session_id: int) -> str:
    """After the TOTP code: a new session secret (the half-logged-in one is dropped, no fixation)."""
    with db.engine.begin() as conn:
        row = conn.execute(select(sessions).where(sessions.c.id == session_id)).first()
        token = secrets.token_urlsafe(32)
        conn.execute(update(sessions).where(sessions.c.id == session_id).values(
            token_hash=digest(token), second_factor_pending=False, csrf=secrets.token_urlsafe(32)))
    assert row is not None
    return token


def end_session(db: Database, session_id: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.id == session_id))


# -- API tokens -------------------------------------------------------------------------------------

@dataclass
class TokenOwner:
    token_id: int
    user_id: int
    user_name: str
    role: str
    must_change: bool


def create_token(db: Database, user_id: int, name: str, *, days: float | None = None) -> tuple[int, str]:
    """A new API token; returns (id, secret). The secret is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    with db.engine.begin() as conn:
        token_id = conn.execute(insert(api_tokens).values(
            token_hash=digest(secret), prefix=secret[:12], user_id=user_id, name=name[:64], created=now,
            expires=now + timedelta(days=days) if days else None)).inserted_primary_key[0]
    return int(token_id), secret


def find_token(db: Database, secret: str) -> TokenOwner | None:
    now = datetime.now(timezone.utc)
    t = api_tokens.c
    with db.engine.begin() as conn:
        row = conn.execute(select(t.id, t.user_id, t.expires, t.last_used, users.c.name, users.c.role,
                                  users.c.must_change)
                           .join(users, users.c.id == t.user_id).where(t.token_hash == digest(secret))).first()
        if row is None or (row.expires is not None and row.expires <= now):
            return None
        if row.last_used is None or now - row.last_used > timedelta(minutes=1):
            conn.execute(update(api_tokens).where(t.id == row.id).values(last_used=now))
    return TokenOwner(row.id, row.user_id, row.name, row.role, bool(row.must_change))


def list_tokens(db: Database, user_id: int | None = None) -> list[dict]:
    """Tokens (never their secrets) of one user, or of everyone."""
    t = api_tokens.c
    stmt = select(t.id, t.name, t.prefix, t.created, t.last_used, t.expires, users.c.name.label("user")) \
        .join(users, users.c.id == t.user_id).order_by(t.id)
    if user_id is not None:
        stmt = stmt.where(t.user_id == user_id)
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def revoke_token(db: Database, token_id: int, user_id: int | None = None) -> bool:
    """Delete a token (only that user's, when user_id is given); True if one was deleted."""
    stmt = delete(api_tokens).where(api_tokens.c.id == token_id)
    if user_id is not None:
        stmt = stmt.where(api_tokens.c.user_id == user_id)
    with db.engine.begin() as conn:
        return bool(conn.execute(stmt).rowcount)
