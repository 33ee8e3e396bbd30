"""Web application tables: users, sessions, API tokens, failed logins (netwarden.web).

Imported at the end of netwarden.store.schema, so these tables are part of ``metadata``; a change here needs
its Alembic migration too. Session and API tokens are stored as SHA-256 digests only: a copy of the database
does not let anyone in.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, String, Table, Text

from netwarden.store.schema import Id, UtcDateTime, metadata

users = Table(
    "users", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),  # argon2id
    Column("role", String(16), nullable=False),  # admin, analyst, viewer
    Column("totp_secret", String(64)),  # base32; set once enrolment is confirmed
    Column("must_change", Boolean, nullable=False, default=False),  # one-time password given out
    Column("created", UtcDateTime, nullable=False),
    Column("last_login", UtcDateTime),
)

sessions = Table(
    "sessions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("second_factor_pending", Boolean, nullable=False, default=False),  # password right, TOTP not yet
    Column("created", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime, nullable=False),
    Column("address", String(45)),
    Index(None, "user_id"),
    Index(None, "expires"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),  # the first characters, to recognise a token in a list
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("last_used", UtcDateTime),
    Column("expires", UtcDateTime),
    Index(None, "user_id"),
)

# one row per failed login; counted per user name and per address over a sliding window (lockout)
login_failures = Table(
    "login_failures", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_name", String(64), nullable=False),
    Column("address", String(45), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "user_name", "at"),
    Index(None, "address", "at"),
)

# settings changed in the web app (applied live over the file's): one row per change, the audit trail; the
# newest row of a key is its value (``value`` NULL: back to the file's)
setting_changes = Table(
    "setting_changes", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False),  # "respond.threshold"
    Column("old", Text),  # JSON
    Column("value", Text),  # JSON; NULL: the file's value again
    Column("changed_by", String(64), nullable=False),
    Column("changed", UtcDateTime, nullable=False),
    Index(None, "key", "id"),
)

# each user's checks (the Check page): what was asked and the verdict, newest kept per user
check_history = Table(
    "check_history", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_name", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("input", Text, nullable=False),  # JSON: {"connection": {...}} or {"line": ..., "format": ...}
    Column("verdict", String(32), nullable=False),
    Column("severity", String(16)),
    Column("score", Float, nullable=False),
    Index(None, "user_name", "id"),
)
